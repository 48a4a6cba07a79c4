#' Synthetic doodles in the Kaggle layout
#'
#' Writes `n` training drawings in `classes` classes into `dir/train_simplified.zip` (one
#' `<word>.csv` per class, with Kaggle's header and formats), `n_test` test drawings into
#' `dir/test_simplified.csv`, and their classes into `dir/test_answers.csv` (`key_id,word`, spaces
#' in words as `_`). Each class is a simple shape (circle, triangle, square, star, plus, cross,
#' zigzag, spiral, stripes, bars, house, arrow, hourglass, wave) drawn with random size,
#' rotation, position and point jitter, so a model learns them quickly; classes beyond these 14
#' add short tick marks around a shape (words like `"circle 2"`). The same `seed` gives the same
#' files. For scale tests and benchmarks, not for claims about real drawings.
#'
#' Such drawings are smaller than real ones (about 4 strokes and 26 points, against 5 and 43 in
#' the shipped sample). With `like`, each drawing instead has the strokes and points per stroke of
#' one of the drawings of `like`, chosen at random, its points spread along its class's shape: the
#' sizes of the data (JSON, database, stroke index) are then those of the real data.
#'
#' @param dir Folder to write into (created if missing).
#' @param n Training drawings, spread evenly over the classes.
#' @param classes Number of classes.
#' @param n_test Test drawings (classes in turn, so balanced).
#' @param seed Random seed.
#' @param like `NULL`, or drawings (stroke JSON, e.g. the `drawing` column of real data) whose
#'   numbers of strokes and points the synthetic drawings copy.
#' @return A named list of the three paths (`train`, `test`, `answers`), invisibly.
#' @examples
#' files <- make_synthetic_doodles(tempfile(), n = 200, classes = 4, n_test = 20)
#' con <- DBI::dbConnect(doodles_duckdb())
#' load_doodles(con, files$train)
#' DBI::dbGetQuery(con, "SELECT word, count(*) AS n FROM doodles GROUP BY word ORDER BY word")
#' DBI::dbDisconnect(con)
#'
#' # Drawings the size of real ones:
#' real <- utils::read.csv(system.file("extdata", "test_simplified.csv", package = "doodles"))
#' files <- make_synthetic_doodles(tempfile(), n = 200, classes = 4, n_test = 0, like = real$drawing)
#' @export
make_synthetic_doodles <- function(dir, n = 10000, classes = 10, n_test = 1000, seed = 1, like = NULL) {
  assert_string(dir)
  assert_count(n)
  assert_count(classes, positive = TRUE)
  assert_count(n_test)
  assert_count(seed)
  assert_character(like, any.missing = FALSE, min.len = 1, null.ok = TRUE)
  files <- store_make_synthetic(path.expand(dir), n, as.integer(classes), n_test, seed, as.character(like))
  invisible(files)
}
