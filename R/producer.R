# Generators in the Keras forms whose batches never touch R: R makes a Rust producer once (ids,
# drawing options, labels, side features) and hands it to a Python object (inst/python/
# doodles_py/batches.py) that Keras reads as it is, from any thread, through the package's own C
# functions. R's main thread, R's memory and R's garbage collector are not on a batch's road.

# The Keras-form generator `train_generator()` and `test_generator()` return: the Python
# `Batches` object (a keras PyDataset, or a tf_keras Sequence under legacy Keras), with the
# generator's attributes. `spec` is what src/rust/src/producer.rs reads; `attributes` are set on
# the result as on the R closures.
keras_batches <- function(spec, attributes) {
  # The Keras the session trains with decides the dataset's kind: Keras 2 reads only Sequences.
  keras_version <- resolve_keras_version()
  made <- producer_new(spec)
  dll <- getLoadedDLLs()[["doodles"]][["path"]]
  batches <- batches_py()$make_batches(
    dll, made$address, made$steps_per_epoch, as.integer(attributes$image_shape), spec$format,
    spec$targets, as.integer(spec$classes), as.integer(attributes$n_features),
    ordered = is.null(spec$seed), legacy = keras_version == "2"
  )
  # Python holds its own handle now; `made$pointer` goes with this frame. What R gets is a
  # function (`it()` takes a batch) that reticulate hands to Python as the object itself (its
  # `py_object`), so keras3::fit() and Python's fit() receive the Batches untouched.
  generator <- function() next_batch(generator)
  attributes(generator) <- c(list(py_object = batches), attributes,
                             list(keras_version = keras_version, class = c("doodles_batches", class(batches))))
  generator
}

# The drawing options of a generator (its `...`) completed with draw_doodles()' defaults, checked;
# `hflip`: half of the drawings mirrored per (seed, epoch) by the producer (train_generator()'s
# `augment = "hflip"`).
producer_drawing <- function(scale, color, draw_options, threads, hflip = FALSE,
                             call = rlang::caller_env()) {
  options <- utils::modifyList(
    list(line_width = 3, antialias = FALSE, encoding = if (color) "hue" else "gray",
         mirror = FALSE),
    draw_options
  )
  threads <- check_drawing_options(scale, color, options$line_width, options$antialias,
                                   options$encoding, threads, call = call)
  check_mirror(options$mirror, 1L, call = call)
  c(list(scale = scale, threads = threads, hflip = hflip), options)
}

# Batches rendered ahead: `prefetch` is TRUE (the default depth), FALSE (none) or a count.
prefetch_depth <- function(prefetch, call = rlang::caller_env()) {
  if (isTRUE(prefetch)) return(2L)
  if (isFALSE(prefetch)) return(0L)
  assert_count(prefetch, .var.name = "prefetch")
  as.integer(prefetch)
}

# Legacy keras wraps R functions in a generator of its own; the producer's object goes as it is,
# once its form is checked against the model (see check_calling_model()).
#' @exportS3Method keras::as_generator
as_generator.doodles_batches <- function(x) {
  check_calling_model(x)
  attr(x, "py_object")
}

#' @export
print.doodles_batches <- function(x, ...) {
  steps <- if (is.null(attr(x, "steps"))) attr(x, "steps_per_epoch") else attr(x, "steps")
  cat(sprintf("<doodles batches: %d per epoch of %s, %s %s%s>\n", steps,
              paste(attr(x, "image_shape"), collapse = " x "),
              attr(x, "format"), if (isTRUE(attr(x, "sparse_labels"))) "sparse labels" else
                "images", if (attr(x, "n_features") > 0) " with side features" else ""))
  invisible(x)
}

# The Python module of the producer's batches.
batches_py <- function() {
  if (is.null(py_modules$batches)) {
    use_keras_env()
    py_modules$batches <- doodles_py("batches", convert = FALSE)
  }
  py_modules$batches
}

# `x` as an R value, whether reticulate converted it already (what objects of modules imported
# with `convert = TRUE` return) or not (`convert = FALSE`, or keras3's models).
r_value <- function(x) {
  if (inherits(x, "python.builtin.object")) reticulate::py_to_r(x) else x
}

# Runs `expr`, turning an error the producer raised in Python into its doodles_error class
# (doodles_error_drawing with the drawing's `id`, ...).
with_producer_errors <- function(expr, call = rlang::caller_env()) {
  tryCatch(expr, error = function(e) {
    said <- producer_error(e)
    if (is.null(said)) stop(e)
    id <- regmatches(said$message, regexpr("(?<=\\(id )[0-9]+(?=\\))", said$message, perl = TRUE))
    abort_doodles(said$message, id = if (length(id)) as.numeric(id), kind = said$kind, call = call)
  })
}

# The kind and message of an exception of inst/python/doodles_py/errors.py behind `e`, or NULL.
# Raised in Keras' tf.data thread, it reaches R inside TensorFlow's own error, which keeps only its
# type's name and message in the text ("... DrawingError: ids[6] (id 70): ..."): that text is read.
producer_error <- function(e) {
  # A WorkerFailure is the training loop's own, raised on R's call (see worker_failure()).
  kinds <- python_error_kinds[names(python_error_kinds) != "WorkerFailure"]
  text <- conditionMessage(e)
  pattern <- sprintf("(?<![A-Za-z])(%s): ([^\n]*)", paste(names(kinds), collapse = "|"))
  found <- regmatches(text, regexec(pattern, text, perl = TRUE))[[1]]
  if (length(found) == 0L) return(NULL)
  list(kind = kinds[[found[2]]], message = found[3])
}

#' Take a batch from a Keras-form generator
#'
#' The batches of [train_generator()] and [test_generator()] in a Keras form are made by Rust and
#' handed to Keras directly; R code can still take one: `it()` does, and so does
#' `next_batch(it)`. Errors of the producer arrive as `doodles_error`s (a bad drawing as
#' `doodles_error_drawing` with its `id`).
#'
#' @param generator A generator of [train_generator()] or [test_generator()].
#' @return `list(x, y)` (training) or `list(x)` (test; `NULL` after the last batch), the arrays
#'   as numpy arrays (`x` a list of the images and the side features when there are features).
#' @export
#' @examples
#' \dontrun{
#' it <- train_generator(con, ids, batch_size = 32, scale = 0.5, format = "uint8")
#' batch <- next_batch(it)
#' }
next_batch <- function(generator) {
  if (!inherits(generator, "doodles_batches")) {
    assert_function(generator, .var.name = "generator")
    return(generator())
  }
  batch <- with_producer_errors(attr(generator, "py_object")$`__call__`())
  if (reticulate::py_is_null_xptr(batch) || inherits(batch, "python.builtin.NoneType")) {
    return(NULL)
  }
  items <- function(tuple) {
    lapply(seq_len(reticulate::py_len(tuple)) - 1L, function(i) {
      item <- reticulate::py_get_item(tuple, i)
      if (inherits(item, "python.builtin.tuple")) items(item) else item
    })
  }
  batch <- items(batch)
  collect_handed_batches(batch)
  batch
}

# A batch R holds is a few small Python references to memory R's garbage collector does not see
# (up to 200 MB for 1024 colour float32 images), freed only when it collects them: left to
# itself it would not run while batches pile up. Once `doodles.collect_after` bytes have been
# handed to R since the last collection, R collects (about 10 ms, once per several large batches).
collect_handed_batches <- function(batch) {
  arrays <- unlist(batch, recursive = TRUE)
  bytes <- sum(vapply(arrays, function(a) as.numeric(reticulate::py_to_r(a$nbytes)), 1))
  producer_state$handed <- producer_state$handed + bytes
  if (producer_state$handed >= doodles_option("doodles.collect_after")) {
    gc(verbose = FALSE)
    producer_state$handed <- 0
  }
}

producer_state <- new.env(parent = emptyenv())
producer_state$handed <- 0
