# Conditions raised by doodles all have class `doodles_error` (and a sub-class per kind), so that
# callers can catch bad input separately from other errors.

#' Errors raised by doodles
#'
#' Every error doodles raises has class `doodles_error` and one sub-class
#' `doodles_error_<kind>` saying what went wrong, so that callers can catch one kind
#' (`tryCatch(..., doodles_error_input = ...)`) or all of them. Fields named below are attached to
#' the condition (`e$file`, `e$line`, ...).
#'
#' @section Classes:
#' - `doodles_error_argument`: a bad argument, whether checkmate's check found it in R or the Rust
#'   core did (an id outside the table, an option outside its limits).
#' - `doodles_error_drawing`: a drawing that cannot be drawn (not a JSON array of strokes, NA),
#'   from [draw_doodles()] (field `index`: its 1-based position in `x`) or [doodle_batch()]
#'   (fields `index`, its position in `ids`, and `id`).
#' - `doodles_error_input`: a bad row or header in a file being loaded; fields `file` and `line`.
#' - `doodles_error_zip`: a truncated or corrupt zip file, or an entry that cannot be read; field
#'   `file`.
#' - `doodles_error_changed_file`: a file whose name was loaded before with other contents.
#' - `doodles_error_locked`: the database file is in use by another process (see the `timeout`
#'   of [DBI::dbConnect()][doodles_duckdb]).
#' - `doodles_error_disk_full`: the database's file system is full (or a file passed the size
#'   limit of the process); from a load, field `file`: the file whose rows were rolled back.
#' - `doodles_error_io`: a file or folder that cannot be read or written.
#' - `doodles_error_index`: the stroke index cannot be built from the table (ids not dense 1..N,
#'   `label_int` missing, a column of another type).
#' - `doodles_error_db`: DuckDB refused a statement or failed.
#' - `doodles_error_data`: a batch's labels outside `0..num_classes - 1`; field `index`.
#' - `doodles_error_model`: a model that cannot take the batches asked for, or an unknown model.
#' - `doodles_error_weights`: pretrained weights that cannot be loaded.
#' - `doodles_error_python`: the Python Keras environment is missing or cannot be used.
#' - `doodles_error_usage`: a bad command-line option of the scripts ([run_cli()]).
#' - `doodles_error_workers`: the workers of a multi-worker training disagree (their databases or
#'   options differ, see [check_workers_agree()]), or one of them stopped training.
#' - `doodles_error_dependency`: an R or Python package a feature needs is missing (docopt for the
#'   scripts, OpenCV for the comparison with OpenCV's drawings).
#' - `doodles_error_internal`: a bug in doodles (a panic of its Rust core included); please
#'   report it.
#'
#' @name doodles_error
#' @examples
#' tryCatch(draw_doodles("[[[0, 1]]"), doodles_error_drawing = function(e) e$index)
#' tryCatch(draw_doodles(1), doodles_error_argument = conditionMessage)
NULL

abort_doodles <- function(message, ..., kind = NULL, call = rlang::caller_env()) {
  class <- c(if (!is.null(kind)) paste0("doodles_error_", kind), "doodles_error")
  rlang::abort(message, class = class, ..., call = call)
}

# Every wrapper in R/extendr-wrappers.R runs its .Call through this (tools/update-wrappers.R
# writes them so): a Rust export returns its value or a list of class `doodles_rust_error` (see
# src/rust/src/errors.rs), raised here as a `doodles_error` with its details as fields, in the
# function that called the wrapper. An error extendr raises itself (a panic it caught, an
# argument of another R type than the export takes) is a bug: `doodles_error_internal`.
rust_result <- function(value, call = rlang::caller_env(2)) {
  force(call)
  value <- tryCatch(value, error = function(e) {
    abort_doodles(paste("internal error in doodles' Rust code:", conditionMessage(e)), kind = "internal",
                  call = call)
  })
  if (!inherits(value, "doodles_rust_error")) {
    return(value)
  }
  rlang::exec(abort_doodles, value$message, !!!value$details, kind = value$kind, call = call)
}
