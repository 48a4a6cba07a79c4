#' Number of worker threads
#'
#' The default `threads` of every doodles function: option `doodles.threads`, else environment
#' variable `DOODLES_THREADS`, else every core this process may use (CPU affinity and container
#' limits included). The option and the variable must be a whole number from 1 to 256: more is an
#' error of class `doodles_error_argument`, and more cores than 256 are used as 256 threads.
#'
#' @return A positive integer.
#' @examples
#' doodles_threads()
#' withr::with_options(list(doodles.threads = 2), doodles_threads())
#' @export
doodles_threads <- function() {
  threads <- doodles_option("doodles.threads") %||% doodles_env("DOODLES_THREADS")
  if (is.null(threads)) min(raster_cores(), max_threads) else as.integer(as.numeric(threads))
}

# A `threads` argument, as an integer: the rule of the option and the variable (check_threads(),
# 1 to `max_threads`), so that a mistyped count does not start thousands of threads.
check_threads_arg <- function(threads, call = rlang::caller_env()) {
  problem <- check_threads(threads)
  if (!isTRUE(problem)) {
    abort_doodles(sprintf("`threads` %s, not %s.", problem, deparse1(threads)), kind = "argument",
                  call = call)
  }
  as.integer(threads)
}
