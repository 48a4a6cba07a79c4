# The bridge to Python Keras: float32 batches in R's memory layout, training that calls R only on
# the main thread, callbacks, and real training on CPU.

test_that("batches reach NumPy as C-ordered float32 with R's indices", {
  skip_if_no_keras()
  bridge <- doodles:::bridge_py()
  unconverted <- reticulate::import_from_path("doodles_py", convert = FALSE,
                                              path = system.file("python", package = "doodles"))
  x <- array(seq_len(2 * 3 * 4 * 2), c(2, 3, 4, 2))
  converted <- unconverted$as_model_input(x)
  expect_equal(reticulate::py_to_r(converted$dtype$name), "float32")
  expect_true(reticulate::py_to_r(converted$flags$c_contiguous))
  element <- reticulate::py_to_r(converted[1L][2L][3L][1L])
  expect_equal(element, x[2, 3, 4, 2])
  both <- bridge$as_model_input(list(x, matrix(1:6, 2)))
  expect_equal(both[[2]], matrix(1:6, 2))
})

# A model and batches small enough to make every step fast.
tiny_setup <- function() {
  model <- get_model("mlp", input_shape = c(4, 4), num_classes = 3, units = 8)
  batch <- list(array(runif(5 * 16), c(5, 4, 4, 1)), diag(3)[c(1, 2, 3, 1, 2), ])
  list(model = model, batch = batch)
}

test_that("fit_doodles calls the generator on the main thread only, once per step", {
  skip_if_no_keras()
  setup <- tiny_setup()
  calls <- 0
  generator <- function() {
    calls <<- calls + 1
    setup$batch
  }
  validation_calls <- 0
  validation <- function() {
    validation_calls <<- validation_calls + 1
    setup$batch
  }
  bridge <- doodles:::bridge_py()
  bridge$reset_call_counts()
  history <- fit_doodles(setup$model, generator, steps_per_epoch = 4, epochs = 3,
                         validation_data = validation, validation_steps = 2, verbose = 0)
  expect_equal(calls, 12)
  expect_equal(validation_calls, 6)
  # The first training batch is pulled by R itself (checked against the model), the rest by Python.
  expect_equal(bridge$r_calls, list(main = 17L, other = 0L))
  expect_equal(history$epoch, 1:3)
  expect_true(all(c("loss", "accuracy", "top_3_accuracy", "val_loss", "val_accuracy",
                    "data_seconds", "train_seconds") %in% names(history)))
  expect_true(all(history$data_seconds >= 0 & history$train_seconds > 0))
  # Validation on the training batch with the weights at the end of the epoch equals evaluate().
  evaluated <- setup$model$evaluate(bridge$as_model_input(setup$batch[[1]]),
                                    bridge$as_model_input(setup$batch[[2]]), verbose = 0L,
                                    return_dict = TRUE)
  expect_equal(history$val_loss[3], evaluated$loss, tolerance = 1e-5)
})

test_that("Keras' own fit() would call a generator from other threads", {
  # Why fit_doodles() does not hand R closures to model.fit(): its data pipeline pulls from
  # background threads. Shown with a Python generator (an R one could hang the session).
  skip_if_no_keras()
  keras <- keras_module()
  reticulate::py_run_string(paste(
    "import threading, numpy as np",
    "doodles_threads = set()",
    "def doodles_batches():",
    "    while True:",
    "        doodles_threads.add(threading.get_ident())",
    "        yield np.zeros((4, 4, 4, 1), 'float32'), np.eye(3, dtype='float32')[[0, 1, 2, 0]]",
    sep = "\n"))
  model <- tiny_setup()$model
  model$fit(reticulate::py_eval("doodles_batches()", convert = FALSE), steps_per_epoch = 3L,
            epochs = 1L, verbose = 0L, shuffle = FALSE)
  threads <- unlist(reticulate::py_eval("list(doodles_threads)"))
  main_thread <- reticulate::py_eval("threading.main_thread().ident")
  expect_true(any(threads != main_thread))
})

test_that("callbacks see the epoch logs and can stop training", {
  skip_if_no_keras()
  setup <- tiny_setup()
  keras <- keras_module()
  log_file <- withr::local_tempfile(fileext = ".csv")
  callbacks <- list(
    keras$callbacks$CSVLogger(log_file),
    keras$callbacks$EarlyStopping(monitor = "val_loss", min_delta = 100, patience = 1L)
  )
  history <- fit_doodles(setup$model, function() setup$batch, steps_per_epoch = 2, epochs = 10,
                         validation_data = function() setup$batch, validation_steps = 1,
                         callbacks = callbacks, verbose = 0)
  expect_equal(nrow(history), 2)
  log <- utils::read.csv(log_file)
  expect_equal(log$epoch, 0:1)
  expect_equal(log$val_loss, history$val_loss, tolerance = 1e-6)
})

test_that("a generator returning NULL ends the epoch", {
  skip_if_no_keras()
  setup <- tiny_setup()
  left <- 3
  generator <- function() {
    left <<- left - 1
    if (left < 0) NULL else setup$batch
  }
  history <- fit_doodles(setup$model, generator, steps_per_epoch = 10, epochs = 1, verbose = 0)
  expect_equal(nrow(history), 1)
  expect_equal(left, -1)
  expect_error(fit_doodles(setup$model, function() list(1), steps_per_epoch = 1, verbose = 0),
               "list\\(x, y\\)")
  expect_error(fit_doodles("model", function() NULL, steps_per_epoch = 1),
               class = "doodles_error_argument")
  expect_error(fit_doodles(setup$model, function() NULL), "steps_per_epoch")
})

test_that("a small CNN learns synthetic shapes well above chance on CPU", {
  skip_if_no_keras()
  keras_module()$utils$set_random_seed(42L)
  rows <- shape_drawings(480, seed = 1)
  con <- sample_sqlite(rows)
  train_ids <- 1:400
  it <- train_generator(con, train_ids, batch_size = 32, scale = 0.125, seed = 1, threads = 1)
  model <- get_model("lenet", input_shape = attr(it, "image_shape"), num_classes = 4,
                     optimizer = 0.002)
  history <- fit_doodles(model, it, epochs = 4, verbose = 0)
  held_out <- test_generator(rows[401:480, ], batch_size = 40, scale = 0.125, threads = 1)
  top3 <- predict_top3(model, held_out, words = con)
  accuracy <- mean(top3$word1 == rows$word[401:480])
  # Chance is 1/4.
  expect_gt(accuracy, 0.8)
  expect_lt(history$loss[4], history$loss[1])
})

test_that("a model with side inputs trains on generator features", {
  skip_if_no_keras()
  rows <- shape_drawings(64, seed = 2)
  rows$recognized <- rows$label_int %% 2 == 0
  con <- sample_sqlite(rows)
  it <- train_generator(con, rows$id, batch_size = 16, scale = 0.125, seed = 1, threads = 1,
                        features = c("recognized", "n_strokes"))
  model <- get_model("mlp", input_shape = attr(it, "image_shape"), num_classes = 4, units = 16,
                     side_features = attr(it, "n_features"))
  history <- fit_doodles(model, it, epochs = 2, verbose = 0)
  expect_equal(nrow(history), 2)
  test_it <- test_generator(rows, batch_size = 30, scale = 0.125, features = c("n_strokes"),
                            con = con, threads = 1)
  expect_equal(attr(test_it, "n_features"), 1L)
})

test_that("a model trained on the real sample writes a valid, scored submission", {
  skip_if_no_keras()
  keras_module()$utils$set_random_seed(7L)
  con <- sample_sqlite()
  words <- DBI::dbGetQuery(con, "SELECT word FROM labels ORDER BY label_int")$word
  it <- train_generator(con, sample_train()$id, batch_size = 100, scale = 0.125, seed = 1,
                        threads = 1)
  model <- get_model("lenet", input_shape = attr(it, "image_shape"),
                     num_classes = attr(it, "num_classes"))
  fit_doodles(model, it, epochs = 2, verbose = 0)
  top3 <- predict_top3(model, test_generator(con, batch_size = 250, scale = 0.125, threads = 1),
                       words = con)
  dir <- withr::local_tempdir()
  path <- write_submission(top3, file.path(dir, "submission.csv.zip"))
  utils::unzip(path, exdir = dir)
  submission <- utils::read.csv(file.path(dir, "submission.csv"), colClasses = "character")
  answers <- utils::read.csv(sample_file("test_answers.csv"), colClasses = "character")
  expect_equal(names(submission), c("key_id", "word"))
  expect_equal(submission$key_id, sample_test()$key_id)
  predicted <- strsplit(submission$word, " ", fixed = TRUE)
  expect_true(all(lengths(predicted) == 3))
  expect_true(all(unlist(predicted) %in% gsub(" ", "_", words)))
  expect_false(any(vapply(predicted, anyDuplicated, 1L) > 0))
  score <- map_at_k(answers, submission)
  expect_equal(score, map_at_k(answers$word, top3[match(answers$key_id, top3$key_id), -1]))
})
