# The Python environment: found when present, created with pip when not, clear errors otherwise.

test_that("the pinned packages keep NumPy below 2", {
  packages <- keras_env_packages()
  expect_true(any(startsWith(packages, "keras==3")))
  expect_true(any(grepl("^tensorflow-cpu==", packages)))
  expect_true(any(grepl("^numpy.*<2", packages)))
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
