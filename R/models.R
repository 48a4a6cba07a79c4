# Model builders over Python Keras (through reticulate, without the R keras packages), Keras 3 or
# Keras 2 (tf_keras) as the session trains with: the Keras applications by name, MobileNet v1
# written by hand as in the article, small LeNet and MLP networks, DIGITS-style user models and a
# merge with side inputs.

# The Keras applications, by the snake-case names the R keras packages use.
keras_applications <- c(
  convnext_tiny = "ConvNeXtTiny", convnext_small = "ConvNeXtSmall",
  convnext_base = "ConvNeXtBase", convnext_large = "ConvNeXtLarge",
  convnext_xlarge = "ConvNeXtXLarge",
  densenet121 = "DenseNet121", densenet169 = "DenseNet169", densenet201 = "DenseNet201",
  efficientnet_b0 = "EfficientNetB0", efficientnet_b1 = "EfficientNetB1",
  efficientnet_b2 = "EfficientNetB2", efficientnet_b3 = "EfficientNetB3",
  efficientnet_b4 = "EfficientNetB4", efficientnet_b5 = "EfficientNetB5",
  efficientnet_b6 = "EfficientNetB6", efficientnet_b7 = "EfficientNetB7",
  efficientnet_v2b0 = "EfficientNetV2B0", efficientnet_v2b1 = "EfficientNetV2B1",
  efficientnet_v2b2 = "EfficientNetV2B2", efficientnet_v2b3 = "EfficientNetV2B3",
  efficientnet_v2s = "EfficientNetV2S", efficientnet_v2m = "EfficientNetV2M",
  efficientnet_v2l = "EfficientNetV2L",
  inception_resnet_v2 = "InceptionResNetV2", inception_v3 = "InceptionV3",
  mobilenet = "MobileNet", mobilenet_v2 = "MobileNetV2",
  mobilenet_v3_large = "MobileNetV3Large", mobilenet_v3_small = "MobileNetV3Small",
  nasnet_large = "NASNetLarge", nasnet_mobile = "NASNetMobile",
  resnet50 = "ResNet50", resnet101 = "ResNet101", resnet152 = "ResNet152",
  resnet50_v2 = "ResNet50V2", resnet101_v2 = "ResNet101V2", resnet152_v2 = "ResNet152V2",
  vgg16 = "VGG16", vgg19 = "VGG19", xception = "Xception"
)

own_models <- c("mobilenet_v1", "lenet", "mlp")

#' Names of the models [get_model()] builds
#'
#' The package's own networks (`"mobilenet_v1"`, `"lenet"`, `"mlp"`) and the Keras applications, by
#' the snake-case names of the R keras packages (`"mobilenet_v2"`, `"resnet50"`, ...). Needs no
#' Python.
#'
#' @return A character vector.
#' @export
#' @examples
#' list_models()
list_models <- function() {
  c(own_models, names(keras_applications))
}

#' The Python Keras module
#'
#' Calls [use_keras_env()] on first use and returns the Keras module (reticulate object) the
#' package builds models with, for layers, callbacks and optimizers:
#' `keras_module()$callbacks$CSVLogger("log.csv")`.
#'
#' @param keras_version `"3"`: Keras 3 (the `keras` Python package, what keras3 and
#'   [fit_doodles()] train with). `"2"`: Keras 2 (PyPI's `tf_keras`, what the legacy R keras
#'   package trains with, `keras::fit_generator()` included). `"auto"`: Keras 2 when the
#'   environment variable `TF_USE_LEGACY_KERAS` is `1` or `true` (`library(keras)` sets it when
#'   it loads; TensorFlow reads it to make `tf.keras` tf_keras), else Keras 3.
#' @return A reticulate Python module.
#' @export
#' @examples
#' \dontrun{
#' keras_module()$callbacks$CSVLogger("log.csv")
#' keras_module("2")$`__version__` # tf_keras
#' }
keras_module <- function(keras_version = "auto") {
  keras_py(keras_version)
}

#' Build a Keras model for doodles
#'
#' A network from [list_models()] with a softmax head for `num_classes` classes, on gray (one
#' channel) or colour input, optionally compiled with Adam, categorical cross-entropy, accuracy,
#' top-3 accuracy and MAP@3 (the competition's metric, [metric_map3()]).
#'
#' With `weights = "imagenet"` (or the path of a weights file of the application built for RGB
#' input without its top) and gray input, the model is built twice: for RGB with those weights and
#' for one channel, and the weights are copied with the first convolution's kernels summed over the
#' three colour channels, so that a gray drawing gives the activations the RGB model gives for the
#' same drawing in three equal channels. ImageNet weights are downloaded by Keras into its cache
#' (`~/.keras/models`); without internet access, copy the file there or pass its path.
#'
#' @param name A name from [list_models()].
#' @param input_shape `c(height, width)`, the channels following `color`, or `c(height, width,
#'   channels)`.
#' @param num_classes Number of classes.
#' @param weights `NULL` (random initialisation), `"imagenet"`, or the path of a weights file (Keras
#'   applications only).
#' @param pooling Pooling of the last feature maps of a Keras application: `"avg"`, `"max"`, or
#'   `NULL` (flatten).
#' @param color Whether the input has three colour channels (else one gray channel).
#' @param compile Whether to compile the model.
#' @param optimizer A learning rate for Adam, or a Python Keras optimizer.
#' @param loss The loss, a Keras name or object.
#' @param metrics A list of Keras metrics; `NULL` means accuracy, top-3 accuracy and MAP@3
#'   ([metric_map3()], the competition's metric).
#' @param side_features Number of per-drawing side features (see the `features` argument of
#'   [train_generator()]); when positive, the model takes `list(image, features)` and concatenates
#'   the features with the image network's pooled output before the softmax.
#' @param input_dtype `"float32"`: the image input takes values in \[0, 1\] (or \[-1, 1\]),
#'   from generators with `format = "array"` or `"float32"`. `"uint8"`: it takes bytes 0..255
#'   (generators with `format = "uint8"`, a quarter of the bytes to move) and a first
#'   `Rescaling` layer, run on the device, maps them to \[0, 1\].
#' @param imagenet_preproc With `input_dtype = "uint8"`, rescale to \[-1, 1\] instead (what
#'   `imagenet_preproc` does for the other formats).
#' @param precision `"float32"`, or mixed precision: `"mixed_float16"` (NVIDIA GPUs: about twice
#'   the images/s), `"mixed_bfloat16"` (CPUs and TPUs), or `"mixed"` (float16 when the backend
#'   sees a GPU, else bfloat16). Layers compute in 16 bits and keep float32 weights; the softmax
#'   head stays float32, so the output is float32. With float16, Keras scales the loss (its
#'   `LossScaleOptimizer`).
#' @param accumulate Batches whose gradients are averaged before each update (Keras 3 optimizers'
#'   `gradient_accumulation_steps`): the step of a batch `accumulate` times larger, in the memory of
#'   one batch. 1 updates after every batch.
#' @inheritParams keras_module
#' @param ... Passed to the builder: `alpha` and `depth_multiplier` for `"mobilenet_v1"` (and the
#'   MobileNet applications), `units` for `"mlp"`, other constructor arguments of an application.
#' @return A Python Keras model (a reticulate object) of the Keras `keras_version` names: with
#'   `library(keras)` loaded (the legacy R package), a Keras 2 model that `keras::fit_generator()`,
#'   `fit()` and `predict()` train and use; otherwise a Keras 3 model for keras3 and
#'   [fit_doodles()]. Each Keras trains only its own models.
#' @export
#' @examples
#' \dontrun{
#' model <- get_model("mobilenet_v1", input_shape = c(64, 64), num_classes = 340, alpha = 0.5)
#' model$summary()
#' fast <- get_model("mobilenet_v1", input_shape = c(64, 64), num_classes = 340,
#'                   input_dtype = "uint8") # for train_generator(..., format = "uint8")
#' }
get_model <- function(name = "mobilenet_v2", input_shape = c(64, 64), num_classes,
                      weights = NULL, pooling = "avg", color = FALSE, compile = TRUE,
                      optimizer = 0.002, loss = "categorical_crossentropy", metrics = NULL,
                      side_features = 0L, input_dtype = "float32", imagenet_preproc = FALSE,
                      precision = "float32", accumulate = 1L, keras_version = "auto", ...) {
  assert_choice(name, list_models())
  input_shape <- check_input_shape(input_shape, color)
  assert_count(num_classes, positive = TRUE)
  if (!is.null(weights)) assert_string(weights, min.chars = 1)
  if (!is.null(pooling)) assert_choice(pooling, c("avg", "max"))
  assert_flag(compile)
  assert_count(side_features)
  assert_choice(input_dtype, c("float32", "uint8"))
  assert_flag(imagenet_preproc)
  precision <- arg_choice(precision, c("float32", "mixed", "mixed_float16", "mixed_bfloat16"))
  assert_count(accumulate, positive = TRUE)
  if (!is.null(weights) && name %in% own_models) {
    abort_doodles(sprintf("`weights` applies to Keras applications only, not to '%s'.", name),
                  kind = "argument")
  }
  keras <- keras_py(keras_version)
  if (precision == "mixed") {
    precision <- if (length(backend_gpus(keras$backend$backend())) > 0) "mixed_float16" else "mixed_bfloat16"
  }
  # Keras takes the layers' dtype policy from its global one when they are made: set for the
  # model's layers, then put back.
  previous <- keras$mixed_precision$global_policy()
  keras$mixed_precision$set_global_policy(precision)
  on.exit(keras$mixed_precision$set_global_policy(previous), add = TRUE)
  inputs <- keras$Input(shape = reticulate::tuple(as.list(input_shape)), name = "image",
                        dtype = input_dtype)
  images <- if (input_dtype == "uint8") {
    keras$layers$Rescaling(scale = if (imagenet_preproc) 2 / 255 else 1 / 255,
                           offset = if (imagenet_preproc) -1 else 0, name = "rescale_uint8")(inputs)
  } else {
    inputs
  }
  features <- switch(name,
    mobilenet_v1 = mobilenet_v1_features(keras, images, ...),
    lenet = lenet_features(keras, images),
    mlp = mlp_features(keras, images, ...),
    application_features(keras, name, images, input_shape, weights, pooling, ...)
  )
  model_inputs <- list(inputs)
  if (side_features > 0) {
    side <- keras$Input(shape = reticulate::tuple(as.integer(side_features)), name = "features")
    features <- keras$layers$Concatenate(name = "merge_features")(list(features, side))
    model_inputs <- list(inputs, side)
  }
  # The softmax in float32 whatever the policy: 16-bit probabilities would round small ones to 0.
  outputs <- keras$layers$Dense(as.integer(num_classes), activation = "softmax",
                                name = "predictions", dtype = "float32")(features)
  model <- keras$Model(inputs = if (side_features > 0) model_inputs else inputs,
                       outputs = outputs, name = name)
  if (compile) compile_model(model, optimizer, loss, metrics, accumulate)
  model
}

#' A cosine learning-rate schedule with warm-up
#'
#' The learning rate rises linearly from 0 to `learning_rate` over `warmup_steps` steps, then
#' falls along a half cosine to `learning_rate * alpha` over `decay_steps` steps (Keras'
#' `CosineDecay`), and stays there. Give it as `optimizer` to [get_model()] (Adam with this
#' schedule); [training_callbacks()] then needs `reduce_lr = FALSE`, since the schedule decides
#' the rate. Steps are optimizer updates (batches, or groups of `accumulate` batches).
#'
#' @param learning_rate The highest learning rate, reached after the warm-up.
#' @param decay_steps Steps of the cosine after the warm-up (e.g. epochs times steps per epoch).
#' @param warmup_steps Steps of the linear warm-up.
#' @param alpha The last learning rate as a share of `learning_rate`.
#' @inheritParams keras_module
#' @return A Keras learning-rate schedule.
#' @export
#' @examples
#' \dontrun{
#' schedule <- lr_schedule_cosine(0.002, decay_steps = 20 * 1000, warmup_steps = 1000)
#' model <- get_model("mobilenet_v1", input_shape = c(64, 64), num_classes = 340,
#'                    optimizer = schedule)
#' }
lr_schedule_cosine <- function(learning_rate, decay_steps, warmup_steps = 0L, alpha = 0,
                               keras_version = "auto") {
  assert_number(learning_rate, lower = 0, finite = TRUE)
  assert_count(decay_steps, positive = TRUE)
  assert_count(warmup_steps)
  assert_number(alpha, lower = 0, upper = 1)
  keras <- keras_py(keras_version)
  if (warmup_steps == 0L) {
    return(keras$optimizers$schedules$CosineDecay(learning_rate, as.integer(decay_steps),
                                                  alpha = alpha))
  }
  keras$optimizers$schedules$CosineDecay(0, as.integer(decay_steps), alpha = alpha,
                                         warmup_target = learning_rate,
                                         warmup_steps = as.integer(warmup_steps))
}

#' Keras building blocks written in the package
#'
#' Uncompiled networks ending in a softmax over `num_classes`: MobileNet v1 as written in the
#' article (depthwise separable convolutions; `alpha` scales the pointwise filters, and
#' `depth_multiplier` the depthwise outputs, which is not the resolution multiplier), LeNet (two
#' convolution and pooling stages, then 500 units) and a multi-layer perceptron.
#'
#' @inheritParams get_model
#' @inheritParams keras_module
#' @param alpha Width multiplier of the pointwise convolutions.
#' @param depth_multiplier Depthwise channel multiplier.
#' @param units Sizes of the hidden layers of the MLP.
#' @return A Python Keras model.
#' @export
#' @rdname builders
build_mobilenet_v1 <- function(input_shape = c(224, 224, 1), num_classes, alpha = 1,
                               depth_multiplier = 1, input_dtype = "float32",
                               keras_version = "auto") {
  get_model("mobilenet_v1", input_shape = input_shape, num_classes = num_classes,
            color = length(input_shape) == 3 && input_shape[[3]] == 3, compile = FALSE,
            input_dtype = input_dtype, keras_version = keras_version, alpha = alpha,
            depth_multiplier = depth_multiplier)
}

#' @export
#' @rdname builders
build_lenet <- function(input_shape = c(28, 28, 1), num_classes, input_dtype = "float32",
                        keras_version = "auto") {
  get_model("lenet", input_shape = input_shape, num_classes = num_classes,
            color = length(input_shape) == 3 && input_shape[[3]] == 3, compile = FALSE,
            input_dtype = input_dtype, keras_version = keras_version)
}

#' @export
#' @rdname builders
build_mlp <- function(input_shape = c(28, 28, 1), num_classes, units = c(128, 64),
                      input_dtype = "float32", keras_version = "auto") {
  get_model("mlp", input_shape = input_shape, num_classes = num_classes,
            color = length(input_shape) == 3 && input_shape[[3]] == 3, compile = FALSE,
            input_dtype = input_dtype, keras_version = keras_version, units = units)
}

#' A model defined by a function of parameters, as in NVIDIA DIGITS
#'
#' `fun` receives `params = list(classes, input_shape, channels, gpus)` (`input_shape` is
#' `c(height, width, channels)`, `gpus` 0 on CPU) and returns a list with `model` (a Keras model) and
#' optionally `loss` (default `"categorical_crossentropy"`), `train_batch_size` and
#' `validation_batch_size`. The model is checked against the parameters and compiled.
#'
#' @inheritParams get_model
#' @param fun A function of one argument, `params`.
#' @param gpus Number of GPUs the model will be trained on (0 for CPU).
#' @return A list: `model` (compiled when `compile`), `loss`, `train_batch_size`,
#'   `validation_batch_size`.
#' @export
#' @examples
#' \dontrun{
#' lenet_digits <- function(params) {
#'   list(model = build_lenet(params$input_shape, params$classes),
#'        train_batch_size = 64, validation_batch_size = 100)
#' }
#' spec <- model_from_params(lenet_digits, num_classes = 10, input_shape = c(28, 28))
#' }
model_from_params <- function(fun, num_classes, input_shape, color = FALSE, gpus = 0L,
                              compile = TRUE, optimizer = 0.002, metrics = NULL) {
  assert_function(fun)
  assert_count(num_classes, positive = TRUE)
  input_shape <- check_input_shape(input_shape, color)
  assert_count(gpus)
  assert_flag(compile)
  params <- list(classes = as.integer(num_classes), input_shape = input_shape,
                 channels = input_shape[[3]], gpus = as.integer(gpus))
  spec <- fun(params)
  if (!is.list(spec) || is.null(spec$model) || !is_keras_model(spec$model)) {
    abort_doodles("The model function must return a list whose `model` is a Keras model.",
                  kind = "model")
  }
  model <- spec$model
  expect_shape(model$input_shape, c(NA, input_shape), "input")
  expect_shape(model$output_shape, c(NA, num_classes), "output")
  spec <- list(
    model = model,
    loss = if (is.null(spec$loss)) "categorical_crossentropy" else spec$loss,
    train_batch_size = as.integer(if (is.null(spec$train_batch_size)) 32L else spec$train_batch_size),
    validation_batch_size = as.integer(
      if (is.null(spec$validation_batch_size)) 32L else spec$validation_batch_size
    )
  )
  assert_count(spec$train_batch_size, positive = TRUE, .var.name = "train_batch_size")
  assert_count(spec$validation_batch_size, positive = TRUE,
                          .var.name = "validation_batch_size")
  if (compile) compile_model(model, optimizer, spec$loss, metrics)
  spec
}

#' Top-3 categorical accuracy, the metric closest to MAP@3
#'
#' @inheritParams keras_module
#' @return A Python Keras metric named `top_3_accuracy`.
#' @export
metric_top3_accuracy <- function(keras_version = "auto") {
  keras_py(keras_version)$metrics$TopKCategoricalAccuracy(k = 3L, name = "top_3_accuracy")
}

#' MAP@3, the competition's metric, as a Keras metric
#'
#' Kaggle scored each drawing 1, 1/2 or 1/3 when its class is the first, second or third of the
#' three predicted words, else 0; MAP@3 is the mean over the drawings. This Keras metric (named
#' `map_3`) computes it on the batches Keras already predicts: `val_map_3` on the validation data
#' is the exact mean over the validation rows (batches are weighted by their sizes), reduced over
#' devices and workers as accuracy is, and reaches every callback, so that checkpoints, early
#' stopping and the learning-rate plateau can follow it (see [training_callbacks()]) without a
#' second pass over the validation rows, as an epoch-end callback would need. Labels may be
#' one-hot or sparse. [get_model()] compiles it in by default.
#'
#' @inheritParams keras_module
#' @return A Python Keras metric named `map_3`.
#' @export
#' @examples
#' \dontrun{
#' model$compile(optimizer = "adam", loss = "categorical_crossentropy",
#'               metrics = list(metric_map3()))
#' }
metric_map3 <- function(keras_version = "auto") {
  keras <- keras_py(keras_version)
  metrics_py()$map_at_3(keras)
}

compile_model <- function(model, optimizer, loss, metrics, accumulate = 1L,
                          call = rlang::caller_env()) {
  version <- model_keras_version(model)
  keras <- keras_py(version)
  if (is.numeric(optimizer)) {
    assert_number(optimizer, lower = 0, .var.name = "optimizer", call = call)
    optimizer <- keras$optimizers$Adam(learning_rate = optimizer)
  } else if (reticulate::import_builtins()$isinstance(
    optimizer, keras$optimizers$schedules$LearningRateSchedule)) {
    optimizer <- keras$optimizers$Adam(learning_rate = optimizer)
  }
  if (accumulate > 1L) {
    if (version != "3") {
      abort_doodles("Gradient accumulation (`accumulate`) needs a Keras 3 model.",
                    kind = "argument", call = call)
    }
    # The optimizer anew, from its own settings, with the accumulation (made when it is built).
    config <- optimizer$get_config()
    config$gradient_accumulation_steps <- as.integer(accumulate)
    optimizer <- optimizer$`__class__`$from_config(config)
  }
  if (is.null(metrics)) {
    metrics <- list("accuracy", metric_top3_accuracy(version), metric_map3(version))
  }
  model$compile(optimizer = optimizer, loss = loss, metrics = metrics)
  invisible(model)
}

check_input_shape <- function(input_shape, color, call = rlang::caller_env()) {
  assert_integerish(input_shape, lower = 1, any.missing = FALSE, min.len = 2,
                               max.len = 3, .var.name = "input_shape")
  assert_flag(color, .var.name = "color")
  channels <- if (color) 3L else 1L
  if (length(input_shape) == 3 && input_shape[[3]] != channels) {
    abort_doodles(sprintf("`input_shape` has %d channels but `color = %s` means %d.",
                          as.integer(input_shape[[3]]), color, channels),
                  kind = "argument", call = call)
  }
  as.integer(c(input_shape[1:2], channels))
}

is_keras_model <- function(x) {
  !is.na(model_keras_version(x))
}

expect_shape <- function(shape, expected, what) {
  shape <- vapply(shape, function(d) if (is.null(d)) NA_integer_ else as.integer(d), 1L)
  if (!identical(shape, as.integer(expected))) {
    abort_doodles(sprintf("The model's %s shape is (%s), not (%s).", what,
                          paste(shape, collapse = ", "), paste(expected, collapse = ", ")),
                  kind = "model")
  }
}

application_features <- function(keras, name, inputs, input_shape, weights, pooling, ...) {
  constructor <- keras$applications[[keras_applications[[name]]]]
  args <- list(include_top = FALSE, pooling = pooling, ...)
  # Our inputs are in [0, 1] (or [-1, 1]), not the [0, 255] these built-in rescalings expect.
  accepted <- names(reticulate::import("inspect")$signature(constructor)$parameters)
  if ("include_preprocessing" %in% accepted && is.null(args$include_preprocessing)) {
    args$include_preprocessing <- FALSE
  }
  base <- if (!is.null(weights) && input_shape[[3]] == 1L) {
    gray_application(constructor, args, name, input_shape, weights)
  } else {
    build_application(constructor, c(args, list(input_shape = reticulate::tuple(
      as.list(input_shape)), weights = weights)), name, weights)
  }
  features <- base(inputs)
  if (is.null(pooling)) features <- keras$layers$Flatten()(features)
  features
}

gray_application <- function(constructor, args, name, input_shape, weights) {
  rgb_shape <- reticulate::tuple(as.list(c(input_shape[1:2], 3L)))
  gray_shape <- reticulate::tuple(as.list(input_shape))
  rgb <- build_application(constructor, c(args, list(input_shape = rgb_shape, weights = weights)),
                           name, weights)
  gray <- build_application(constructor, c(args, list(input_shape = gray_shape, weights = NULL)),
                            name, NULL)
  bridge_py()$copy_weights_to_gray(rgb, gray)
  gray
}

build_application <- function(constructor, args, name, weights) {
  tryCatch(
    do.call(constructor, args),
    error = function(e) {
      if (is.null(weights)) stop(e)
      abort_doodles(
        c(sprintf("Weights '%s' for '%s' could not be loaded.", weights, name),
          x = first_line(conditionMessage(e)),
          i = paste("Without internet access, copy the weights file into Keras' cache",
                    "(~/.keras/models) or pass its path as `weights`.")),
        kind = "weights", parent = e
      )
    }
  )
}

first_line <- function(message) {
  lines <- strsplit(message, "\n", fixed = TRUE)[[1]]
  lines <- lines[nzchar(trimws(lines))]
  if (length(lines) == 0) "" else lines[[1]]
}

mobilenet_v1_features <- function(keras, inputs, alpha = 1, depth_multiplier = 1) {
  assert_number(alpha, lower = 0.01)
  assert_count(depth_multiplier, positive = TRUE)
  layers <- keras$layers
  x <- layers$Conv2D(32L, kernel_size = c(3L, 3L), strides = c(2L, 2L), padding = "same")(inputs)
  x <- layers$ReLU()(layers$BatchNormalization()(x))
  blocks <- list(c(64, 1), c(128, 2), c(128, 1), c(256, 2), c(256, 1), c(512, 2), c(512, 1),
                 c(512, 1), c(512, 1), c(512, 1), c(512, 1), c(1024, 2), c(1024, 1))
  for (block in blocks) {
    strides <- rep(as.integer(block[[2]]), 2)
    x <- layers$DepthwiseConv2D(kernel_size = c(3L, 3L), strides = strides, padding = "same",
                                depth_multiplier = as.integer(depth_multiplier))(x)
    x <- layers$ReLU()(layers$BatchNormalization()(x))
    filters <- max(1L, as.integer(round(block[[1]] * alpha)))
    x <- layers$Conv2D(filters, kernel_size = c(1L, 1L), strides = c(1L, 1L))(x)
    x <- layers$ReLU()(layers$BatchNormalization()(x))
  }
  layers$GlobalAveragePooling2D()(x)
}

lenet_features <- function(keras, inputs) {
  layers <- keras$layers
  x <- layers$Conv2D(20L, kernel_size = c(5L, 5L), activation = "relu")(inputs)
  x <- layers$MaxPooling2D(pool_size = c(2L, 2L))(x)
  x <- layers$Conv2D(50L, kernel_size = c(5L, 5L), activation = "relu")(x)
  x <- layers$MaxPooling2D(pool_size = c(2L, 2L))(x)
  layers$Dense(500L, activation = "relu")(layers$Flatten()(x))
}

mlp_features <- function(keras, inputs, units = c(128, 64)) {
  assert_integerish(units, lower = 1, min.len = 1, any.missing = FALSE)
  layers <- keras$layers
  x <- layers$Flatten()(inputs)
  for (n in units) x <- layers$Dense(as.integer(n), activation = "relu")(x)
  x
}
