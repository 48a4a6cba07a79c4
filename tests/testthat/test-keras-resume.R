# Resuming a training from a checkpoint of training_callbacks(): the same batches, the same
# learning-rate plateau and early stopping as the training that was not interrupted.

test_that("a training resumed from its checkpoint continues as the uninterrupted one", {
  skip_if_no_keras()
  dir <- withr::local_tempdir()
  files <- make_synthetic_doodles(file.path(dir, "data"), n = 600, classes = 4, n_test = 0, seed = 5)
  con <- DBI::dbConnect(doodles_duckdb(), dbdir = ":memory:")
  on.exit(DBI::dbDisconnect(con), add = TRUE)
  load_doodles(con, files$train)
  keras <- keras_module()
  generators <- function(initial_epoch) {
    list(
      train = train_generator(con, 1:500, batch_size = 50, scale = 0.125, seed = 1, format = "uint8",
                              initial_epoch = initial_epoch),
      validation = train_generator(con, 501:600, batch_size = 50, scale = 0.125, seed = 2,
                                   format = "uint8", initial_epoch = initial_epoch)
    )
  }
  # No epoch improves by 10: the rate halves after 2 epochs without improvement (at the end of
  # epoch 3; each epoch logs the rate it trained with), and training stops after 3, at epoch 4 of
  # 5.
  callbacks_in <- function(run, resume = NULL) {
    training_callbacks("mlp", 32, 1, models_dir = file.path(dir, run, "models"),
                       logs_dir = file.path(dir, run, "logs"), patience_stop = 3L, patience_lr = 2L,
                       min_delta = 10, verbose = FALSE, resume = resume)
  }
  new_model <- function() {
    keras$utils$set_random_seed(7L)
    get_model("mlp", input_shape = c(32, 32), num_classes = 4, input_dtype = "uint8")
  }
  train <- function(model, callbacks, epochs, initial_epoch = 0L) {
    data <- generators(initial_epoch)
    fit_doodles(model, data$train, epochs = epochs, validation_data = data$validation,
                callbacks = callbacks$callbacks, verbose = 0, initial_epoch = initial_epoch)
  }

  whole <- new_model()
  uninterrupted <- train(whole, callbacks_in("whole"), epochs = 5)
  expect_identical(uninterrupted$epoch, 1:4)
  expect_equal(uninterrupted$learning_rate, c(0.002, 0.002, 0.002, 0.001), tolerance = 1e-6)

  first <- callbacks_in("parts")
  first_part <- train(new_model(), first, epochs = 2)
  checkpoint <- first$checkpoint_file(2, first_part$val_loss[2])
  expect_true(file.exists(checkpoint))
  resumed <- callbacks_in("parts", resume = checkpoint)
  expect_identical(resumed$resumed_epochs, 2L)
  model <- keras$saving$load_model(checkpoint)
  second_part <- train(model, resumed, epochs = 5, initial_epoch = 2L)
  # Without the replayed counts it would neither halve the rate at epoch 3 nor stop after 4.
  expect_identical(second_part$epoch, 3:4)
  expect_identical(second_part$learning_rate, uninterrupted$learning_rate[3:4])
  expect_equal(second_part$val_loss, uninterrupted$val_loss[3:4], tolerance = 1e-5)
  weights <- function(m) unlist(lapply(m$get_weights(), as.numeric))
  expect_equal(weights(model), weights(whole), tolerance = 1e-5)
  # Each checkpoint holds the logs of every epoch up to its own, resumed ones included.
  last <- resumed$checkpoint_file(4, second_part$val_loss[2])
  expect_length(doodles:::checkpoint_history(last), 4)
})

test_that("a checkpoint without a history resumes with a warning, and a file that is no checkpoint fails", {
  skip_if_no_keras()
  dir <- withr::local_tempdir()
  keras_module()$utils$set_random_seed(1L)
  model <- get_model("mlp", input_shape = c(32, 32), num_classes = 4)
  plain <- file.path(dir, "plain.keras")
  model$save(plain)
  expect_warning(callbacks <- training_callbacks("mlp", 32, 1, models_dir = dir, logs_dir = dir, resume = plain),
                 "holds no training history")
  expect_identical(callbacks$resumed_epochs, 0L)
  not_zip <- file.path(dir, "not.keras")
  writeLines("hello", not_zip)
  expect_error(training_callbacks("mlp", 32, 1, models_dir = dir, logs_dir = dir, resume = not_zip),
               "is not a Keras checkpoint", class = "doodles_error_argument")
})
