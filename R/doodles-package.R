#' doodles: Quick, Draw! doodles to deep learning batches, fast
#'
#' Rasterize Quick, Draw! strokes into 4-D arrays ([draw_doodles()]), keep the drawings in an
#' embedded DuckDB database, and feed them to Keras.
#'
#' @section Options:
#' [doodles_options()] lists every option and environment variable doodles reads. Among them:
#' - `doodles.threads`: the number of worker threads (default: environment variable
#'   `DOODLES_THREADS`, else all cores).
#' - `doodles.keep_freed_memory`: `TRUE` (or environment variable `DOODLES_KEEP_FREED_MEMORY=true`)
#'   when the package loads makes glibc keep freed blocks for reuse: faster batches, but the
#'   process keeps its peak memory (see [draw_doodles()], section Memory).
#'
#' @keywords internal
#' @useDynLib doodles, .registration = TRUE
#' @importFrom rlang %||%
"_PACKAGE"
