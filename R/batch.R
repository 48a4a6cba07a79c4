# Random batches from the store: ids in, images and labels out, in one Rust call.

#' A batch of images and labels by id
#'
#' Renders the drawings with ids `ids` (table `doodles`, read through the stroke index; see
#' [index_doodles()]) into a 4-D array, as [draw_doodles()] would, in one call: no drawing passes
#' through R. With `next_ids`, the batch after this one starts rendering in the background; the
#' next call with exactly those ids (and the same options) returns it without waiting for the
#' drawing. A training loop calls `doodle_batch(con, ids_k, ..., next_ids = ids_k_plus_1)`.
#'
#' @inheritParams load_doodles
#' @param ids Ids of `doodles` (whole numbers in 1..N).
#' @param scale Image side `round(256 * scale)` pixels.
#' @param color `TRUE` for 3 channels (a hue per stroke), `FALSE` for gray.
#' @param line_width Line width, as OpenCV's thickness on the 256-pixel canvas (see [draw_doodles()]).
#' @param antialias Antialiased lines.
#' @param encoding Channel encoding (see [draw_doodles()]); by default set by `color`.
#' @param next_ids Ids of the next batch to render in the background, or `NULL`.
#' @param threads Rendering threads.
#' @param mirror `TRUE` to draw every drawing mirrored left to right (within its own extent, see
#'   [draw_doodles()]), or one `TRUE`/`FALSE` per id; the background batch of `next_ids` is
#'   drawn as `mirror` says when it is one value, else plain.
#' @inheritParams draw_doodles
#' @return `list(x, y)`: `x` an array `(length(ids), side, side, channels)` of values in \[0, 1\]
#'   (a numpy array for the Keras formats, see `format`), `y` the integer `label_int` of each id.
#' @examples
#' con <- DBI::dbConnect(doodles_duckdb())
#' load_doodles(con, system.file("extdata", "train_simplified.zip", package = "doodles"))
#' batch <- doodle_batch(con, c(5, 1, 42), scale = 0.25)
#' dim(batch$x)
#' batch$y
#' DBI::dbDisconnect(con)
#' @export
doodle_batch <- function(con, ids, scale = 1, color = FALSE, line_width = 3, antialias = FALSE,
                         encoding = if (color) "hue" else "gray", next_ids = NULL,
                         threads = doodles_threads(), format = "array",
                         imagenet_preproc = FALSE, mirror = FALSE) {
  check_store_connection(con)
  assert_integerish(ids, any.missing = FALSE)
  assert_integerish(next_ids, any.missing = FALSE, null.ok = TRUE)
  threads <- check_drawing_options(scale, color, line_width, antialias, encoding, threads)
  check_format(format, imagenet_preproc)
  assert_logical(mirror, any.missing = FALSE, min.len = 1)
  if (!length(mirror) %in% c(1L, length(ids))) {
    abort_doodles(sprintf("`mirror` has %d values: give one, or one per id (%d).", length(mirror),
                          length(ids)), kind = "argument")
  }
  batch <- store_batch(con@ptr, ids, scale, encoding, line_width, antialias, next_ids, threads,
                       format, imagenet_preproc, mirror = mirror,
                       next_mirror = length(mirror) == 1L && mirror)
  batch$x <- batch_in_format(batch$x, format, imagenet_preproc)
  batch
}

#' Drawings by id
#'
#' @inheritParams doodle_batch
#' @return A data frame with `id`, `drawing` (stroke JSON) and `label_int`, one row per id in
#'   the order of `ids`.
#' @export
read_doodles <- function(con, ids) {
  check_store_connection(con)
  assert_integerish(ids, any.missing = FALSE)
  rows <- store_read(con@ptr, ids)
  data.frame(id = as.integer(rows$id), drawing = rows$drawing, label_int = rows$label_int, stringsAsFactors = FALSE)
}
