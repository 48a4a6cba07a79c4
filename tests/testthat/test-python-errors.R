# The Python package's exceptions (inst/python/doodles_py/errors.py) reach R as doodles_error
# classes by their type, with reticulate 1.28 (this R library) and a newer one (the R Keras library).

worker_failure_code <- "
  raise_in_python <- function(type, message) {
    main <- reticulate::py_run_string(paste0(
      'import doodles_py.errors as errors\\n',
      'def doodles_raise(type, message):\\n',
      '    import builtins\\n',
      '    raise (getattr(errors, type, None) or getattr(builtins, type))(message)\\n'), convert = FALSE)
    main$doodles_raise(type, message)
  }
  doodles:::bridge_py()
  said <- 'doodles: worker 1 of 2 stopped training in epoch 3, step 7: worker 0 stopped (no heartbeat)'
  e <- tryCatch(doodles:::worker_failure(tryCatch(raise_in_python('WorkerFailure', said),
                                                  error = identity)), error = identity)
  cat('class', class(e), '\\n')
  cat('message', conditionMessage(e), '\\n')
  # Another of the package's exceptions, or a Python error saying the same, is not a worker failure.
  for (type in c('DrawingError', 'ValueError')) {
    e <- tryCatch(raise_in_python(type, said), error = identity)
    f <- tryCatch(doodles:::worker_failure(e), error = identity)
    cat(type, 'kept', identical(f, e), 'kind', format(doodles:::python_exception(e)$kind), '\\n')
  }
"

check_worker_failure_output <- function(output) {
  expect_true(any(grepl("^class doodles_error_workers doodles_error", output)), info = paste(output, collapse = "\n"))
  expect_true(any(output == paste("message worker 1 of 2 stopped training in epoch 3, step 7:",
                                  "worker 0 stopped (no heartbeat) ")), info = paste(output, collapse = "\n"))
  expect_true(any(output == "DrawingError kept TRUE kind drawing "), info = paste(output, collapse = "\n"))
  expect_true(any(output == "ValueError kept TRUE kind NULL "), info = paste(output, collapse = "\n"))
}

test_that("a WorkerFailure raised in Python is doodles_error_workers by its type (this reticulate)", {
  skip_if_no_keras()
  output <- utils::capture.output(eval(parse(text = worker_failure_code), envir = new.env()))
  check_worker_failure_output(trimws(output, "left"))
})

test_that("a WorkerFailure raised in Python is doodles_error_workers by its type (newer reticulate)", {
  skip_if_no_keras3()
  output <- run_with_r_keras(paste("library(doodles)", worker_failure_code, sep = "\n"))
  check_worker_failure_output(output)
})

test_that("the package's exceptions carry their condition class's kind", {
  skip_if_no_keras()
  errors <- doodles:::doodles_py("errors")
  kinds <- doodles:::python_error_kinds
  for (type in names(kinds)) {
    expect_identical(errors[[type]]$kind, kinds[[type]])
    expect_true(reticulate::import_builtins()$issubclass(errors[[type]], errors$DoodlesError))
  }
  expect_true(reticulate::import_builtins()$issubclass(errors$WorkerFailure, reticulate::import_builtins()$RuntimeError))
  # The producer's module keeps the names of its errors.
  expect_true(reticulate::py_eval(
    "__import__('doodles_py.batches').batches.DrawingError is __import__('doodles_py.errors').errors.DrawingError"))
})
