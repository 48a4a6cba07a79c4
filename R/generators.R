# Batch generators for Keras: closures that return list(x, y) on each call, as the R keras packages
# and fit_doodles() expect. With a doodles (DuckDB) connection the ids go to Rust, which reads and
# draws the batch (and the next one in the background); with any other DBI connection holding the
# same tables, the drawings are fetched through SQL and rasterized with draw_doodles().

#' A generator of training batches
#'
#' Returns a generator of batches `list(x, y)`: `x` the images (batch, height, width, channels),
#' `y` the one-hot classes (batch, classes). The ids are shuffled and cut into full batches (the
#' remainder waits for a later epoch); when an epoch ends they are shuffled again.
#'
#' @section Formats:
#' `format = "array"` (the default) gives the article's closure: a function returning R arrays of
#' doubles on each call, for R code, `keras::fit_generator(it, steps_per_epoch =
#' attr(it, "steps_per_epoch"))` and [fit_doodles()].
#'
#' `"float32"` and `"uint8"` give batches in the layout Keras models consume (NHWC, C order)
#' that never pass through R. With a doodles connection the generator is a Keras dataset (a
#' `keras.utils.PyDataset`, or a `tf_keras` `Sequence` when `TF_USE_LEGACY_KERAS` is set) on a
#' producer in the package's Rust core: it owns the ids (shuffled per epoch from `seed`, this
#' worker's shard), reads the stroke index, renders the images, labels and side features into
#' memory Rust allocates, which numpy views and frees once no array uses it, and keeps `prefetch`
#' batches rendered ahead on its own thread. Keras' threads take the batches directly (through
#' the package's C functions, with Python's lock released), so `keras3::fit(model, it)`,
#' `predict(model, it)`, Python's `model.fit(it)` and `keras::fit_generator(model, it)` take it as
#' it is and know its length: no `steps_per_epoch` is needed, and R's main thread, memory and
#' garbage collector are not on a batch's road. R code still takes a batch with `it()` (or
#' [next_batch()]). The producer lives as long as Python holds the dataset, even after R dropped
#' the generator; after `DBI::dbDisconnect()`, or a write to the database, it refuses further
#' batches with a `doodles_error` (make a new generator). With another DBI connection the Keras
#' forms are an R function, as `"array"` (the batches then pass through R).
#'
#' `"uint8"` holds `round(255 * value)`, a quarter of the float32 bytes; the model rescales them
#' as its first layer (`get_model(..., input_dtype = "uint8")`, see [keras_input_format()]). In
#' these forms `y` is float32 one-hot, or int32 labels with `sparse_labels = TRUE` (for
#' `loss = "sparse_categorical_crossentropy"`), and the side features are float32.
#'
#' The order of the Keras forms is seeded in Rust (ChaCha8 from `seed` and the epoch), so it
#' differs from the order of `format = "array"` with the same seed (R's Mersenne-Twister); each
#' is reproducible.
#'
#' @param con A DBI connection holding the `doodles` table: a doodles connection
#'   (`DBI::dbConnect(doodles_duckdb(), ...)`), or any other (e.g. RSQLite) with the columns `id`,
#'   `drawing` and `label_int`.
#' @param samples_index The `id`s to draw batches from (unique).
#' @param num_classes Number of classes (columns of `y`); by default from the database (its
#'   `labels` table, else `max(label_int) + 1`).
#' @param batch_size Drawings per batch.
#' @param scale Image side as a fraction of 256 pixels.
#' @param color Colour strokes (3 channels) instead of gray (1 channel).
#' @param imagenet_preproc Map pixel values from \[0, 1\] to \[-1, 1\], as ImageNet-trained Keras
#'   applications expect (not with `format = "uint8"`, whose model rescales).
#' @param seed An integer making the order of the batches reproducible (without touching the
#'   session's random number generator); `NULL` draws from the session's generator.
#' @param features Side inputs read from the database per batch: any of `"countrycode"` (one-hot
#'   over the country codes of the `doodles` table), `"recognized"` (0/1), `"n_strokes"` (number of
#'   strokes), or names of numeric columns of the `doodles` table. With features, each batch is
#'   `list(list(x, features), y)`.
#' @param prefetch With a doodles connection, batches rendered ahead while the current one is
#'   used: `TRUE` (two for the Keras forms' producer, one for `"array"`), `FALSE` (none) or a
#'   count (Keras forms). Two keep a batch ready while the next is drawn
#'   (`inst/bench/bench-into-keras.R`); more only hold more memory, and when drawing is slower
#'   than the model no depth helps (give it more threads).
#' @param threads Number of threads drawing a batch.
#' @param format `"array"` (R arrays), or `"float32"` or `"uint8"` (numpy arrays for Keras); see
#'   Formats.
#' @param sparse_labels `y` as the 0-based integer classes (R integers, or int32 numpy) instead of
#'   one-hot rows.
#' @param workers,worker For a worker of a multi-worker training (see [training_strategy()]):
#'   the number of workers and this one's index, from 0. Every epoch, all workers shuffle all of
#'   `samples_index` the same way (they need the same `seed`, which is then required) and cut
#'   the order into global batches of `workers * batch_size` ids; this worker's batch is its
#'   slice of each. Their shards are disjoint and together hold each id once per epoch (but the
#'   remainder short of a global batch), and each global batch is the batch of
#'   `workers * batch_size` a single process would get with the same seed.
#' @param initial_epoch Epochs trained before (to resume a training, as `fit_doodles()`'s): the
#'   first batches are those of epoch `initial_epoch + 1` with the same `seed`.
#' @param augment `"none"`, or `"hflip"`: every epoch, each drawing is drawn horizontally
#'   mirrored within its own extent (see [draw_doodles()], Mirrored drawings) with probability
#'   1/2, decided for each drawing on its own. The choice depends on `seed` and the epoch only
#'   (not on the batch a drawing lands in, nor on the worker): the same drawings for the same
#'   seed and epoch, others the next epoch. As the order, it is drawn by R's generator for
#'   `"array"` and by the Rust producer (ChaCha8) for the Keras forms, so the two roads mirror
#'   different drawings. Labels are unchanged. It costs nothing measurable (the mirrored pixels
#'   are written in place as each drawing is moved into the batch). Not with `mirror = TRUE`.
#' @param ... Drawing options passed to [draw_doodles()] (and [doodle_batch()]): `line_width`,
#'   `antialias`, `encoding`, `mirror` (`TRUE` draws every drawing mirrored).
#' @return A generator: a function of no arguments (for the Keras forms with a doodles connection,
#'   also the Keras dataset, class `doodles_batches`), with attributes `steps_per_epoch` (full
#'   batches per epoch, global batches with `workers`), `num_classes`, `image_shape` (height,
#'   width, channels), `n_features`, `format`, `sparse_labels`, `workers` and `worker`.
#' @export
#' @examples
#' \dontrun{
#' con <- DBI::dbConnect(doodles_duckdb(), dbdir = "doodles.duckdb")
#' ids <- DBI::dbGetQuery(con, "SELECT id FROM doodles")$id
#' it <- train_generator(con, ids, batch_size = 32, scale = 0.5, seed = 1)
#' batch <- it()
#' dim(batch[[1]]) # 32 128 128 1
#' # For Keras: uint8 NHWC batches made by Rust, and a model that rescales them.
#' it <- train_generator(con, ids, batch_size = 256, scale = 0.5, format = "uint8")
#' model <- get_model("mobilenet_v1", input_shape = c(128, 128),
#'                    num_classes = attr(it, "num_classes"), input_dtype = "uint8")
#' fit_doodles(model, it, epochs = 2)  # or keras3::fit(model, it, epochs = 2)
#' }
train_generator <- function(con, samples_index, num_classes = NULL, batch_size = 32, scale = 1,
                            color = FALSE, imagenet_preproc = FALSE, seed = NULL,
                            features = NULL, prefetch = TRUE, threads = doodles_threads(),
                            format = "array", sparse_labels = FALSE, workers = 1L, worker = 0L,
                            initial_epoch = 0L, augment = "none", ...) {
  assert_class(con, "DBIConnection")
  assert_count(batch_size, positive = TRUE)
  assert_count(initial_epoch)
  assert_count(workers, positive = TRUE)
  assert_int(worker, lower = 0, upper = workers - 1)
  if (workers > 1 && is.null(seed)) {
    abort_doodles("With several `workers`, a `seed` is needed: all workers shuffle the ids alike.",
                  kind = "argument")
  }
  workers <- as.integer(workers)
  worker <- as.integer(worker)
  assert_integerish(samples_index, lower = 1, any.missing = FALSE,
                               min.len = batch_size * workers, unique = TRUE)
  check_image_args(scale, color, imagenet_preproc, threads)
  assert_count(seed, null.ok = TRUE)
  depth <- prefetch_depth(prefetch)
  check_format(format, imagenet_preproc)
  assert_flag(sparse_labels)
  if (!DBI::dbIsValid(con)) {
    abort_doodles("The connection `con` is closed.", kind = "argument")
  }
  if (is.null(num_classes)) num_classes <- database_classes(con)
  assert_count(num_classes, positive = TRUE)
  batch_size <- as.integer(batch_size)
  num_classes <- as.integer(num_classes)
  samples_index <- as.integer(samples_index)
  feature_spec <- resolve_features(con, features)
  draw_options <- check_draw_options(...)
  hflip <- check_augment(augment, draw_options)
  global_batch <- batch_size * workers
  steps <- length(samples_index) %/% global_batch
  attributes <- list(steps_per_epoch = steps, num_classes = num_classes,
                     image_shape = image_shape(scale, color, draw_options),
                     n_features = if (is.null(feature_spec)) 0L else feature_spec$width,
                     format = format, sparse_labels = sparse_labels, workers = workers,
                     worker = worker)
  if (format != "array" && is_doodles_connection(con)) {
    check_store_connection(con)
    features <- producer_features(feature_spec, function(spec) {
      feature_rows(con, "doodles", samples_index, spec, scan = TRUE)
    })
    spec <- c(list(con = con@ptr, texts = NULL, ids = samples_index, batch_size = batch_size,
                   # Without a seed, the session's generator picks one: set.seed() still rules.
                   seed = if (is.null(seed)) sample.int(.Machine$integer.max, 1L) else seed,
                   workers = workers,
                   worker = worker, initial_epoch = initial_epoch, format = format,
                   imagenet = imagenet_preproc, targets = if (sparse_labels) "sparse" else "onehot",
                   classes = num_classes, depth = depth),
              producer_drawing(scale, color, draw_options, threads, hflip = hflip), features)
    return(keras_batches(spec, attributes))
  }
  reader <- batch_reader(con, "doodles", scale, color, threads, depth > 0, labels = TRUE,
                         c(draw_options, format = format, imagenet_preproc = imagenet_preproc))

  epoch <- as.integer(initial_epoch)
  step <- steps
  order <- integer()
  flips <- NULL
  # The ids of the next batch and, with `augment = "hflip"`, which of them to mirror.
  next_ids <- function() {
    if (step == steps) {
      epoch <<- epoch + 1L
      plan <- epoch_plan(samples_index, seed, epoch, hflip)
      order <<- plan$ids
      flips <<- plan$flip
      step <<- 0L
    }
    step <<- step + 1L
    at <- (step - 1L) * global_batch + worker * batch_size + seq_len(batch_size)
    list(ids = order[at], flip = flips[at])
  }
  upcoming <- NULL
  generator <- function() {
    current <- if (is.null(upcoming)) next_ids() else upcoming
    upcoming <<- if (reader$prefetches) next_ids() else NULL
    ids <- current$ids
    batch <- reader$read(ids, upcoming$ids, current$flip, upcoming$flip)
    y <- labels_in_format(batch$label_int, num_classes, format, sparse_labels)
    if (is.null(feature_spec)) {
      return(list(batch$x, y))
    }
    features <- features_in_format(feature_matrix(feature_rows(con, "doodles", ids, feature_spec),
                                                   feature_spec), format)
    list(list(batch$x, features), y)
  }
  do.call(structure, c(list(generator), attributes,
                       list(class = c("doodles_train_generator", "function"))))
}

#' A generator of test batches
#'
#' Returns a generator that walks the test drawings in order, `batch_size` at a time, the last
#' batch possibly smaller: calling it returns `list(x)` for each batch and `NULL` after the last
#' one. It works unchanged with [predict_top3()]. In the Keras forms (`"float32"`, `"uint8"`) it is
#' a Keras dataset whose batches a Rust producer makes from the drawings (read once), as in
#' [train_generator()]: `predict(model, it)` of keras3, of the legacy keras package, or Python's
#' `model.predict(it)` take it as it is, with its length. As `format = "array"` it is an R
#' function, for `predict(model, it, steps = attr(it, "steps"))` (legacy keras: the generator's
#' class ends its one-batch-ahead iterator at that `NULL`, without the warning a plain function
#' gets).
#'
#' @inheritParams train_generator
#' @param data A DBI connection holding a `test` table (`id`, `key_id`, `drawing`, `countrycode`),
#'   walked in `id` order, or a data frame with a `drawing` column (and `key_id`, `countrycode`
#'   for features).
#' @param features As in [train_generator()], among `"countrycode"`, `"n_strokes"` and numeric
#'   columns of the test table; with a data frame, computed from its columns (country codes as in
#'   the `doodles` table of `con`).
#' @param con With a data frame and `"countrycode"` among `features`, the connection whose
#'   `doodles` table defines the country codes.
#' @param format As in [train_generator()]: `"array"`, or `"float32"` or `"uint8"` numpy arrays
#'   for Keras (see [keras_input_format()]).
#' @return A function of no arguments, of class `doodles_test_generator` (`"array"`) or
#'   `doodles_batches` (Keras forms), with attributes `steps` (number of batches), `key_id` (in
#'   batch order, when known), `image_shape`, `n_features`, `format` and `mirrored`: a function
#'   of no arguments returning the same generator (same data, batch size, format, features and
#'   drawing options) with every drawing drawn mirrored (see [draw_doodles()], Mirrored
#'   drawings), for test-time augmentation; for a generator made with `mirror = TRUE`, the
#'   plain one. Nothing is read until it is called.
#' @export
#' @examples
#' drawings <- data.frame(key_id = 1:3, drawing = rep("[[[0, 255], [0, 255]]]", 3))
#' it <- test_generator(drawings, batch_size = 2, scale = 0.125)
#' dim(it()[[1]]) # 2 32 32 1
#' dim(it()[[1]]) # 1 32 32 1
#' it()           # NULL
test_generator <- function(data, batch_size = 32, scale = 1, color = FALSE,
                           imagenet_preproc = FALSE, features = NULL, con = NULL,
                           threads = doodles_threads(), format = "array", ...) {
  as_argument_error(checkmate::assert(checkmate::check_class(data, "DBIConnection"),
                                      checkmate::check_data_frame(data)))
  assert_count(batch_size, positive = TRUE)
  check_image_args(scale, color, imagenet_preproc, threads)
  check_format(format, imagenet_preproc)
  batch_size <- as.integer(batch_size)
  draw_options <- check_draw_options(...)
  batch_options <- c(draw_options, format = format, imagenet_preproc = imagenet_preproc)
  if (is.data.frame(data)) {
    assert_names(names(data), must.include = "drawing", .var.name = "names(data)")
    assert_character(data$drawing, any.missing = FALSE, .var.name = "data$drawing")
    rows <- nrow(data)
    key_id <- data$key_id
    feature_spec <- if (is.null(features)) NULL else {
      assert_class(con, "DBIConnection", .var.name = "con")
      resolve_features(con, features, table = NULL)
    }
    read <- function(index) {
      list(x = draw(data$drawing[index], scale, color, threads, batch_options),
           features = if (!is.null(feature_spec)) {
             feature_matrix(feature_values(data[index, , drop = FALSE], feature_spec), feature_spec)
           })
    }
  } else {
    if (!DBI::dbExistsTable(data, "test")) {
      abort_doodles("The database has no `test` table.", kind = "argument")
    }
    # The Keras forms hand the drawings to a producer: read with the ids, in the one query.
    rows_ids <- DBI::dbGetQuery(data, paste("SELECT id, key_id", if (format != "array") ", drawing",
                                            "FROM test ORDER BY id"))
    rows <- nrow(rows_ids)
    key_id <- rows_ids$key_id
    feature_spec <- resolve_features(data, features, table = "test")
    reader <- if (format == "array") {
      batch_reader(data, "test", scale, color, threads, prefetch = TRUE, labels = FALSE,
                   batch_options)
    }
    read <- function(index) {
      ids <- rows_ids$id[index]
      upcoming <- if (reader$prefetches && max(index) < rows) {
        rows_ids$id[seq(max(index) + 1L, min(rows, max(index) + batch_size))]
      }
      list(x = reader$read(ids, upcoming)$x,
           features = if (!is.null(feature_spec)) {
             feature_matrix(feature_rows(data, "test", ids, feature_spec), feature_spec)
           })
    }
  }
  steps <- ceiling(rows / batch_size)
  # The same generator drawing the other way round (test-time augmentation).
  mirrored <- function() {
    options <- draw_options
    options$mirror <- !isTRUE(draw_options$mirror)
    do.call(test_generator, c(list(data, batch_size = batch_size, scale = scale, color = color,
                                   imagenet_preproc = imagenet_preproc, features = features,
                                   con = con, threads = threads, format = format), options))
  }
  attributes <- list(steps = steps, key_id = key_id,
                     image_shape = image_shape(scale, color, draw_options),
                     n_features = if (is.null(feature_spec)) 0L else feature_spec$width,
                     format = format, mirrored = mirrored)
  if (format != "array") {
    return(test_batches(data, rows_ids, batch_size, feature_spec, format, imagenet_preproc,
                        producer_drawing(scale, color, draw_options, threads), attributes))
  }
  step <- 0L
  generator <- function() {
    if (step >= steps) return(NULL)
    step <<- step + 1L
    index <- seq((step - 1L) * batch_size + 1L, min(rows, step * batch_size))
    batch <- read(index)
    if (is.null(batch$features)) {
      return(list(batch$x))
    }
    list(list(batch$x, features_in_format(batch$features, format)))
  }
  do.call(structure, c(list(generator), attributes,
                       list(class = c("doodles_test_generator", "function"))))
}

# A test generator in a Keras form: the drawings (of the data frame, or of the `test` table read
# once in id order) and their features handed to a producer that walks them in order.
test_batches <- function(data, rows_ids, batch_size, feature_spec, format, imagenet_preproc,
                         drawing, attributes) {
  if (is.data.frame(data)) {
    drawings <- data$drawing
    ids <- seq_along(drawings)
    read_rows <- function(spec) feature_values(data, spec)
  } else {
    ids <- rows_ids$id
    drawings <- rows_ids$drawing
    read_rows <- function(spec) feature_rows(data, "test", ids, spec, scan = TRUE)
  }
  spec <- c(list(con = NULL, texts = drawings, ids = ids, batch_size = batch_size, seed = NULL,
                 workers = 1L, worker = 0L, initial_epoch = 0L, format = format,
                 imagenet = imagenet_preproc, targets = "none", classes = 0L, depth = 2L),
            drawing, producer_features(feature_spec, read_rows))
  keras_batches(spec, attributes)
}

check_image_args <- function(scale, color, imagenet_preproc, threads,
                             call = rlang::caller_env()) {
  check_scale(scale, call = call)
  assert_flag(color, .var.name = "color")
  assert_flag(imagenet_preproc, .var.name = "imagenet_preproc")
  check_threads_arg(threads, call = call)
}

check_draw_options <- function(..., call = rlang::caller_env()) {
  options <- list(...)
  known <- c("line_width", "antialias", "encoding", "mirror")
  if (length(options) && (is.null(names(options)) || !all(names(options) %in% known))) {
    abort_doodles(sprintf("Unknown drawing options in `...`: only %s are passed to draw_doodles().",
                          paste(known, collapse = ", ")), kind = "argument", call = call)
  }
  if (!is.null(options$mirror)) check_mirror(options$mirror, 1L, call = call)
  options
}

# `augment` of train_generator(): whether it is "hflip" (else "none").
check_augment <- function(augment, draw_options, call = rlang::caller_env()) {
  if (!is.character(augment) || length(augment) != 1L || !augment %in% c("none", "hflip")) {
    abort_doodles(sprintf("`augment` must be \"none\" or \"hflip\", not %s",
                          deparse1(augment, nlines = 1L)), kind = "argument", call = call)
  }
  if (augment == "hflip" && isTRUE(draw_options$mirror)) {
    abort_doodles("`augment = \"hflip\"` mirrors half of the drawings: not with `mirror = TRUE`.",
                  kind = "argument", call = call)
  }
  augment == "hflip"
}

draw <- function(drawings, scale, color, threads, draw_options) {
  do.call(draw_doodles, c(list(drawings, scale = scale, color = color, threads = threads),
                          draw_options))
}

# (height, width, channels) of the images drawn with `draw_options` (in whatever format), found
# by drawing a one-point doodle.
image_shape <- function(scale, color, draw_options) {
  draw_options$format <- NULL
  draw_options$imagenet_preproc <- NULL
  dim(draw("[[[0], [0]]]", scale, color, 1L, draw_options))[2:4]
}

database_classes <- function(con) {
  n <- if (DBI::dbExistsTable(con, "labels")) {
    DBI::dbGetQuery(con, "SELECT count(*) AS n FROM labels")$n
  } else {
    DBI::dbGetQuery(con, "SELECT max(label_int) + 1 AS n FROM doodles")$n
  }
  if (length(n) != 1 || is.na(n) || n < 1) {
    abort_doodles("Cannot tell the number of classes from the database: pass `num_classes`.",
                  kind = "argument")
  }
  as.integer(n)
}

# The permutation of the ids for one epoch. With a seed, it depends on (seed, epoch) only, and the
# session's random number generator is left as it was.
shuffle_ids <- function(ids, seed, epoch) {
  epoch_plan(ids, seed, epoch, hflip = FALSE)$ids
}

# One epoch of a generator: the ids permuted and, with `hflip`, which of them (aligned with the
# permuted ids) to draw mirrored: each id with probability 1/2, drawn after the permutation from
# the same seeded stream, so the permutation is shuffle_ids()' and the choice for an id does not
# depend on where it lands.
epoch_plan <- function(ids, seed, epoch, hflip) {
  draw_plan <- function() {
    permutation <- sample.int(length(ids))
    flip <- if (hflip) (stats::runif(length(ids)) < 0.5)[permutation]
    list(ids = ids[permutation], flip = flip)
  }
  if (is.null(seed)) return(draw_plan())
  had_seed <- exists(".Random.seed", envir = globalenv(), inherits = FALSE)
  if (had_seed) saved <- get(".Random.seed", envir = globalenv(), inherits = FALSE)
  on.exit(if (had_seed) assign(".Random.seed", saved, envir = globalenv())
          else rm(".Random.seed", envir = globalenv()))
  set.seed(seed + epoch - 1L, kind = "Mersenne-Twister", normal.kind = "Inversion",
           sample.kind = "Rejection")
  draw_plan()
}

check_labels <- function(label_int, num_classes) {
  if (anyNA(label_int) || any(label_int < 0L | label_int >= num_classes)) {
    bad <- which(is.na(label_int) | label_int < 0L | label_int >= num_classes)[1]
    abort_doodles(sprintf("label_int %s of drawing %d is outside 0..%d (num_classes = %d).",
                          label_int[bad], bad, num_classes - 1L, num_classes),
                  kind = "data", index = bad)
  }
}

# `y` of a batch: one-hot rows or the integer classes, as R values or numpy arrays.
labels_in_format <- function(label_int, num_classes, format, sparse) {
  if (format != "array") {
    return(as_numpy_labels(label_int, num_classes, sparse))
  }
  if (sparse) {
    check_labels(label_int, num_classes)
    return(as.integer(label_int))
  }
  one_hot(label_int, num_classes)
}

features_in_format <- function(features, format) {
  if (format == "array") features else as_numpy_features(features)
}

one_hot <- function(label_int, num_classes) {
  check_labels(label_int, num_classes)
  y <- matrix(0, length(label_int), num_classes)
  y[cbind(seq_along(label_int), label_int + 1L)] <- 1
  y
}
