# The Python environment: found when present, created with pip when not, clear errors otherwise.

test_that("the pinned packages keep NumPy below 2; Keras 2 is tf_keras of TensorFlow's version", {
  packages <- keras_env_packages()
  expect_true(any(startsWith(packages, "keras==3")))
  expect_true(any(grepl("^tensorflow-cpu==", packages)))
  expect_true(any(grepl("^numpy.*<2", packages)))
  tensorflow <- sub("^tensorflow-cpu==", "", grep("^tensorflow-cpu==", packages, value = TRUE))
  expect_equal(keras_env_packages(legacy = TRUE), paste0("tf_keras==", tensorflow))
})

test_that("the environment's path follows DOODLES_VENV", {
  withr::local_envvar(DOODLES_VENV = "/opt/my-gpu-venv")
  expect_equal(keras_env_path(), "/opt/my-gpu-venv")
  withr::local_envvar(DOODLES_VENV = "")
  expect_equal(keras_env_path(), file.path(path.expand("~"), ".cache", "doodles", "venv"))
})

test_that("an installed environment is found and not reinstalled", {
  skip_if_no_keras()
  expect_message(path <- install_keras_env(), "already installed")
  expect_equal(path, keras_env_path())
})

test_that("a new environment is created, and one without Keras is reported", {
  skip_if(!nzchar(Sys.which("python3")), "no python3")
  path <- file.path(withr::local_tempdir(), "venv")
  # pip itself is already there: nothing is downloaded, and Keras is still missing.
  expect_error(suppressMessages(install_keras_env(path, packages = "pip")),
               "cannot import keras", class = "doodles_error_python")
  expect_true(file.exists(file.path(path, "bin", "python")))
})

test_that("use_keras_env explains a missing environment", {
  outcome <- callr::r(function() {
    tryCatch(doodles::use_keras_env("/nonexistent/venv"),
             error = function(e) list(class = class(e), message = conditionMessage(e)))
  })
  expect_true("doodles_error_python" %in% outcome$class)
  expect_match(outcome$message, "No Keras environment at '/nonexistent/venv'")
  expect_false(callr::r(function() isTRUE(doodles::keras_available("/nonexistent/venv"))))
})

test_that("RETICULATE_PYTHON naming a Python without Keras is said, not warned about and misreported", {
  skip_if(!nzchar(Sys.which("python3")), "no python3")
  skip_if_no_keras()
  # A Python of its own without Keras (a bare virtual environment, made in a second).
  bare <- file.path(withr::local_tempdir(), "bare")
  processx::run(Sys.which("python3"), c("-m", "venv", "--without-pip", bare))
  python <- file.path(bare, "bin", "python")
  outcome <- callr::r(function() {
    warnings <- character()
    result <- withCallingHandlers(
      tryCatch(doodles::use_keras_env(), error = function(e) list(class = class(e),
                                                                  message = conditionMessage(e))),
      warning = function(w) {
        warnings <<- c(warnings, conditionMessage(w))
        invokeRestart("muffleWarning")
      })
    c(result, list(warnings = warnings))
  }, env = c(callr::rcmd_safe_env(), RETICULATE_PYTHON = unname(python)))
  expect_true("doodles_error_python" %in% outcome$class)
  expect_match(outcome$message, sprintf("RETICULATE_PYTHON is set to '%s'", python), fixed = TRUE)
  expect_match(outcome$message, "it has no Keras")
  expect_match(outcome$message, "Restart R with RETICULATE_PYTHON unset")
  expect_length(outcome$warnings, 0L)
})
