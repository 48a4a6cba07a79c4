# The Python side of the Keras bridge: a virtual environment with Keras 3, TensorFlow (CPU) and
# NumPy 1.x (Debian's reticulate 1.28 cannot read NumPy 2 arrays), and reticulate wired to it.

#' Python packages installed by `install_keras_env()`
#'
#' The versions the package is tested with (`inst/python/requirements.txt`, also read by
#' `tools/setup.sh`). `numpy<2` is required by reticulate 1.28.
#'
#' @param legacy Whether to list the Keras 2 package the legacy R keras package needs instead
#'   (`tf_keras`, `inst/python/requirements-legacy.txt`), installed without its dependencies.
#' @return A character vector of pip requirement specifiers.
#' @export
#' @examples
#' keras_env_packages()
#' keras_env_packages(legacy = TRUE)
keras_env_packages <- function(legacy = FALSE) {
  assert_flag(legacy)
  file <- if (legacy) "requirements-legacy.txt" else "requirements.txt"
  lines <- readLines(system.file("python", file, package = "doodles", mustWork = TRUE))
  trimws(lines[nzchar(trimws(lines)) & !startsWith(lines, "#")])
}

#' Where the Keras virtual environment lives
#'
#' The environment variable `DOODLES_VENV` when set, else `~/.cache/doodles/venv`.
#'
#' @return A path (the directory of the virtual environment).
#' @export
#' @examples
#' keras_env_path()
keras_env_path <- function() {
  path <- Sys.getenv("DOODLES_VENV", "")
  if (!nzchar(path)) {
    path <- file.path(path.expand("~"), ".cache", "doodles", "venv")
  }
  path
}

#' Create or find the Python environment for Keras
#'
#' Creates a virtual environment at `path` with `python -m venv` and installs `packages` with pip,
#' skipping both steps when the environment already imports them. The default packages are the CPU
#' build of TensorFlow (about 1.6 GB, about a minute). On a GPU machine, point `path` (or the
#' environment variable `DOODLES_VENV`) at an environment of your own that has Keras 3 with a GPU
#' backend, and call [use_keras_env()] only.
#'
#' @param path Directory of the virtual environment.
#' @param packages pip requirement specifiers, by default [keras_env_packages()].
#' @param python The Python interpreter that creates the environment (3.9 or later).
#' @param quiet Whether to hide pip's output.
#' @param legacy Whether to add Keras 2 (`tf_keras`, see [keras_env_packages()]) for the legacy R
#'   keras package (`keras::fit_generator()`), a few MB beside TensorFlow.
#' @return `path`, invisibly.
#' @export
#' @examples
#' \dontrun{
#' install_keras_env()
#' use_keras_env()
#' }
install_keras_env <- function(path = keras_env_path(), packages = keras_env_packages(),
                              python = Sys.which("python3"), quiet = TRUE, legacy = FALSE) {
  assert_string(path, min.chars = 1)
  assert_character(packages, min.len = 1, any.missing = FALSE)
  assert_string(python)
  assert_flag(quiet)
  assert_flag(legacy)
  env_python <- venv_python(path)
  if (file.exists(env_python) && keras_env_ready(env_python, legacy)) {
    cli::cli_inform("Keras environment already installed at {.path {path}}.")
    return(invisible(path))
  }
  if (!file.exists(env_python)) {
    if (!nzchar(python) || !file.exists(python)) {
      abort_doodles(c("No Python interpreter to create the Keras environment with.",
                      i = "Install python3 and python3-venv, or pass `python`."),
                    kind = "python")
    }
    cli::cli_inform("Creating a virtual environment at {.path {path}}.")
    dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
    run_checked(python, c("-m", "venv", path), "python -m venv", quiet)
  }
  if (!keras_env_ready(env_python)) {
    cli::cli_inform("Installing {.val {packages}} (about a minute).")
    run_checked(env_python, c("-m", "pip", "install", if (quiet) "--quiet", packages),
                "pip install", quiet)
  }
  if (legacy && !keras_env_ready(env_python, legacy)) {
    legacy_packages <- keras_env_packages(legacy = TRUE)
    cli::cli_inform("Installing {.val {legacy_packages}} for the legacy keras package.")
    run_checked(env_python, c("-m", "pip", "install", if (quiet) "--quiet", "--no-deps",
                              legacy_packages), "pip install", quiet)
  }
  if (!keras_env_ready(env_python, legacy)) {
    modules <- if (legacy) "keras, tf_keras" else "keras"
    abort_doodles(c(sprintf("The Keras environment at '%s' still cannot import %s.", path, modules),
                    i = sprintf("Run `%s -c 'import %s'` to see why.", env_python, modules)),
                  kind = "python")
  }
  invisible(path)
}

#' Use the Keras environment from this R session
#'
#' Points reticulate at the virtual environment (it must be called before anything starts Python in
#' the session) and sets `KERAS_BACKEND` to `"tensorflow"` unless it is already set, so that
#' another backend can be chosen the usual way. When the environment variable `RETICULATE_PYTHON`
#' names another Python (reticulate then ignores any other choice), that Python is used if it has
#' Keras; otherwise the error says what to change.
#'
#' @section The legacy R keras package (Keras 2):
#' The same environment serves `library(keras)` (the legacy package, `keras::fit_generator()`)
#' once it has `tf_keras`: `install_keras_env(legacy = TRUE)` (or `make install`, which runs
#' `tools/setup.sh`) adds it. Then, at the start of the session:
#' ```
#' library(keras)     # sets TF_USE_LEGACY_KERAS=1: tf.keras is tf_keras, Keras 2
#' library(doodles)
#' use_keras_env()    # before anything starts Python
#' model <- get_model("lenet", input_shape = c(64, 64), num_classes = 340)  # a Keras 2 model
#' ```
#' Leave `RETICULATE_PYTHON` (and keras' option `KERAS_PYTHON`, which sets it) unset, or set it to
#' this environment's `bin/python`. [get_model()] builds the models of the Keras the session
#' trains with (see `keras_version` there), and [train_generator()]'s Keras forms are then
#' `tf_keras` Sequences.
#'
#' @param path Directory of the virtual environment.
#' @return `TRUE` when the environment can import Keras, invisibly; otherwise an error of class
#'   `doodles_error_python`.
#' @export
#' @examples
#' \dontrun{
#' use_keras_env()
#' model <- get_model("lenet", input_shape = c(28, 28), num_classes = 10)
#' }
use_keras_env <- function(path = keras_env_path()) {
  assert_string(path, min.chars = 1)
  rlang::check_installed("reticulate", "to use Keras from R")
  if (!nzchar(Sys.getenv("KERAS_BACKEND"))) Sys.setenv(KERAS_BACKEND = "tensorflow")
  # TensorFlow's C++ start-up logging is noise in an R console.
  if (!nzchar(Sys.getenv("TF_CPP_MIN_LOG_LEVEL"))) Sys.setenv(TF_CPP_MIN_LOG_LEVEL = "2")
  env_python <- venv_python(path)
  if (reticulate::py_available(initialize = FALSE)) {
    current <- normalizePath(reticulate::py_config()$python, mustWork = FALSE)
    if (!identical(current, normalizePath(env_python, mustWork = FALSE)) &&
        !py_has_module("keras")) {
      abort_doodles(c(sprintf("Python already runs in this session from '%s', without Keras.",
                              current),
                      i = "Restart R and call use_keras_env() first."), kind = "python")
    }
    return(invisible(TRUE))
  }
  forced <- Sys.getenv("RETICULATE_PYTHON")
  # A virtual environment's python is a link to the interpreter it was made from: compare the
  # environments' folders, not the resolved files.
  if (nzchar(forced) && !identical(normalizePath(dirname(dirname(forced)), mustWork = FALSE),
                                   normalizePath(path, mustWork = FALSE))) {
    # reticulate takes RETICULATE_PYTHON over use_virtualenv() (with a warning): take it too.
    if (!py_has_module("keras")) {
      abort_doodles(c(sprintf(paste("RETICULATE_PYTHON is set to '%s', which reticulate uses",
                                    "instead of the Keras environment at '%s', and it has no Keras."),
                              forced, path),
                      i = paste0("Restart R with RETICULATE_PYTHON unset (and keras' option ",
                                 "KERAS_PYTHON, which sets it), or set to '", env_python, "'.")),
                    kind = "python")
    }
    return(invisible(TRUE))
  }
  if (!file.exists(env_python)) {
    abort_doodles(c(sprintf("No Keras environment at '%s'.", path),
                    i = "Create it with doodles::install_keras_env() or set DOODLES_VENV."),
                  kind = "python")
  }
  reticulate::use_virtualenv(path, required = TRUE)
  if (!py_has_module("keras")) {
    abort_doodles(c(sprintf("The Python environment at '%s' has no Keras.", path),
                    i = "Run doodles::install_keras_env()."), kind = "python")
  }
  invisible(TRUE)
}

#' Is Python Keras usable?
#'
#' Tries [use_keras_env()] and reports whether Keras can be imported, without raising an error.
#'
#' @inheritParams use_keras_env
#' @return `TRUE` or `FALSE`, with the reason as attribute `reason` when `FALSE`.
#' @export
#' @examples
#' keras_available()
keras_available <- function(path = keras_env_path()) {
  ok <- tryCatch(use_keras_env(path), error = function(e) e)
  if (isTRUE(ok)) return(TRUE)
  structure(FALSE, reason = conditionMessage(ok))
}

# Whether Python can import `module`, without importing it: the numpy forms of the generators
# need numpy only, and importing Keras (TensorFlow) costs seconds and thousands of modules.
py_has_module <- function(module) {
  !is.null(reticulate::import("importlib.util")$find_spec(module))
}

venv_python <- function(path) {
  if (.Platform$OS.type == "windows") file.path(path, "Scripts", "python.exe")
  else file.path(path, "bin", "python")
}

keras_env_ready <- function(env_python, legacy = FALSE) {
  probe <- paste0("import keras, numpy; assert int(numpy.__version__.split('.')[0]) < 2",
                  if (legacy) "; import tf_keras")
  status <- suppressWarnings(system2(env_python, c("-c", shQuote(probe)), stdout = FALSE,
                                     stderr = FALSE))
  identical(status, 0L)
}

run_checked <- function(command, args, what, quiet) {
  if (quiet) {
    # With captured output, system2() returns the lines and a "status" attribute on failure.
    output <- suppressWarnings(system2(command, args, stdout = TRUE, stderr = TRUE))
    status <- attr(output, "status")
    status <- if (is.null(status)) 0L else status
  } else {
    output <- character()
    status <- system2(command, args)
  }
  if (status != 0L) {
    abort_doodles(c(sprintf("%s failed with status %d.", what, status),
                    utils::tail(output, 20)), kind = "python")
  }
  invisible(TRUE)
}

# Python modules, imported once per session after use_keras_env().
py_modules <- new.env(parent = emptyenv())

keras_versions <- c("auto", "3", "2")

# Which Keras the package builds and trains with: "3" (the keras package) or "2" (PyPI's
# tf_keras, what the legacy R keras package trains with). "auto" follows TF_USE_LEGACY_KERAS,
# which `library(keras)` sets when it loads (and TensorFlow reads to make `tf.keras` tf_keras).
resolve_keras_version <- function(keras_version = "auto", call = rlang::caller_env()) {
  keras_version <- arg_choice(keras_version, keras_versions, .var.name = "keras_version",
                              call = call)
  if (keras_version != "auto") return(keras_version)
  if (legacy_keras_in_use()) "2" else "3"
}

# Whether Keras 2 is what the session trains with: the legacy R keras package asks for it with
# TF_USE_LEGACY_KERAS.
legacy_keras_in_use <- function() {
  tolower(Sys.getenv("TF_USE_LEGACY_KERAS")) %in% c("1", "true")
}

keras_py <- function(keras_version = "auto") {
  version <- resolve_keras_version(keras_version)
  slot <- paste0("keras", version)
  if (is.null(py_modules[[slot]])) {
    use_keras_env()
    module <- if (version == "2") "tf_keras" else "keras"
    if (!py_has_module(module)) {
      abort_doodles(c(sprintf("Keras 2 models need the Python package tf_keras, which '%s' lacks.",
                              reticulate::py_config()$python),
                      i = "Install it there: `python -m pip install tf_keras` (tools/setup.sh does)."),
                    kind = "dependency")
    }
    keras <- reticulate::import(module, delay_load = FALSE)
    # Models compiled with the package's MAP@3 metric load only once it is registered.
    metrics_py()$register(keras)
    py_modules[[slot]] <- keras
    py_modules$np <- reticulate::import("numpy", convert = FALSE)
  }
  py_modules[[slot]]
}

# The MAP@3 metric's module (inst/python/doodles_py/metrics.py).
metrics_py <- function() {
  if (is.null(py_modules$metrics)) {
    py_modules$metrics <- doodles_py("metrics")
  }
  py_modules$metrics
}

# The package's Python package, inst/python/doodles_py (one module per job, see its __init__.py),
# or one of its modules (`module`: "batches", "metrics", ...). With `convert = FALSE` its results
# stay Python objects.
doodles_py <- function(module = NULL, convert = TRUE) {
  reticulate::import_from_path(paste(c("doodles_py", module), collapse = "."),
                               path = system.file("python", package = "doodles"), convert = convert)
}

# The doodles_error kind of each exception of inst/python/doodles_py/errors.py, by its type.
python_error_kinds <- c(WorkerFailure = "workers", DrawingError = "drawing", ArgumentError = "argument",
                        IndexChangedError = "index", DoodlesError = "internal")

# The exception of inst/python/doodles_py/errors.py that the R condition `e` is, when R's own call
# into Python raised it: list(kind, type, message), the message the exception's own (without the
# traceback reticulate adds), or NULL for any other error. Recognised by the exception's type:
# reticulate >= 1.29 (as in the R Keras library of the tests) makes `e` the Python exception, its
# classes naming its type ("doodles_py.errors.WorkerFailure"); reticulate 1.28 (Debian's) gives a
# C++ error whose message starts with the qualified type, and py_last_error() the type's name and
# the message of the last Python exception, taken when `e` says it is of that type. (Errors raised in Keras' threads reach R inside
# TensorFlow's own: see producer_error().)
python_exception <- function(e) {
  force(e)
  last <- tryCatch(reticulate::py_last_error(), error = function(err) NULL)
  qualified <- "^doodles_py[.]errors[.]"
  last_type <- if (is.character(last$type) && length(last$type) == 1L) sub(qualified, "", last$type) else ""
  typed <- grep(qualified, class(e), value = TRUE)
  type <- if (length(typed) > 0L) {
    sub(qualified, "", typed[1])
  } else if (startsWith(conditionMessage(e), paste0("doodles_py.errors.", last_type, ": "))) {
    last_type
  }
  if (is.null(type) || !type %in% names(python_error_kinds)) {
    return(NULL)
  }
  message <- if (identical(last_type, type) && is.character(last$value)) {
    last$value
  } else {
    sub("^[^:]*: ", "", strsplit(conditionMessage(e), "\n")[[1]][1])
  }
  list(kind = python_error_kinds[[type]], type = type, message = message)
}

# The Keras `model` was built with, "3" or "2" (each Keras trains only its own models, with its
# own callbacks and optimizers), or NA when it is no Keras model. tf_keras is looked at only when
# something imported it already: a tf_keras model cannot exist otherwise.
model_keras_version <- function(model) {
  if (!inherits(model, "python.builtin.object")) return(NA_character_)
  builtins <- reticulate::import_builtins()
  if (builtins$isinstance(model, keras_py("3")$Model)) return("3")
  if ("tf_keras" %in% names(reticulate::import("sys")$modules) &&
      builtins$isinstance(model, keras_py("2")$Model)) {
    return("2")
  }
  NA_character_
}

# The package's Python package (inst/python/doodles_py): the names R calls, from its modules.
# Its results are converted to R values, or, with `convert = FALSE`, left as Python objects (numpy
# arrays for Keras: that form needs numpy only, not Keras).
bridge_py <- function(convert = TRUE) {
  slot <- if (convert) "bridge" else "arrays"
  if (is.null(py_modules[[slot]])) {
    if (convert) keras_py() else use_keras_env()
    py_modules[[slot]] <- doodles_py(convert = convert)
  }
  py_modules[[slot]]
}

arrays_py <- function() bridge_py(convert = FALSE)
