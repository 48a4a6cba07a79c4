#' doodles: Quick, Draw! doodles to deep learning batches, fast
#'
#' Rasterize Quick, Draw! strokes into 4-D arrays ([draw_doodles()]), keep the drawings in an
#' embedded DuckDB database, and feed them to Keras.
#'
#' @section Options:
#' - `doodles.threads`: the number of worker threads (default: environment variable
#'   `DOODLES_THREADS`, else all cores).
#'
#' @keywords internal
#' @useDynLib doodles, .registration = TRUE
"_PACKAGE"
