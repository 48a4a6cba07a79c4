# Data-parallel training (train_nn.R -n 2) without GPUs: two logical CPU devices stand in for two
# GPUs, in a fresh R process because TensorFlow's devices are fixed once it has started.

test_that("a model built with_strategy() trains on each batch split across two replicas", {
  skip_if_not_installed("callr")
  keras_ok <- keras_available()
  skip_if_not(isTRUE(keras_ok), attr(keras_ok, "reason"))
  result <- callr::r(function() {
    library(doodles)
    use_keras_env()
    Sys.setenv(KERAS_BACKEND = "tensorflow")
    tf <- reticulate::import("tensorflow")
    cpu <- tf$config$list_physical_devices("CPU")[[1]]
    tf$config$set_logical_device_configuration(
      cpu, list(tf$config$LogicalDeviceConfiguration(), tf$config$LogicalDeviceConfiguration())
    )
    strategy <- tf$distribute$MirroredStrategy(c("/cpu:0", "/cpu:1"))
    # A layer that records the batch size each replica's step is traced with.
    reticulate::py_run_string(paste(
      "import keras",
      "seen = []",
      "class Probe(keras.layers.Layer):",
      "    def call(self, x):",
      "        seen.append(x.shape[0])",
      "        return x",
      sep = "\n"
    ))
    main <- reticulate::import_main()
    keras <- keras_module()
    model <- with_strategy(strategy, {
      inputs <- keras$Input(shape = list(4L))
      outputs <- keras$layers$Dense(3L, activation = "softmax")(main$Probe()(inputs))
      model <- keras$Model(inputs, outputs)
      model$compile(optimizer = "adam", loss = "categorical_crossentropy")
      model
    })
    batch <- function() list(array(runif(32), c(8, 4)), diag(3)[rep(1:3, length.out = 8), ])
    history <- fit_doodles(model, batch, steps_per_epoch = 2, epochs = 1, verbose = 0)
    list(
      replicas = strategy$num_replicas_in_sync,
      model_replicas = model$distribute_strategy$num_replicas_in_sync,
      seen = unlist(main$seen), loss = history$loss
    )
  }, env = c(callr::rcmd_safe_env(), TZ = "UTC"))
  expect_identical(result$replicas, 2L)
  expect_identical(result$model_replicas, 2L)
  # The replicas' step was traced with half the batch of 8 (the 8 seen is the model build).
  expect_true(4L %in% result$seen)
  expect_true(is.finite(result$loss))
})
