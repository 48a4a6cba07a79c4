# Batches in the form Keras consumes. Rust renders row-major (NHWC) float32 or uint8 into the
# memory of an R integer vector allocated on R's main thread; reticulate hands an R integer array
# to numpy as an int32 view of that memory (no copy, R's object kept alive by the view), and numpy
# reinterprets it as the batch. No element is copied or converted on the way to the model.

batch_formats <- c("array", "float32", "uint8")

check_format <- function(format, imagenet_preproc = FALSE, call = rlang::caller_env()) {
  assert_flag(imagenet_preproc, .var.name = "imagenet_preproc")
  if (!checkmate::test_choice(format, batch_formats)) {
    abort_doodles(sprintf("`format` must be one of %s, not %s.",
                          paste0('"', batch_formats, '"', collapse = ", "), deparse1(format)),
                  kind = "argument", call = call)
  }
  if (format == "uint8" && imagenet_preproc) {
    abort_doodles(
      c("`imagenet_preproc` does not apply to `format = \"uint8\"` (0..255).",
        i = paste("The model maps the bytes to [-1, 1] on the device: build it with",
                  "`get_model(..., input_dtype = \"uint8\", imagenet_preproc = TRUE)`.")),
      kind = "argument", call = call
    )
  }
  format
}

# The numpy batch Rust rendered into `storage` (see Batch::new in src/rust/src/raster.rs).
as_numpy_batch <- function(storage) {
  arrays_py()$nhwc_view(storage, attr(storage, "shape"), attr(storage, "dtype"))
}

# What a batch Rust rendered in `format` is for the caller: the R array (mapped to [-1, 1] here
# for `imagenet_preproc`), or the numpy view of the storage (Rust applied `imagenet_preproc` to
# float32 itself).
batch_in_format <- function(batch, format, imagenet_preproc) {
  if (format != "array") {
    return(as_numpy_batch(batch))
  }
  if (imagenet_preproc) batch * 2 - 1 else batch
}

# Labels for Keras: float32 one-hot rows, or the 0-based integers themselves (int32) for a sparse
# loss.
as_numpy_labels <- function(label_int, num_classes, sparse) {
  check_labels(label_int, num_classes)
  labels <- array(as.integer(label_int), length(label_int))
  if (sparse) {
    return(reticulate::r_to_py(labels))
  }
  arrays_py()$one_hot(labels, num_classes)
}

# Side features (a double matrix) as C-ordered float32.
as_numpy_features <- function(features) {
  arrays_py()$as_model_input(features)
}

#' The batch format a Keras model consumes
#'
#' `"uint8"` when the model takes bytes 0..255 (an image input of type uint8, see `input_dtype` in
#' [get_model()], or a first `Rescaling` layer by at most 2/255, as a legacy keras model may
#' have), else `"float32"`: the `format` to give [train_generator()] and [test_generator()] for
#' that model.
#'
#' @param model A Python Keras model (Keras 3, or Keras 2 from the legacy keras package).
#' @return `"uint8"` or `"float32"`.
#' @export
#' @examples
#' \dontrun{
#' model <- get_model("mobilenet_v1", input_shape = c(64, 64), num_classes = 340,
#'                    input_dtype = "uint8")
#' it <- test_generator(con, scale = 0.25, format = keras_input_format(model))
#' }
keras_input_format <- function(model) {
  check_keras_model(model)
  if (model_image_input(model)$takes_bytes) "uint8" else "float32"
}

check_keras_model <- function(model, call = rlang::caller_env()) {
  if (!is_keras_model(model)) {
    abort_doodles("`model` must be a Python Keras model, of Keras 3 or Keras 2 (see get_model()).",
                  kind = "argument", call = call)
  }
  invisible(model)
}

# The model's image input (see image_input() in the bridge): `name`, `dtype`, `shape` (without
# the batch axis) and `takes_bytes`.
model_image_input <- function(model) {
  bridge_py()$image_input(model)
}

# A clear error, before any training, when the batches' element type is not the one the model's
# image input takes: Keras would cast bytes 0..255 to floats without rescaling them.
check_batch_for_model <- function(model, x, call = rlang::caller_env()) {
  image <- if (is.list(x) && !is.array(x)) x[[1]] else x
  batch_dtype <- if (inherits(image, "python.builtin.object")) {
    as.character(reticulate::py_to_r(image$dtype$name))
  } else {
    "float32"
  }
  check_format_for_model(model, batch_dtype, call)
}

# The checks of check_format_for_model() on a generator, and for a Keras-form generator of a
# doodles connection also that it is a dataset of the model's Keras.
check_generator_for_model <- function(model, generator, call = rlang::caller_env()) {
  check_format_for_model(model, attr(generator, "format"), call)
  made_for <- attr(generator, "keras_version")
  model_version <- model_keras_version(model)
  if (!is.null(made_for) && made_for != model_version) {
    abort_doodles(
      c(sprintf("The generator is a Keras %s dataset but the model is a Keras %s model.", made_for,
                model_version),
        i = paste("Make the generator and the model with the same Keras: with library(keras)",
                  "loaded (or TF_USE_LEGACY_KERAS=1) both are Keras 2; see `keras_version` in",
                  "get_model().")),
      kind = "model", call = call
    )
  }
  invisible(TRUE)
}

# The same check by a generator's declared `format` ("array" is converted to float32): uint8
# batches need a model that rescales bytes; float batches a model whose input is not uint8.
check_format_for_model <- function(model, format, call = rlang::caller_env()) {
  batch_dtype <- if (format == "uint8") "uint8" else "float32"
  input <- model_image_input(model)
  if (batch_dtype == "uint8" && !input$takes_bytes) {
    abort_doodles(
      c(sprintf(paste("The batches' images are bytes 0..255 (uint8) but the model's image input",
                      "takes %s without rescaling them: it would train on unscaled input."),
                input$dtype),
        i = paste("Build the model with `get_model(..., input_dtype = \"uint8\")` (or a first",
                  "Rescaling layer by 1/255), or make the generator with `format = \"float32\"`.")),
      kind = "model", call = call
    )
  }
  if (batch_dtype != "uint8" && input$dtype == "uint8") {
    abort_doodles(
      c("The batches' images are float32 but the model's image input takes uint8.",
        i = "Make the generator with `format = \"uint8\"` (see keras_input_format())."),
      kind = "model", call = call
    )
  }
  invisible(TRUE)
}
