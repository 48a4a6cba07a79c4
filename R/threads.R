#' Number of worker threads
#'
#' The default `threads` of every doodles function: option `doodles.threads`, else environment
#' variable `DOODLES_THREADS`, else every core this process may use (CPU affinity and container
#' limits included).
#'
#' @return A positive integer.
#' @examples
#' doodles_threads()
#' withr::with_options(list(doodles.threads = 2), doodles_threads())
#' @export
doodles_threads <- function() {
  value <- getOption("doodles.threads")
  source <- "option `doodles.threads`"
  if (is.null(value)) {
    value <- Sys.getenv("DOODLES_THREADS")
    source <- "environment variable `DOODLES_THREADS`"
    if (!nzchar(value)) {
      return(raster_cores())
    }
  }
  threads <- suppressWarnings(as.numeric(value))
  if (length(threads) != 1 || is.na(threads) || threads < 1 || threads != round(threads)) {
    abort_doodles(
      sprintf("%s must be a whole number of threads >= 1, not %s", source, format(value)),
      kind = "argument"
    )
  }
  as.integer(threads)
}
