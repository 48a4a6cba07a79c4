# Batch readers: the two sources of drawings by id behind one interface, the Rust store of a
# doodles connection (its stroke index, rendering ahead) and any other DBI connection (SQL, then
# draw_doodles()).

# How a generator reads batches: `read(ids, upcoming, flip, upcoming_flip)` returns list(x,
# label_int) for `ids` in their order, the drawings whose `flip` is TRUE mirrored (NULL: none,
# beyond `mirror` of the drawing options); `upcoming` (the ids of the next batch, or NULL) may be
# prepared in the background when `prefetches`. `draw_options` are the options of draw_doodles()
# and doodle_batch() beyond scale, colour and threads (their `format` and `imagenet_preproc`
# among them).
batch_reader <- function(con, table, scale, color, threads, prefetch, labels, draw_options) {
  # doodle_batch() reads the doodles table only; the test table goes through SQL.
  if (table == "doodles" && is_doodles_connection(con)) {
    return(doodles_batch_reader(con, scale, color, threads, prefetch, draw_options))
  }
  sql_batch_reader(con, table, scale, color, threads, labels, draw_options)
}

# Ids go to Rust, which reads the drawings from DuckDB and draws them: no drawing string passes
# through R. With `prefetch`, the next batch is drawn by Rust worker threads meanwhile.
# doodle_batch()'s road, with mirror flags per drawing (its options were checked when the
# generator drew its first image, see image_shape()).
doodles_batch_reader <- function(con, scale, color, threads, prefetch, draw_options) {
  options <- utils::modifyList(
    list(line_width = 3, antialias = FALSE, encoding = if (color) "hue" else "gray",
         mirror = FALSE, format = "array", imagenet_preproc = FALSE),
    draw_options
  )
  flags <- function(flip) if (is.null(flip)) options$mirror else flip
  list(
    prefetches = prefetch,
    read = function(ids, upcoming, flip = NULL, upcoming_flip = NULL) {
      check_store_connection(con)
      batch <- store_batch(con@ptr, ids, scale, options$encoding, options$line_width,
                           options$antialias, upcoming, as.integer(threads), options$format,
                           options$imagenet_preproc, mirror = flags(flip),
                           next_mirror = flags(upcoming_flip))
      list(x = batch_in_format(batch$x, options$format, options$imagenet_preproc),
           label_int = batch$y)
    }
  )
}

is_doodles_connection <- function(con) {
  methods::is(con, "doodles_duckdb_connection")
}

sql_batch_reader <- function(con, table, scale, color, threads, labels, draw_options) {
  columns <- if (labels) "id, drawing, label_int" else "id, drawing"
  statements <- list()
  list(
    prefetches = FALSE,
    read = function(ids, upcoming, flip = NULL, upcoming_flip = NULL) {
      n <- as.character(length(ids))
      if (is.null(statements[[n]])) {
        statements[[n]] <<- sprintf("SELECT %s FROM %s WHERE id IN (%s)", columns,
                                    DBI::dbQuoteIdentifier(con, table),
                                    paste(rep("?", length(ids)), collapse = ", "))
      }
      rows <- DBI::dbGetQuery(con, statements[[n]], params = as.list(ids))
      rows <- rows[match(ids, rows$id), , drop = FALSE]
      if (anyNA(rows$id)) {
        missing <- ids[is.na(rows$id)]
        abort_doodles(sprintf("%d ids are not in table %s (first: %d).", length(missing), table,
                              missing[[1]]), kind = "argument", id = missing[[1]])
      }
      options <- draw_options
      if (!is.null(flip)) options$mirror <- flip
      list(x = draw(rows$drawing, scale, color, threads, options),
           label_int = if (labels) as.integer(rows$label_int))
    }
  )
}
