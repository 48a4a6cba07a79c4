# Fixtures for the generator, Keras and prediction tests: the real sample (inst/extdata) read into
# data frames and an RSQLite database, and a check that Python Keras can be used.

skip_if_no_keras <- function() {
  ok <- doodles::keras_available()
  if (!isTRUE(ok)) {
    testthat::skip(paste("Python Keras is missing (make test installs it):", attr(ok, "reason")))
  }
}

sample_file <- function(name) system.file("extdata", name, package = "doodles", mustWork = TRUE)

fixture_cache <- new.env(parent = emptyenv())

# The real training sample as the doodles table: one CSV per class inside the zip; label_int is
# the 0-based rank of the word in byte order and id follows (word, key_id).
sample_train <- function() {
  if (is.null(fixture_cache$train)) {
    dir <- tempfile("train")
    files <- utils::unzip(sample_file("train_simplified.zip"), exdir = dir)
    rows <- do.call(rbind, lapply(files, utils::read.csv, colClasses = c(
      countrycode = "character", drawing = "character", key_id = "character",
      recognized = "logical", timestamp = "character", word = "character")))
    unlink(dir, recursive = TRUE)
    words <- sort(unique(rows$word), method = "radix")
    rows$label_int <- match(rows$word, words) - 1L
    rows <- rows[order(rows$label_int, rows$key_id, method = "radix"), ]
    rows$id <- seq_len(nrow(rows))
    rownames(rows) <- NULL
    fixture_cache$train <- rows
    fixture_cache$words <- words
  }
  fixture_cache$train
}

sample_test <- function() {
  if (is.null(fixture_cache$test)) {
    rows <- utils::read.csv(sample_file("test_simplified.csv"),
                            colClasses = c(key_id = "character", countrycode = "character",
                                           drawing = "character"))
    rows$id <- seq_len(nrow(rows))
    fixture_cache$test <- rows
  }
  fixture_cache$test
}

# An RSQLite database with the doodles, labels and test tables of the real sample (or the given
# doodles rows), closed when the calling test ends.
sample_sqlite <- function(doodles = sample_train(), env = parent.frame()) {
  con <- DBI::dbConnect(RSQLite::SQLite(), ":memory:")
  withr::defer(DBI::dbDisconnect(con), envir = env)
  DBI::dbWriteTable(con, "doodles", doodles)
  words <- sort(unique(doodles$word), method = "radix")
  DBI::dbWriteTable(con, "labels", data.frame(label_int = seq_along(words) - 1L, word = words))
  DBI::dbWriteTable(con, "test", sample_test())
  con
}

# n drawings of the sample, each its own class (label_int = id - 1), so that a batch's one-hot
# rows tell which ids it holds.
one_class_per_row <- function(n) {
  rows <- sample_train()[seq_len(n), ]
  rows$label_int <- rows$id - 1L
  rows$word <- sprintf("class %03d", rows$id)
  rows
}

batch_ids <- function(batch) max.col(batch[[2]], ties.method = "first")

# Drawings of four shapes anyone tells apart (horizontal bar, vertical bar, cross, square), with
# random position and size, in the Quick, Draw! JSON format: a learnable task for a quick test.
shape_drawings <- function(n, seed) {
  withr::with_seed(seed, {
    label <- sample(0:3, n, replace = TRUE)
    drawing <- vapply(label, function(k) {
      center <- sample(70:185, 2)
      half <- sample(40:65, 1)
      lo <- center - half
      hi <- center + half
      strokes <- switch(k + 1,
        list(list(c(lo[1], hi[1]), c(center[2], center[2]))),
        list(list(c(center[1], center[1]), c(lo[2], hi[2]))),
        list(list(c(lo[1], hi[1]), c(lo[2], hi[2])), list(c(lo[1], hi[1]), c(hi[2], lo[2]))),
        list(list(c(lo[1], hi[1], hi[1], lo[1], lo[1]), c(lo[2], lo[2], hi[2], hi[2], lo[2])))
      )
      paste0("[", paste(vapply(strokes, function(s) {
        sprintf("[[%s],[%s]]", paste(s[[1]], collapse = ","), paste(s[[2]], collapse = ","))
      }, ""), collapse = ","), "]")
    }, "")
  })
  words <- c("bar", "column", "cross", "square") # in byte order, as labels are
  data.frame(id = seq_len(n), drawing = drawing, label_int = label, word = words[label + 1],
             countrycode = "US", recognized = TRUE, key_id = sprintf("%.0f", 1e15 + seq_len(n)))
}

# A doodles database (in memory, or the file `dbdir`; closed when the calling test ends) of
# `shapes` (see shape_drawings()), loaded as Kaggle's files are: one CSV per word.
shapes_store <- function(shapes, dbdir = ":memory:", env = parent.frame()) {
  dir <- withr::local_tempdir(.local_envir = env)
  for (word in unique(shapes$word)) {
    rows <- shapes[shapes$word == word, ]
    utils::write.csv(data.frame(countrycode = rows$countrycode, drawing = rows$drawing,
                                key_id = rows$key_id, recognized = "True",
                                timestamp = "2017-03-01 10:00:00", word = word),
                     file.path(dir, paste0(word, ".csv")), row.names = FALSE)
  }
  con <- DBI::dbConnect(doodles_duckdb(), dbdir = dbdir)
  withr::defer(if (DBI::dbIsValid(con)) DBI::dbDisconnect(con), envir = env)
  load_doodles(con, dir, progress = FALSE)
  con
}

# For a child R process: a doodles database file of 640 shapes and a CSV of 200 more (with their
# label_int), in a folder removed when the calling test ends.
shapes_files <- function(train_seed, test_seed, env = parent.frame()) {
  dir <- withr::local_tempdir(.local_envir = env)
  dbdir <- file.path(dir, "shapes.duckdb")
  DBI::dbDisconnect(shapes_store(shape_drawings(640, seed = train_seed), dbdir = dbdir))
  test_csv <- file.path(dir, "test.csv")
  utils::write.csv(shape_drawings(200, seed = test_seed), test_csv, row.names = FALSE)
  list(dbdir = dbdir, test_csv = test_csv)
}
