# Side features of drawings (see `features` in train_generator()): the country code (one-hot over
# the codes of the `doodles` table), `recognized`, the number of strokes and numeric columns. One
# place computes them for every road: rows come from a table (SQL, the source columns only) or
# from a data frame, and feature_values() derives the features from those columns alike.

# The features computed from a column rather than read as they are, by the column they need.
derived_features <- c(recognized = "recognized", n_strokes = "drawing")

# The features asked for, checked against the table's columns (`table = NULL`: a data frame,
# checked when its rows come): `names`, the numeric features in order (`numeric`), the columns to
# read for them (`columns`), the country codes (`countries`) and the width of the feature matrix.
resolve_features <- function(con, features, table = "doodles") {
  if (is.null(features)) return(NULL)
  assert_character(features, min.len = 1, any.missing = FALSE, unique = TRUE)
  present <- if (is.null(table)) NULL else DBI::dbListFields(con, table)
  numeric <- setdiff(features, "countrycode")
  derived <- numeric %in% names(derived_features)
  # The column each numeric feature is read from.
  sources <- ifelse(derived, derived_features[numeric], numeric)
  for (i in seq_along(numeric)) {
    if (!is.null(table) && !sources[[i]] %in% present) {
      abort_doodles(if (derived[[i]]) {
        sprintf("Feature '%s' needs column '%s', which table %s lacks.", numeric[[i]], sources[[i]],
                table)
      } else {
        sprintf("Feature '%s' is neither %s nor a column of table %s.", numeric[[i]],
                paste(c("countrycode", names(derived_features)), collapse = ", "), table)
      }, kind = "argument")
    }
  }
  columns <- unique(c(if ("countrycode" %in% features) "countrycode", unname(sources)))
  countries <- if ("countrycode" %in% features) {
    codes <- DBI::dbGetQuery(con, paste("SELECT DISTINCT countrycode FROM doodles",
                                        "WHERE countrycode IS NOT NULL"))$countrycode
    sort(codes[nzchar(codes)], method = "radix")
  }
  list(names = features, numeric = numeric, columns = columns, countries = countries,
       width = length(numeric) + length(countries))
}

# The source columns of rows `ids` of `table`, in the order of `ids`, with the features computed
# (feature_values()): by their ids (a batch's), or with `scan` from one scan of the table (a
# generator's whole set, read once for its producer).
feature_rows <- function(con, table, ids, spec, scan = FALSE) {
  select <- paste(DBI::dbQuoteIdentifier(con, c("id", spec$columns)), collapse = ", ")
  quoted_table <- DBI::dbQuoteIdentifier(con, table)
  rows <- if (scan) {
    DBI::dbGetQuery(con, sprintf("SELECT %s FROM %s", select, quoted_table))
  } else {
    DBI::dbGetQuery(con, sprintf("SELECT %s FROM %s WHERE id IN (%s)", select, quoted_table,
                                 paste(rep("?", length(ids)), collapse = ", ")),
                    params = as.list(ids))
  }
  feature_values(rows[match(ids, rows$id), , drop = FALSE], spec)
}

# `rows` (of a table or a data frame of drawings) with a column per numeric feature: the strokes
# counted by the Rust parser, `recognized` as 0/1, other columns as they are.
feature_values <- function(rows, spec) {
  for (name in spec$numeric) {
    rows[[name]] <- switch(name,
      n_strokes = stroke_counts(rows$drawing),
      recognized = as.numeric(as.logical(rows$recognized)),
      rows[[name]]
    )
  }
  rows
}

# The number of strokes of each drawing, as the rasterizer parses them.
stroke_counts <- function(drawings) {
  raster_stroke_counts(as.character(drawings))
}

# The feature matrix of `rows` (from feature_values()): the numeric features, then the one-hot
# country code; missing values 0.
feature_matrix <- function(rows, spec) {
  numeric_part <- vapply(spec$numeric, function(name) as.numeric(rows[[name]]),
                         numeric(nrow(rows)))
  numeric_part <- matrix(numeric_part, nrow = nrow(rows))
  country_part <- if (!is.null(spec$countries)) {
    index <- match(rows$countrycode, spec$countries)
    m <- matrix(0, nrow(rows), length(spec$countries))
    m[cbind(which(!is.na(index)), index[!is.na(index)])] <- 1
    m
  }
  out <- cbind(numeric_part, country_part)
  out[is.na(out)] <- 0
  out
}

# The side features of a producer's drawings (`spec` from resolve_features()), read once:
# `read_rows(spec)` gives the rows of the drawings, in order, with the features `spec` asks for
# (feature_rows() or feature_values()). The producer counts `n_strokes` itself from each drawing it
# renders, so it is not asked of `read_rows` (nor are the drawings read for it), and nothing is
# read when no other feature needs a column. Returns the numeric features as a matrix,
# `stroke_count_at` (the 0-based column of `n_strokes` among them) and the country code as the
# 0-based position in `spec$countries` (-1: none).
producer_features <- function(spec, read_rows) {
  if (is.null(spec)) return(list(numeric = NULL, categories = NULL, levels = 0L))
  read <- setdiff(spec$numeric, "n_strokes")
  read_spec <- utils::modifyList(spec, list(
    numeric = read, columns = setdiff(spec$columns, derived_features[["n_strokes"]])
  ))
  rows <- if (length(read_spec$columns)) read_rows(read_spec)
  numeric <- if (length(read)) {
    out <- feature_matrix(rows, utils::modifyList(read_spec, list(countries = NULL)))
    storage.mode(out) <- "double"
    out
  }
  stroke_count_at <- match("n_strokes", spec$numeric) - 1L
  categories <- if (!is.null(spec$countries)) {
    code <- match(rows$countrycode, spec$countries) - 1L
    code[is.na(code)] <- -1L
    as.integer(code)
  }
  list(numeric = numeric, categories = categories, levels = length(spec$countries),
       stroke_count_at = if (!is.na(stroke_count_at)) stroke_count_at)
}
