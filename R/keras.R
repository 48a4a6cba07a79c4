# Training from R. The Keras-form generators of a doodles connection are Keras datasets whose
# batches a Rust producer makes: fit_doodles() hands them to Keras' own fit(). An R function (the
# article's closure, or any DBI connection's generator) may only run on R's main thread
# (rstudio/keras #986, #1073; keras3 #1197), which Keras' tf.data threads are not: the loop in
# inst/python/doodles_py/training.py pulls each of its batches on the main thread and calls
# train_on_batch(), with the callbacks fit() runs. So does a worker of a multi-worker training,
# whose Keras 3 fit() fails under MultiWorkerMirroredStrategy (see the bridge).

#' Train a Keras model on a doodles generator
#'
#' Trains `model` on batches from `generator`. A Keras-form generator of a doodles connection
#' ([train_generator()] with `format = "uint8"` or `"float32"`, the fastest) is a Keras dataset:
#' `fit_doodles()` is then Keras' own `fit()` on it, whose threads take the batches from the
#' Rust producer without R, with the package's epoch timings. Any other generator (a function of
#' no arguments returning `list(x, y)`, such as `format = "array"`'s) is called only on R's main
#' thread, its R arrays converted to float32. Needs neither the keras nor the keras3 R package.
#' The batches' form is checked against the model's input before training starts: uint8 batches
#' need a model built with `input_dtype = "uint8"`, and float batches one without.
#'
#' @param model A compiled Python Keras model (e.g. from [get_model()]).
#' @param generator A generator of [train_generator()], or a function returning `list(x, y)`, `x`
#'   an array or a list of arrays (several inputs); returning `NULL` ends the epoch early.
#' @param steps_per_epoch Batches per epoch; by default the dataset's length (the generator's
#'   `steps_per_epoch` attribute).
#' @param epochs Index of the last epoch to train (as in Keras).
#' @param validation_data A generator for validation batches (in the form of `generator`), or
#'   `NULL`.
#' @param validation_steps Batches per validation; by default the validation generator's
#'   `steps_per_epoch` attribute.
#' @param callbacks A list of Python Keras callbacks (`keras_module()$callbacks$...`); they see the
#'   epoch logs, `val_loss` included, as in Keras' `fit()`.
#' @param verbose 0 (silent), 1 (progress bar) or 2 (a line per epoch).
#' @param initial_epoch Epoch at which to start (to resume training).
#' @section Several workers:
#' With a model built under a multi-worker strategy (see [training_strategy()]), every worker
#' calls `fit_doodles()` with its own generator (its shard, see `workers` in [train_generator()])
#' and the same `steps_per_epoch`, `epochs` and `validation_steps`: each step is one step of all
#' workers together, its gradients all-reduced over them, and the logs every worker sees (and its
#' callbacks act on) are the means over all workers. At the end of every epoch the statistics
#' layers keep for themselves (BatchNormalization's moving mean and variance) are averaged over
#' the workers, so that all workers hold the same model. When another worker dies or stalls, it
#' stops with an error of class `doodles_error_workers` saying which worker and in which epoch
#' and step.
#' @return A data frame with one row per epoch: `epoch` (1-based), the loss and metrics (and
#'   their `val_` forms) as Keras logs them, `data_seconds` (time spent waiting for the generator:
#'   for a Keras dataset, the time Keras' data thread waited for the producer, which overlaps
#'   training) and `train_seconds` (the rest of the epoch).
#' @export
#' @examples
#' \dontrun{
#' con <- DBI::dbConnect(doodles_duckdb(), dbdir = "doodles.duckdb")
#' it <- train_generator(con, ids, batch_size = 32, scale = 0.25, format = "uint8")
#' model <- get_model("mobilenet_v1", input_shape = c(64, 64),
#'                    num_classes = attr(it, "num_classes"), input_dtype = "uint8")
#' history <- fit_doodles(model, it, epochs = 2)
#' }
fit_doodles <- function(model, generator, steps_per_epoch = NULL, epochs = 1,
                        validation_data = NULL, validation_steps = NULL, callbacks = NULL,
                        verbose = if (interactive()) 1 else 2, initial_epoch = 0) {
  assert_function(generator)
  assert_count(steps_per_epoch, positive = TRUE, null.ok = TRUE)
  assert_count(epochs, positive = TRUE)
  assert_count(initial_epoch)
  assert_choice(verbose, 0:2)
  assert_list(callbacks, null.ok = TRUE)
  assert_function(validation_data, null.ok = TRUE)
  assert_count(validation_steps, positive = TRUE, null.ok = TRUE)
  check_keras_model(model)
  strategy <- tryCatch(model$distribute_strategy, error = function(e) NULL)
  multi_worker <- !is.null(strategy) && isTRUE(bridge_py()$is_multi_worker(strategy))
  if (inherits(generator, "doodles_batches") && !multi_worker) {
    return(fit_keras(model, generator, steps_per_epoch, epochs, validation_data,
                     validation_steps, callbacks, verbose, initial_epoch))
  }
  steps_per_epoch <- steps_per_epoch %||% attr(generator, "steps_per_epoch")
  assert_count(steps_per_epoch, positive = TRUE)
  if (!is.null(validation_data)) {
    validation_steps <- validation_steps %||% attr(validation_data, "steps_per_epoch")
    assert_count(validation_steps, positive = TRUE)
  }
  first_batch <- if (inherits(generator, "doodles_batches")) {
    check_generator_for_model(model, generator)
    NULL
  } else {
    batch <- generator()
    if (!is.null(batch)) check_batch_for_model(model, batch[[1]])
    list(batch)
  }
  result <- tryCatch(
    with_producer_errors(bridge_py()$fit_loop(
      model, python_source(generator), pulled = first_batch,
      steps_per_epoch = as.integer(steps_per_epoch), epochs = as.integer(epochs),
      callbacks = callbacks, verbose = as.integer(verbose),
      validation_fn = python_source(validation_data),
      validation_steps = if (is.null(validation_data)) NULL else as.integer(validation_steps),
      initial_epoch = as.integer(initial_epoch)
    )),
    error = worker_failure
  )
  history_frame(result[[1]], result[[2]], initial_epoch)
}

# A worker of a multi-worker training gone (a WorkerFailure of inst/python/doodles_py/errors.py):
# its one-line account as doodles_error_workers; any other error `e` as it is.
worker_failure <- function(e) {
  failure <- python_exception(e)
  if (is.null(failure) || failure$kind != "workers") stop(e)
  abort_doodles(sub("^doodles: ", "", failure$message), kind = "workers", call = NULL)
}

# What the bridge's loop pulls from: the producer's Python object itself, or an R function.
python_source <- function(generator) {
  if (inherits(generator, "doodles_batches")) attr(generator, "py_object") else generator
}

# fit_doodles() on a producer's batches: Keras' own fit(), which takes them on its own threads.
fit_keras <- function(model, generator, steps_per_epoch, epochs, validation_data,
                      validation_steps, callbacks, verbose, initial_epoch) {
  check_generator_for_model(model, generator)
  if (!is.null(validation_data)) {
    if (!inherits(validation_data, "doodles_batches")) {
      abort_doodles(c("`validation_data` must be a generator in the form of `generator`.",
                      i = sprintf("Make it with `format = \"%s\"`.", attr(generator, "format"))),
                    kind = "argument")
    }
    check_generator_for_model(model, validation_data)
  }
  batches <- attr(generator, "py_object")
  timing <- batches_py()$timing_callback(batches, legacy = model_keras_version(model) == "2")
  history <- with_producer_errors(model$fit(
    batches, epochs = as.integer(epochs),
    steps_per_epoch = if (!is.null(steps_per_epoch)) as.integer(steps_per_epoch),
    validation_data = if (!is.null(validation_data)) attr(validation_data, "py_object"),
    validation_steps = if (!is.null(validation_steps)) as.integer(validation_steps),
    callbacks = c(callbacks, list(timing)), verbose = as.integer(verbose),
    initial_epoch = as.integer(initial_epoch), shuffle = FALSE
  ))
  timings <- lapply(r_value(timing$timings), function(t) {
    list(data_seconds = t$data_seconds, train_seconds = t$epoch_seconds - t$data_seconds)
  })
  history_frame(history, timings, initial_epoch)
}

# The data frame fit_doodles() returns: a row per epoch trained.
history_frame <- function(history, timings, initial_epoch) {
  logs <- lapply(r_value(history$history), function(values) as.numeric(unlist(values)))
  n <- length(timings)
  data.frame(
    epoch = as.integer(initial_epoch) + seq_len(n),
    as.data.frame(lapply(logs, utils::tail, n), optional = TRUE),
    data_seconds = vapply(timings, function(t) as.numeric(t[["data_seconds"]]), 1),
    train_seconds = vapply(timings, function(t) as.numeric(t[["train_seconds"]]), 1)
  )
}

# Legacy keras (Keras 2) wraps an R generator in an iterator that calls it one batch ahead and
# passes what it returns to `tuple()`, so the `NULL` that ends a test generator became a warning
# ("Error occurred in generator") after every predict(). This method, which keras finds by the
# generator's class, ends the iteration cleanly on that `NULL` instead (reticulate's `completed`).
#' @exportS3Method keras::as_generator
as_generator.doodles_test_generator <- function(x) {
  check_calling_model(x)
  keras_array <- getExportedValue("keras", "keras_array")
  reticulate::py_iterator(function() {
    batch <- x()
    if (is.null(batch)) return(NULL)
    # (x, []) as keras' own method gives for batches without targets.
    do.call(reticulate::tuple, c(keras_array(batch), list(list())))
  }, completed = NULL, prefetch = 1L)
}

# Legacy keras' own wrapping of an R function, once the batches' form is checked against the model.
#' @exportS3Method keras::as_generator
as_generator.doodles_train_generator <- function(x) {
  check_calling_model(x)
  NextMethod()
}

# Legacy keras' fit(), fit_generator() and predict() hand as_generator() the generator alone; the
# model is their `object` argument, in the nearest caller's frame that holds a Keras model by that
# name. Its input is checked against the generator's format before the first batch: Keras 2 casts
# uint8 batches to a float input without a word and trains on unscaled bytes.
check_calling_model <- function(generator) {
  for (frame in rev(sys.frames())) {
    model <- get0("object", envir = frame, inherits = FALSE)
    if (is_keras_model(model)) {
      check_generator_for_model(model, generator, call = NULL)
      return(invisible(TRUE))
    }
  }
  invisible(FALSE)
}
