# Model builders: names without Python, shapes, MobileNet v1's multipliers, ImageNet-style weights
# on gray input, DIGITS-style user models, side inputs.

shape_of <- function(shape) vapply(shape, function(d) if (is.null(d)) NA_integer_ else as.integer(d), 1L)

test_that("list_models names the package's networks and Keras applications without Python", {
  listed <- callr::r(function() {
    list(models = doodles::list_models(),
         python_started = reticulate::py_available(initialize = FALSE))
  })
  expect_false(listed$python_started)
  models <- listed$models
  expect_type(models, "character")
  expect_true(all(c("mobilenet_v1", "lenet", "mlp", "mobilenet_v2", "resnet50", "densenet121",
                    "efficientnet_b0", "inception_v3", "xception") %in% models))
  expect_false(anyDuplicated(models) > 0)
})

test_that("every listed application exists in Keras", {
  skip_if_no_keras()
  applications <- doodles:::keras_applications
  exists_in_keras <- vapply(applications, reticulate::py_has_attr,
                            logical(1), x = keras_module()$applications)
  expect_true(all(exists_in_keras), info = paste(applications[!exists_in_keras], collapse = ", "))
})

test_that("get_model builds gray and colour models with a softmax over the classes", {
  skip_if_no_keras()
  gray <- get_model("mobilenet_v2", input_shape = c(32, 32), num_classes = 7, alpha = 0.35)
  expect_equal(shape_of(gray$input_shape), c(NA, 32L, 32L, 1L))
  expect_equal(shape_of(gray$output_shape), c(NA, 7L))
  expect_equal(gray$layers[[length(gray$layers)]]$get_config()$activation, "softmax")
  colour <- get_model("lenet", input_shape = c(28, 28, 3), num_classes = 4, color = TRUE)
  expect_equal(shape_of(colour$input_shape), c(NA, 28L, 28L, 3L))
  x <- array(runif(2 * 28 * 28 * 3), c(2, 28, 28, 3))
  p <- colour$predict(doodles:::bridge_py()$as_model_input(x), verbose = 0L)
  expect_equal(rowSums(p), c(1, 1), tolerance = 1e-5)
  mlp <- get_model("mlp", input_shape = c(16, 16), num_classes = 3, units = c(10, 5))
  expect_equal(mlp$count_params(), (256 * 10 + 10) + (10 * 5 + 5) + (5 * 3 + 3))
})

test_that("get_model compiles with Adam, categorical cross-entropy and top-3 accuracy", {
  skip_if_no_keras()
  model <- get_model("mlp", input_shape = c(8, 8), num_classes = 5, optimizer = 0.01)
  expect_equal(model$optimizer$learning_rate$numpy(), 0.01, tolerance = 1e-6)
  expect_equal(class(model$optimizer)[1], "keras.src.optimizers.adam.Adam")
  expect_equal(model$loss, "categorical_crossentropy")
  sgd <- keras_module()$optimizers$SGD(learning_rate = 0.1)
  expect_equal(class(get_model("mlp", input_shape = c(8, 8), num_classes = 5,
                               optimizer = sgd)$optimizer)[1],
               "keras.src.optimizers.sgd.SGD")
  top3 <- metric_top3_accuracy()
  np <- reticulate::import("numpy", convert = FALSE)
  f32 <- function(x) np$array(x, dtype = "float32")
  top3$update_state(f32(rbind(c(0, 0, 0, 1), c(1, 0, 0, 0))),
                    f32(rbind(c(0.4, 0.3, 0.2, 0.1), c(0.1, 0.2, 0.3, 0.4))))
  expect_equal(top3$result()$numpy(), 0)
  top3$update_state(f32(rbind(c(0, 0, 1, 0))), f32(rbind(c(0.4, 0.3, 0.2, 0.1))))
  expect_equal(top3$result()$numpy(), 1 / 3, tolerance = 1e-6)
  uncompiled <- get_model("mlp", input_shape = c(8, 8), num_classes = 5, compile = FALSE)
  expect_false(uncompiled$compiled)
  expect_true(model$compiled)
})

test_that("MobileNet v1 follows alpha and depth_multiplier", {
  skip_if_no_keras()
  channels <- function(model, type) {
    layers <- Filter(function(l) class(l)[1] == type, model$layers)
    vapply(layers, function(l) shape_of(l$output$shape)[4], 1L)
  }
  full <- build_mobilenet_v1(c(64, 64, 1), num_classes = 10)
  expect_equal(channels(full, "keras.src.layers.convolutional.conv2d.Conv2D"),
               c(32L, 64L, 128L, 128L, 256L, 256L, rep(512L, 6), 1024L, 1024L))
  expect_equal(shape_of(full$output_shape), c(NA, 10L))
  thin <- build_mobilenet_v1(c(64, 64, 1), num_classes = 10, alpha = 0.25, depth_multiplier = 2)
  expect_equal(channels(thin, "keras.src.layers.convolutional.conv2d.Conv2D"),
               c(32L, 16L, 32L, 32L, 64L, 64L, rep(128L, 6), 256L, 256L))
  # The depthwise convolutions double their input channels.
  expect_equal(channels(thin, "keras.src.layers.convolutional.depthwise_conv2d.DepthwiseConv2D"),
               2L * c(32L, 16L, 32L, 32L, 64L, 64L, rep(128L, 6), 256L))
})

test_that("input shapes and names are checked", {
  skip_if_no_keras()
  expect_error(get_model("lenet", input_shape = c(28, 28, 3), num_classes = 2),
               "3 channels", class = "doodles_error_argument")
  expect_error(get_model("alexnet", num_classes = 2), "alexnet")
  expect_error(get_model("lenet", input_shape = c(28, 28), num_classes = 0), "num_classes")
  expect_error(get_model("lenet", input_shape = c(28, 28), num_classes = 2, weights = "imagenet"),
               "Keras applications only", class = "doodles_error_argument")
})

test_that("RGB weights on gray input sum the first convolution's kernels", {
  skip_if_no_keras()
  keras <- keras_module()
  keras$utils$set_random_seed(1L)
  # An RGB model with weights we set (random, not trained) stands in for ImageNet's, which need
  # internet access; it is saved where Keras applications read weights files from.
  rgb <- keras$applications$MobileNetV2(input_shape = reticulate::tuple(32L, 32L, 3L), alpha = 0.35,
                                        include_top = FALSE, weights = NULL, pooling = "avg")
  weights_file <- withr::local_tempfile(fileext = ".weights.h5")
  rgb$save_weights(weights_file)
  model <- get_model("mobilenet_v2", input_shape = c(32, 32), num_classes = 5,
                     weights = weights_file, alpha = 0.35)
  gray_base <- model$get_layer(rgb$name)
  rgb_kernel <- rgb$get_layer("Conv1")$get_weights()[[1]]
  gray_kernel <- gray_base$get_layer("Conv1")$get_weights()[[1]]
  expect_equal(dim(gray_kernel), c(3L, 3L, 1L, dim(rgb_kernel)[4]))
  expect_equal(gray_kernel[, , 1, ], apply(rgb_kernel, c(1, 2, 4), sum), tolerance = 1e-6)
  # A gray drawing gives the features the RGB network gives it in three equal channels.
  gray_x <- array(runif(2 * 32 * 32), c(2, 32, 32, 1))
  rgb_x <- array(rep(gray_x, 3), c(2, 32, 32, 3))
  bridge <- doodles:::bridge_py()
  expect_equal(gray_base$predict(bridge$as_model_input(gray_x), verbose = 0L),
               rgb$predict(bridge$as_model_input(rgb_x), verbose = 0L), tolerance = 1e-4)
})

test_that("weight copying sums the kernels that read the colour channels", {
  skip_if_no_keras()
  keras <- keras_module()
  build <- function(channels) {
    inputs <- keras$Input(shape = reticulate::tuple(6L, 6L, channels))
    x <- keras$layers$Conv2D(2L, c(3L, 3L), name = "first")(inputs)
    x <- keras$layers$Conv2D(2L, c(1L, 1L), name = "second")(x)
    keras$Model(inputs, x)
  }
  rgb <- build(3L)
  gray <- build(1L)
  first <- array(seq_len(3 * 3 * 3 * 2), c(3, 3, 3, 2))
  rgb$get_layer("first")$set_weights(list(first, array(c(0.5, -0.5))))
  adapted <- doodles:::bridge_py()$copy_weights_to_gray(rgb, gray)
  expect_equal(adapted, "first")
  expect_equal(gray$get_layer("first")$get_weights()[[1]][, , 1, ], apply(first, c(1, 2, 4), sum))
  expect_equal(gray$get_layer("first")$get_weights()[[2]], array(c(0.5, -0.5)))
  expect_equal(gray$get_layer("second")$get_weights(), rgb$get_layer("second")$get_weights())
})

test_that("ImageNet weights that cannot be fetched give a clear error", {
  skip_if_no_keras()
  cached <- file.path(path.expand("~"), ".keras", "models",
                      "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5")
  skip_if(file.exists(cached), "the ImageNet weights are in Keras' cache")
  os <- reticulate::import("os")
  # An unreachable proxy makes the download fail even where the internet is reachable.
  old <- os$environ$get("HTTPS_PROXY")
  os$environ$update(list(HTTPS_PROXY = "http://127.0.0.1:9", https_proxy = "http://127.0.0.1:9"))
  on.exit({
    os$environ$pop("https_proxy", NULL)
    if (is.null(old)) os$environ$pop("HTTPS_PROXY", NULL) else os$environ$update(list(HTTPS_PROXY = old))
  })
  expect_error(get_model("mobilenet_v2", input_shape = c(96, 96), num_classes = 3,
                         weights = "imagenet", alpha = 0.35),
               "could not be loaded", class = "doodles_error_weights")
})

test_that("side features are merged with the image network before the softmax", {
  skip_if_no_keras()
  model <- get_model("lenet", input_shape = c(28, 28), num_classes = 4, side_features = 3)
  expect_length(model$inputs, 2)
  expect_equal(shape_of(model$inputs[[2]]$shape), c(NA, 3L))
  expect_equal(shape_of(model$get_layer("merge_features")$output$shape), c(NA, 503L))
  x <- list(array(runif(2 * 28 * 28), c(2, 28, 28, 1)), matrix(runif(6), 2))
  p <- model$predict(doodles:::bridge_py()$as_model_input(x), verbose = 0L)
  expect_equal(dim(p), c(2L, 4L))
})

test_that("a model can be a function of DIGITS-style parameters", {
  skip_if_no_keras()
  seen <- NULL
  lenet_digits <- function(params) {
    seen <<- params
    list(model = build_lenet(params$input_shape, params$classes), train_batch_size = 64,
         validation_batch_size = 100)
  }
  spec <- model_from_params(lenet_digits, num_classes = 10, input_shape = c(28, 28), gpus = 0)
  expect_equal(seen, list(classes = 10L, input_shape = c(28L, 28L, 1L), channels = 1L, gpus = 0L))
  expect_equal(spec$loss, "categorical_crossentropy")
  expect_equal(spec$train_batch_size, 64L)
  expect_equal(spec$validation_batch_size, 100L)
  expect_equal(spec$model$loss, "categorical_crossentropy")
  expect_error(model_from_params(function(params) list(net = 1), 10, c(28, 28)),
               "must return a list", class = "doodles_error_model")
  wrong_classes <- function(params) list(model = build_mlp(params$input_shape, 3))
  expect_error(model_from_params(wrong_classes, 10, c(28, 28)), "output shape is \\(NA, 3\\)",
               class = "doodles_error_model")
})

test_that("metric_map3() is Kaggle's MAP@3, with one-hot or sparse labels, in Keras 3 and 2", {
  skip_if_no_keras()
  set.seed(3)
  x <- array(runif(50 * 16), c(50, 4, 4, 1))
  truth <- sample(0:5, 50, replace = TRUE)
  for (version in c("3", if (reticulate::py_module_available("tf_keras")) "2")) {
    model <- get_model("mlp", input_shape = c(4, 4), num_classes = 6, units = 3,
                       keras_version = version)
    p <- as.matrix(model$predict(x, verbose = 0L))
    ranked <- t(apply(p, 1, order, decreasing = TRUE))[, 1:3] - 1L
    expected <- map_at_k(truth, ranked)
    # Batches of 7 (the last of 1): the metric is the mean over the rows, not over batches.
    one_hot <- model$evaluate(x, diag(6)[truth + 1, ], batch_size = 7L, verbose = 0L,
                              return_dict = TRUE)
    expect_equal(one_hot$map_3, expected, tolerance = 1e-6, label = paste("Keras", version))
    model$compile(optimizer = "adam", loss = "sparse_categorical_crossentropy",
                  metrics = list(metric_map3(version)))
    sparse <- model$evaluate(x, array(as.integer(truth)), batch_size = 7L, verbose = 0L,
                             return_dict = TRUE)
    expect_equal(sparse$map_3, expected, tolerance = 1e-6)
  }
  # A model saved with the metric loads back in a fresh session (the metric is registered).
  file <- tempfile(fileext = ".keras")
  get_model("mlp", input_shape = c(4, 4), num_classes = 6, units = 3)$save(file)
  logs <- callr::r(function(file, x, truth) {
    model <- doodles::keras_module()$saving$load_model(file)
    model$evaluate(x, diag(6)[truth + 1, ], verbose = 0L, return_dict = TRUE)
  }, list(file, x, truth))
  expect_true("map_3" %in% names(logs))
})

test_that("keras_version = '2' builds the same models in tf_keras, the uint8 rescaling included", {
  skip_if_no_keras()
  skip_if_not(reticulate::py_module_available("tf_keras"), "no tf_keras in the Keras environment")
  keras2 <- keras_module("2")
  applications <- doodles:::keras_applications
  exists_in_keras2 <- vapply(applications, reticulate::py_has_attr, logical(1),
                             x = keras2$applications)
  expect_true(all(exists_in_keras2), info = paste(applications[!exists_in_keras2], collapse = ", "))
  x <- array(sample(0:255, 2 * 32 * 32, replace = TRUE), c(2, 32, 32, 1))
  for (name in c("mobilenet_v1", "lenet", "mlp", "mobilenet_v2")) {
    model <- do.call(get_model, c(list(name, input_shape = c(32, 32), num_classes = 6,
                                       input_dtype = "uint8", keras_version = "2"),
                                  if (grepl("mobilenet", name)) list(alpha = 0.35)))
    expect_true(reticulate::import_builtins()$isinstance(model, keras2$Model), label = name)
    expect_identical(doodles:::model_keras_version(model), "2")
    expect_identical(keras_input_format(model), "uint8")
    expect_identical(model$get_layer("rescale_uint8")$get_config()$scale, 1 / 255)
    p <- model$predict(reticulate::np_array(x, dtype = "uint8"), verbose = 0L)
    expect_identical(dim(p), c(2L, 6L))
    expect_equal(rowSums(p), c(1, 1), tolerance = 1e-5)
  }
})
