# Every option and environment variable the package reads, with its default and its check, in one
# table that ?doodles_options lists. Options are read with doodles_option(), environment variables
# with doodles_env(): both apply the entry's check, so that a bad value is an error where it is
# read rather than a strange behaviour later. Entries without a check (paths, other programs'
# variables, build variables) are read where used. test-options.R checks that every name the code
# reads is here, and that no checked one is read around its check.

# The most threads the option and the environment variable may ask for: enough for the largest
# machines, few enough that a mistyped value does not start thousands of threads.
max_threads <- 256L

# Checks: each takes the value read (an option's R value, or an environment variable's text) and
# gives TRUE, or what the value must be.
check_threads <- function(x) {
  if (checkmate::test_count(x, positive = TRUE) && x <= max_threads) TRUE else
    sprintf("must be a whole number of threads from 1 to %d", max_threads)
}

check_duckdb_size <- function(x) {
  size <- "^[0-9]+(\\.[0-9]+)? ?([KMGT]i?B|bytes|B)$"
  if (checkmate::test_string(x) && grepl(size, x, ignore.case = TRUE)) TRUE else
    "must be a size DuckDB reads, such as \"96MB\" or \"1GiB\""
}

check_flag <- function(x) {
  if (checkmate::test_flag(x)) TRUE else "must be TRUE or FALSE"
}

check_rows <- function(x) {
  if (checkmate::test_count(x, positive = TRUE)) TRUE else "must be a whole number of rows >= 1"
}

check_bytes <- function(x) {
  if (checkmate::test_number(x, lower = 0)) TRUE else "must be a number of bytes >= 0"
}

check_flag_text <- function(x) {
  if (tolower(x) %in% c("true", "false", "1", "0")) TRUE else "must be true, false, 1 or 0"
}

option_table <- list(
  list(name = "doodles.threads", kind = "option", default = NULL, check = check_threads,
       meaning = "Worker threads of every doodles function, 1 to 256 (default: DOODLES_THREADS, else all cores)."),
  list(name = "DOODLES_THREADS", kind = "environment variable", default = "",
       check = function(x) check_threads(suppressWarnings(as.numeric(x))),
       meaning = "Worker threads when option doodles.threads is not set."),
  list(name = "doodles.progress", kind = "option", default = NULL, check = check_flag,
       meaning = "TRUE or FALSE: whether the progress bars of load_doodles() and load_test() show by default (default: DOODLES_PROGRESS, else in interactive sessions)."),
  list(name = "DOODLES_PROGRESS", kind = "environment variable", default = "", check = check_flag_text,
       meaning = "\"true\" or \"false\" (or 1 or 0): as option doodles.progress, when that is not set."),
  list(name = "doodles.keep_freed_memory", kind = "option", default = NULL,
       meaning = "TRUE when the package loads: glibc keeps freed blocks for reuse (faster batches, peak memory kept)."),
  list(name = "DOODLES_KEEP_FREED_MEMORY", kind = "environment variable", default = "",
       meaning = "\"true\" or \"1\": as option doodles.keep_freed_memory, when that is not set."),
  list(name = "doodles.load_transaction_rows", kind = "option", default = 1e6,
       check = check_rows,
       meaning = "Rows after which a load commits (files share a transaction until then)."),
  list(name = "doodles.load_memory", kind = "option", default = "96MB", check = check_duckdb_size,
       meaning = "DuckDB's memory_limit while loading into a database file."),
  list(name = "doodles.index_memory", kind = "option", default = "160MB", check = check_duckdb_size,
       meaning = "DuckDB's memory_limit while index_doodles() builds or checks the stroke index of a database file."),
  list(name = "doodles.load_checkpoint", kind = "option", default = "128MB", check = check_duckdb_size,
       meaning = "DuckDB's checkpoint_threshold while loading into a database file."),
  list(name = "doodles.collect_after", kind = "option", default = 1e9,
       check = check_bytes,
       meaning = "Bytes of Keras-form batches handed to R (it(), next_batch()) after which R's garbage collector runs, freeing those R no longer holds."),
  list(name = "TF_USE_LEGACY_KERAS", kind = "environment variable", default = "",
       meaning = "1 or true (as the legacy keras package asks): the Keras-form generators are tf_keras Sequences (Keras 2)."),
  list(name = "DBDIR", kind = "environment variable", default = "",
       meaning = "The database folder of doodle_app() when `db_dir` is not given."),
  list(name = "TF_CONFIG", kind = "environment variable", default = "",
       meaning = "TensorFlow's cluster description: set, train_nn.R trains as one of several workers."),
  list(name = "DOODLES_VENV", kind = "environment variable", default = "~/.cache/doodles/venv",
       meaning = "The Python environment with Keras (install_keras_env(), use_keras_env())."),
  list(name = "RETICULATE_PYTHON", kind = "environment variable", default = "",
       meaning = "reticulate's Python: when it names another one than DOODLES_VENV's, use_keras_env() uses it if it has Keras."),
  list(name = "KERAS_BACKEND", kind = "environment variable", default = "tensorflow",
       meaning = "Keras' backend; set to tensorflow by use_keras_env() when empty."),
  list(name = "TF_CPP_MIN_LOG_LEVEL", kind = "environment variable", default = "2",
       meaning = "TensorFlow's C++ log level; set to 2 (warnings off) by use_keras_env() when empty."),
  list(name = "DOODLES_DUCKDB", kind = "build environment variable", default = "prebuilt",
       meaning = "\"bundled\" compiles DuckDB's sources instead of linking its prebuilt library (tools/duckdb.sh)."),
  list(name = "DUCKDB_LIB_DIR", kind = "build environment variable", default = "",
       meaning = "A folder with the libduckdb.so to link instead (tools/duckdb.sh)."),
  list(name = "CARGO_TARGET_DIR", kind = "build environment variable", default = "src/rust/target",
       meaning = "Cargo's build folder; a persistent one saves rebuilding the Rust core.")
)

#' Options and environment variables of doodles
#'
#' `doodles_options()` lists every option and environment variable doodles reads, with its
#' default and its value now. Options are set with [options()] (for example
#' `options(doodles.threads = 2)`), environment variables before R starts or with
#' [Sys.setenv()]; build environment variables apply when the package is installed. A value
#' outside what its meaning allows (`doodles.threads = 1000`, `doodles.load_memory = "lots"`) is
#' an error of class `doodles_error_argument` where the package reads it.
#'
#' @return A data frame with columns `name`, `kind` (`"option"`, `"environment variable"` or
#'   `"build environment variable"`), `default`, `value` (as text, `NA` when not set) and
#'   `meaning`.
#' @examples
#' doodles_options()[, c("name", "default", "value")]
#' @export
doodles_options <- function() {
  text <- function(x) if (is.null(x)) NA_character_ else paste(format(x, scientific = FALSE), collapse = " ")
  value <- function(entry) {
    if (entry$kind == "option") text(getOption(entry$name)) else {
      set <- Sys.getenv(entry$name, NA_character_)
      if (is.na(set) || !nzchar(set)) NA_character_ else set
    }
  }
  data.frame(
    name = vapply(option_table, `[[`, "", "name"),
    kind = vapply(option_table, `[[`, "", "kind"),
    default = vapply(option_table, function(entry) text(entry$default), ""),
    value = vapply(option_table, value, ""),
    meaning = vapply(option_table, `[[`, "", "meaning"),
    stringsAsFactors = FALSE
  )
}

# The value of option `name` (or its default from the table), checked; NULL when it is not set
# and has no default.
doodles_option <- function(name, call = rlang::caller_env()) {
  entry <- option_entry(name, "option")
  checked_value(entry, getOption(name, entry$default), sprintf("option `%s`", name), call)
}

# The text of environment variable `name`, checked; NULL when it is not set or empty.
doodles_env <- function(name, call = rlang::caller_env()) {
  entry <- option_entry(name, "environment variable")
  text <- Sys.getenv(name)
  if (!nzchar(text)) return(NULL)
  checked_value(entry, text, sprintf("environment variable `%s`", name), call)
}

option_entry <- function(name, kind) {
  entry <- Find(function(entry) identical(entry$name, name), option_table)
  if (is.null(entry) || entry$kind != kind) abort_doodles(sprintf("unknown %s %s", kind, name), kind = "internal")
  entry
}

checked_value <- function(entry, value, what, call) {
  if (is.null(value) || is.null(entry$check)) return(value)
  ok <- entry$check(value)
  if (!isTRUE(ok)) {
    shown <- if (is.character(value) && length(value) == 1) sprintf("'%s'", value) else deparse1(value)
    abort_doodles(sprintf("%s %s, not %s", what, ok, shown), kind = "argument", call = call)
  }
  value
}

# Whether the package's progress bars show when the caller does not say: option
# doodles.progress, else environment variable DOODLES_PROGRESS, else in interactive sessions (as
# vroom's vroom.show_progress and VROOM_SHOW_PROGRESS).
doodles_progress <- function() {
  option <- doodles_option("doodles.progress")
  if (!is.null(option)) return(option)
  text <- doodles_env("DOODLES_PROGRESS")
  if (!is.null(text)) return(tolower(text) %in% c("true", "1"))
  interactive()
}
