# The Python side of the Keras bridge: a virtual environment with Keras 3, TensorFlow (CPU) and
# NumPy 1.x (Debian's reticulate 1.28 cannot read NumPy 2 arrays), and reticulate wired to it.

#' Python packages installed by `install_keras_env()`
#'
#' The versions the package is tested with (`inst/python/requirements.txt`, also read by
#' `tools/setup.sh`). `numpy<2` is required by reticulate 1.28.
#'
#' @return A character vector of pip requirement specifiers.
#' @export
#' @examples
#' keras_env_packages()
keras_env_packages <- function() {
  lines <- readLines(system.file("python", "requirements.txt", package = "doodles",
                                 mustWork = TRUE))
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
#' @return `path`, invisibly.
#' @export
#' @examples
#' \dontrun{
#' install_keras_env()
#' use_keras_env()
#' }
install_keras_env <- function(path = keras_env_path(), packages = keras_env_packages(),
                              python = Sys.which("python3"), quiet = TRUE) {
  assert_string(path, min.chars = 1)
  assert_character(packages, min.len = 1, any.missing = FALSE)
  assert_string(python)
  assert_flag(quiet)
  env_python <- venv_python(path)
  if (file.exists(env_python) && keras_env_ready(env_python)) {
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
  cli::cli_inform("Installing {.val {packages}} (about a minute).")
  run_checked(env_python, c("-m", "pip", "install", if (quiet) "--quiet", packages),
              "pip install", quiet)
  if (!keras_env_ready(env_python)) {
    abort_doodles(c(sprintf("The Keras environment at '%s' still cannot import keras.", path),
                    i = sprintf("Run `%s -c 'import keras'` to see why.", env_python)),
                  kind = "python")
  }
  invisible(path)
}

#' Use the Keras environment from this R session
#'
#' Points reticulate at the virtual environment (it must be called before anything starts Python in
#' the session) and sets `KERAS_BACKEND` to `"tensorflow"` unless it is already set, so that
#' another backend can be chosen the usual way.
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

keras_env_ready <- function(env_python) {
  probe <- "import keras, numpy; assert int(numpy.__version__.split('.')[0]) < 2"
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

keras_py <- function() {
  if (is.null(py_modules$keras)) {
    use_keras_env()
    py_modules$keras <- reticulate::import("keras", delay_load = FALSE)
    py_modules$np <- reticulate::import("numpy", convert = FALSE)
  }
  py_modules$keras
}

# The bridge module (inst/python/doodles_bridge.py). Its results are converted to R values, or,
# with `convert = FALSE`, left as Python objects (numpy arrays for Keras: that form needs numpy
# only, not Keras).
bridge_py <- function(convert = TRUE) {
  slot <- if (convert) "bridge" else "arrays"
  if (is.null(py_modules[[slot]])) {
    if (convert) keras_py() else use_keras_env()
    py_modules[[slot]] <- reticulate::import_from_path(
      "doodles_bridge", path = system.file("python", package = "doodles"), convert = convert
    )
  }
  py_modules[[slot]]
}

arrays_py <- function() bridge_py(convert = FALSE)
