# Every option and environment variable the package reads, with its default, in one table that
# ?doodles_options lists. Options with a default are read with doodles_option(), which takes the
# default from here; the others (whose default is an environment variable) and the environment
# variables are read where used. test-options.R checks that every name the code reads is here.

option_table <- list(
  list(name = "doodles.threads", kind = "option", default = NULL,
       meaning = "Worker threads of every doodles function (default: DOODLES_THREADS, else all cores)."),
  list(name = "DOODLES_THREADS", kind = "environment variable", default = "",
       meaning = "Worker threads when option doodles.threads is not set."),
  list(name = "doodles.keep_freed_memory", kind = "option", default = NULL,
       meaning = "TRUE when the package loads: glibc keeps freed blocks for reuse (faster batches, peak memory kept)."),
  list(name = "DOODLES_KEEP_FREED_MEMORY", kind = "environment variable", default = "",
       meaning = "\"true\" or \"1\": as option doodles.keep_freed_memory, when that is not set."),
  list(name = "doodles.load_transaction_rows", kind = "option", default = 1e6,
       meaning = "Rows after which a load commits (files share a transaction until then)."),
  list(name = "doodles.load_memory", kind = "option", default = "96MB",
       meaning = "DuckDB's memory_limit while loading into a database file."),
  list(name = "doodles.index_memory", kind = "option", default = "160MB",
       meaning = "DuckDB's memory_limit while index_doodles() builds or checks the stroke index of a database file."),
  list(name = "doodles.load_checkpoint", kind = "option", default = "128MB",
       meaning = "DuckDB's checkpoint_threshold while loading into a database file."),
  list(name = "doodles.collect_after", kind = "option", default = 1e9,
       meaning = "Bytes of Keras-form batches handed to R (it(), next_batch()) after which R's garbage collector runs, freeing those R no longer holds."),
  list(name = "TF_USE_LEGACY_KERAS", kind = "environment variable", default = "",
       meaning = "1 or true (as the legacy keras package asks): the Keras-form generators are tf_keras Sequences (Keras 2)."),
  list(name = "DBDIR", kind = "environment variable", default = "",
       meaning = "The database folder of doodle_app() when `db_dir` is not given."),
  list(name = "TF_CONFIG", kind = "environment variable", default = "",
       meaning = "TensorFlow's cluster description: set, train_nn.R trains as one of several workers."),
  list(name = "DOODLES_VENV", kind = "environment variable", default = "~/.cache/doodles/venv",
       meaning = "The Python environment with Keras (install_keras_env(), use_keras_env())."),
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
#' [Sys.setenv()]; build environment variables apply when the package is installed.
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

# The value of option `name`, or its default from the table.
doodles_option <- function(name) {
  entry <- Find(function(entry) identical(entry$name, name), option_table)
  if (is.null(entry) || entry$kind != "option") abort_doodles(sprintf("unknown option %s", name), kind = "internal")
  getOption(name, entry$default)
}
