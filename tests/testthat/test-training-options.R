# Mixed precision, gradient accumulation and learning-rate schedules (get_model(),
# lr_schedule_cosine(), training_callbacks()).

test_that("a mixed_bfloat16 model computes in bfloat16, outputs float32 and learns the shapes", {
  skip_if_no_keras()
  con <- shapes_store(shape_drawings(640, seed = 21))
  held_out <- shape_drawings(200, seed = 22)
  keras <- keras_module()
  keras$utils$set_random_seed(5L)
  it <- train_generator(con, 1:640, batch_size = 32, scale = 0.125, seed = 2, format = "uint8")
  model <- get_model("lenet", input_shape = c(32, 32), num_classes = 4, input_dtype = "uint8",
                     precision = "mixed_bfloat16")
  # The global policy is put back; the layers keep theirs, the softmax head float32.
  expect_identical(keras$mixed_precision$global_policy()$name, "float32")
  policies <- vapply(model$layers, function(layer) layer$dtype_policy$name, "")
  expect_true("mixed_bfloat16" %in% policies)
  expect_identical(model$get_layer("predictions")$dtype_policy$name, "float32")
  fit_doodles(model, it, epochs = 5, verbose = 0)
  tg <- test_generator(held_out, batch_size = 64, scale = 0.125, format = "uint8")
  expect_identical(r_value(model$outputs[[1]]$dtype), "float32")
  top3 <- predict_top3(model, tg, words = c("bar", "column", "cross", "square"))
  expect_gt(map_at_k(held_out$word, top3, k = 1), 0.8)
  expect_error(get_model("lenet", input_shape = c(32, 32), num_classes = 4, precision = "half"),
               class = "doodles_error_argument")
})

test_that("accumulating the gradients of N batches is one step on a batch N times larger (SGD)", {
  skip_if_no_keras()
  keras <- keras_module()
  set.seed(4)
  x <- array(runif(24 * 36), c(24, 6, 6, 1))
  y <- diag(3)[sample(3, 24, replace = TRUE), ]
  keras$utils$set_random_seed(1L)
  accumulated <- get_model("mlp", input_shape = c(6, 6), num_classes = 3, units = 5,
                           optimizer = keras$optimizers$SGD(learning_rate = 0.5), accumulate = 4L)
  one_step <- get_model("mlp", input_shape = c(6, 6), num_classes = 3, units = 5,
                        optimizer = keras$optimizers$SGD(learning_rate = 0.5))
  one_step$set_weights(accumulated$get_weights())
  start <- lapply(accumulated$get_weights(), as.array)
  for (k in 0:3) {
    rows <- k * 6 + 1:6
    accumulated$train_on_batch(x[rows, , , , drop = FALSE], y[rows, ])
    # No update before the 4th batch.
    if (k < 3) expect_equal(lapply(accumulated$get_weights(), as.array), start, tolerance = 0)
  }
  one_step$train_on_batch(x, y)
  after <- lapply(one_step$get_weights(), as.array)
  expect_false(isTRUE(all.equal(after, start)))
  expect_equal(lapply(accumulated$get_weights(), as.array), after, tolerance = 1e-5)
})

test_that("the cosine schedule warms up linearly, then falls along a half cosine", {
  skip_if_no_keras()
  schedule <- lr_schedule_cosine(0.01, decay_steps = 10, warmup_steps = 5, alpha = 0.1)
  rate <- function(step) as.numeric(r_value(keras_module()$ops$convert_to_numpy(schedule(step))))
  expect_equal(vapply(c(0, 1, 5), rate, 1), c(0, 0.002, 0.01), tolerance = 1e-7)
  # Half way down the cosine: alpha + (1 - alpha) / 2 of the rate; at the end and after: alpha.
  expect_equal(rate(10), 0.01 * (0.1 + 0.9 * 0.5), tolerance = 1e-7)
  expect_equal(vapply(c(15, 30), rate, 1), c(0.001, 0.001), tolerance = 1e-7)
  expect_equal(rate(3), 0.006, tolerance = 1e-7)
  expect_error(lr_schedule_cosine(0.01, decay_steps = 0), class = "doodles_error_argument")
})

test_that("the warm-up raises the learning rate over its steps; reduce_lr = FALSE drops the plateau", {
  skip_if_no_keras()
  keras <- keras_module()
  model <- get_model("mlp", input_shape = c(4, 4), num_classes = 2, units = 3,
                     optimizer = keras$optimizers$SGD(learning_rate = 0.4), metrics = list())
  dir <- withr::local_tempdir()
  callbacks <- training_callbacks("mlp", 4, 1, models_dir = dir, logs_dir = dir, warmup_steps = 4L,
                                  monitor = "val_loss", write = FALSE, verbose = FALSE)
  rates <- numeric()
  record <- keras$callbacks$LambdaCallback(on_train_batch_end = function(batch, logs) {
    rates <<- c(rates, as.numeric(r_value(keras$ops$convert_to_numpy(model$optimizer$learning_rate))))
  })
  x <- array(runif(12 * 16), c(12, 4, 4, 1))
  y <- diag(2)[rep(1:2, 6), ]
  model$fit(x, y, batch_size = 2L, epochs = 1L, verbose = 0L, validation_data = list(x, y),
            callbacks = c(callbacks$callbacks, list(record)))
  # Step k (from 0) trains at (k + 1) / 4 of the rate, then at the rate itself.
  expect_equal(rates, c(0.1, 0.2, 0.3, 0.4, 0.4, 0.4), tolerance = 1e-6)
  classes <- function(cb) vapply(cb$callbacks, function(c) class(c)[1], "")
  expect_true(any(grepl("ReduceLROnPlateau", classes(callbacks))))
  without <- training_callbacks("mlp", 4, 1, models_dir = dir, logs_dir = dir, reduce_lr = FALSE,
                                write = FALSE)
  expect_false(any(grepl("ReduceLROnPlateau", classes(without))))
})
