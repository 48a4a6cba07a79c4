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

# The numpy batch Rust rendered into `storage` (see new_batch in src/rust/src/raster.rs).
as_numpy_batch <- function(storage) {
  arrays_py()$nhwc_view(storage, attr(storage, "shape"), attr(storage, "dtype"))
}

# The memory of a generator's Keras-form batches, reused. A new 1024-drawing colour float32 batch
# is 192 MB that R allocates, the kernel zeroes page by page and R's garbage collector later
# frees: about as long as rendering it. The pool keeps the last `size` storage vectors Rust
# allocated, each with a private numpy view (its anchor); `take()` gives one that nothing uses any more (see
# memory_users() in inst/python/doodles_bridge.py) for Rust to write the next batch of n images of
# `image_shape` (side, side, channels) into, or NULL (Rust then allocates), and `hand_out()`
# returns the batch's numpy array, a new view of the anchor, so that the batch stays untouched
# for as long as anyone (R or Python) holds it. R frees the views it dropped only when its garbage
# collector runs, which the pool's own lack of allocation makes rare: when no storage is free, a
# young-generation collection finds them (not those that lived through an earlier collection: in
# a loop `batch <- it()` about half the batches got new memory). While a loop of the bridge pulls
# the batches (`bridge_pulls(TRUE)`, see fit_doodles()), `hand_out()` gives the anchor itself and
# the loop makes the view (as_model_input() in inst/python/doodles_bridge.py): no R object ever
# holds a batch, so a storage is free exactly when Python has dropped its views.
batch_pool <- function(image_shape, size = doodles_option("doodles.batch_pool")) {
  slots <- list()
  taken <- 0L
  anchors_out <- FALSE
  new_storages <- 0L
  free_slot <- function(shape) {
    for (k in seq_along(slots)) {
      slot <- slots[[k]]
      if (identical(slot$shape, shape) &&
          reticulate::py_to_r(arrays_py()$memory_users(slot$anchor)) == slot$users) {
        return(k)
      }
    }
    0L
  }
  # An environment, so that a generator carrying it as an attribute prints it in one line.
  list2env(list(
    # Storage for a batch of `n` images, or NULL.
    take = function(n) {
      shape <- as.integer(c(n, image_shape))
      taken <<- free_slot(shape)
      if (taken == 0L && length(slots) == size && size > 0 && !anchors_out) {
        gc(verbose = FALSE, full = FALSE)
        taken <<- free_slot(shape)
      }
      if (taken == 0L) NULL else slots[[taken]]$storage
    },
    # The numpy batch in `storage`, which Rust has just written (into what take() gave, if any).
    hand_out = function(storage) {
      if (size == 0) return(as_numpy_batch(storage))
      if (taken > 0L) {
        # Slots stay in the order they were last handed out.
        slots <<- c(slots[-taken], slots[taken])
        taken <<- length(slots)
      } else {
        # The storage handed out longest ago makes room (a batch someone keeps, since none is
        # free): whoever still holds it keeps it alive.
        if (length(slots) == size) slots <<- slots[-1L]
        anchor <- arrays_py()$pool_anchor(as_numpy_batch(storage))
        users <- reticulate::py_to_r(arrays_py()$memory_users(anchor))
        slots[[length(slots) + 1L]] <<- list(storage = storage, shape = attr(storage, "shape"),
                                              anchor = anchor, users = users)
        new_storages <<- new_storages + 1L
        taken <<- length(slots)
      }
      batch <- if (anchors_out) slots[[taken]]$anchor else arrays_py()$view_of(slots[[taken]]$anchor)
      taken <<- 0L
      batch
    },
    # TRUE while only a loop of the bridge, which views every anchor it receives, pulls batches.
    bridge_pulls = function(on) {
      anchors_out <<- on
      invisible(NULL)
    },
    # How many batches were written into new memory (none of the pool's was free).
    new_storages = function() new_storages
  ))
}

# While the bridge's loop pulls from these generators, their pools hand it anchors (see
# batch_pool()); returns the function that ends it.
hand_anchors_to_bridge <- function(...) {
  pools <- Filter(Negate(is.null), lapply(list(...), attr, "batch_pool"))
  for (pool in pools) pool$bridge_pulls(TRUE)
  function() for (pool in pools) pool$bridge_pulls(FALSE)
}

# What a batch Rust rendered in `format` is for the caller: the R array (mapped to [-1, 1] here,
# as before the Keras forms existed), or the numpy view of the storage (Rust applied
# `imagenet_preproc` to float32 itself).
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
#' `"uint8"` when the model's image input takes bytes (see `input_dtype` in [get_model()]), else
#' `"float32"`: the `format` to give [train_generator()] and [test_generator()] for that model.
#'
#' @param model A Python Keras model.
#' @return `"uint8"` or `"float32"`.
#' @export
#' @examples
#' \dontrun{
#' model <- get_model("mobilenet_v1", input_shape = c(64, 64), num_classes = 340,
#'                    input_dtype = "uint8")
#' it <- test_generator(con, scale = 0.25, format = keras_input_format(model))
#' }
keras_input_format <- function(model) {
  if (!is_keras_model(model)) {
    abort_doodles("`model` must be a Python Keras model (see get_model()).", kind = "argument")
  }
  if (identical(image_input_dtype(model), "uint8")) "uint8" else "float32"
}

# The dtype of the model's image input: the input named "image" (get_model()'s), else the first.
image_input_dtype <- function(model) {
  inputs <- model$inputs
  names <- vapply(inputs, function(input) as.character(input$name), "")
  input <- inputs[[if ("image" %in% names) match("image", names) else 1L]]
  as.character(input$dtype)
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

# The same check by a generator's declared `format` ("array" is converted to float32).
check_format_for_model <- function(model, format, call = rlang::caller_env()) {
  batch_dtype <- if (format == "uint8") "uint8" else "float32"
  model_dtype <- image_input_dtype(model)
  if ((batch_dtype == "uint8") != (model_dtype == "uint8")) {
    abort_doodles(
      c(sprintf("The batches' images are %s but the model's image input takes %s.", batch_dtype,
                model_dtype),
        i = if (batch_dtype == "uint8") {
          "Build the model with `get_model(..., input_dtype = \"uint8\")`, or make the generator with `format = \"float32\"`."
        } else {
          "Make the generator with `format = \"uint8\"` (see keras_input_format())."
        }),
      kind = "model", call = call
    )
  }
  invisible(TRUE)
}
