# Batches in the form Keras consumes (format = "float32" / "uint8"): NHWC numpy arrays that Rust
# wrote in R's memory, with exactly the values of the R array path, never copied, kept alive by
# Python, and trained on.

np <- function() reticulate::import("numpy", convert = FALSE)
py_true <- function(x) isTRUE(reticulate::py_to_r(x))

# The R double array as numpy, then in the Keras form's element type (numpy compares by index,
# whatever the memory order, so this is the R array transposed to NHWC).
expected_form <- function(array, format) {
  if (format == "float32") {
    return(reticulate::r_to_py(array)$astype("float32"))
  }
  np()$rint(reticulate::r_to_py(array * 255))$astype("uint8")
}

expect_same_batch <- function(x, array, format) {
  expect_equal(reticulate::py_to_r(x$dtype$name), format)
  expect_equal(unlist(reticulate::py_to_r(x$shape)), dim(array))
  expect_true(py_true(x$flags$c_contiguous))
  expect_true(py_true(np()$array_equal(x, expected_form(array, format))))
}

test_that("every form holds the values of the R array, every encoding, imagenet_preproc or not", {
  skip_if_no_keras()
  drawings <- sample_test()$drawing[1:70]
  cases <- expand.grid(encoding = c("gray", "hue", "order", "point", "stack"),
                       antialias = c(FALSE, TRUE), stringsAsFactors = FALSE)
  for (i in seq_len(nrow(cases))) {
    args <- list(drawings, scale = 0.25, encoding = cases$encoding[i], color = cases$encoding[i] == "hue",
                 antialias = cases$antialias[i], threads = 2)
    array <- do.call(draw_doodles, args)
    for (format in c("float32", "uint8")) {
      expect_same_batch(do.call(draw_doodles, c(args, format = format)), array, format)
    }
    imagenet <- do.call(draw_doodles, c(args, format = "float32", imagenet_preproc = TRUE))
    expect_same_batch(imagenet, array * 2 - 1, "float32")
    expect_equal(do.call(draw_doodles, c(args, imagenet_preproc = TRUE)), array * 2 - 1)
  }
})

test_that("store batches and generators give the same values in every form, prefetched or not", {
  skip_if_no_keras()
  con <- local_store()
  load_doodles(con, sample_zip(), progress = FALSE)
  ids <- c(5, 1, 42, 2999, 7)
  for (color in c(FALSE, TRUE)) {
    array <- doodle_batch(con, ids, scale = 0.25, color = color)
    for (format in c("float32", "uint8")) {
      batch <- doodle_batch(con, ids, scale = 0.25, color = color, format = format)
      expect_same_batch(batch$x, array$x, format)
      expect_identical(batch$y, array$y)
    }
  }
  # Three batches in each form from generators with the same seed: the second and third were
  # prefetched (drawn by Rust threads for the layout of their form).
  make <- function(format, ...) {
    train_generator(con, 1:3000, batch_size = 16, scale = 0.125, color = TRUE, seed = 4,
                    format = format, ...)
  }
  r_array <- make("array")
  float32 <- make("float32")
  uint8 <- make("uint8", sparse_labels = TRUE)
  for (step in 1:3) {
    expected <- r_array()
    got <- float32()
    expect_same_batch(got[[1]], expected[[1]], "float32")
    expect_true(py_true(np()$array_equal(got[[2]], expected[[2]])))
    expect_equal(reticulate::py_to_r(got[[2]]$dtype$name), "float32")
    got <- uint8()
    expect_same_batch(got[[1]], expected[[1]], "uint8")
    expect_equal(reticulate::py_to_r(got[[2]]$dtype$name), "int32")
    expect_equal(as.vector(reticulate::py_to_r(got[[2]])), max.col(expected[[2]]) - 1L)
  }
  expect_equal(attr(uint8, "format"), "uint8")
  expect_true(attr(uint8, "sparse_labels"))
  # Side inputs follow the form: float32 numpy rows with the values of the R form.
  with_features <- function(format) {
    train_generator(con, 1:3000, batch_size = 16, scale = 0.125, seed = 4, format = format,
                    features = c("recognized", "n_strokes"))()
  }
  expected <- with_features("array")[[1]][[2]]
  got <- with_features("uint8")[[1]][[2]]
  expect_equal(reticulate::py_to_r(got$dtype$name), "float32")
  expect_true(py_true(got$flags$c_contiguous))
  expect_equal(reticulate::py_to_r(got), expected, ignore_attr = TRUE)
})

test_that("the numpy batch is a view of the memory Rust wrote, never a copy", {
  skip_if_no_keras()
  drawings <- sample_test()$drawing[1:9]
  for (format in c("float32", "uint8")) {
    storage <- doodles:::rust_result(
      doodles:::raster_draw(drawings, 0.25, "hue", 3, FALSE, 2L, format, FALSE)
    )
    x <- doodles:::as_numpy_batch(storage)
    # reticulate views R's integer memory (no copy): two conversions share one address.
    first <- reticulate::r_to_py(storage)
    second <- reticulate::r_to_py(storage)
    address <- function(a) reticulate::py_to_r(a$`__array_interface__`)$data[[1]]
    expect_identical(address(first), address(second))
    expect_true(py_true(np()$shares_memory(x, first)))
    expect_equal(address(x), address(first))
    expect_false(py_true(x$flags$owndata))
  }
})

# Batch `step` (from 1, over epochs) of `it`, a generator of 1:3000 in batches of 8 at scale
# 0.0625 with seed 9 in uint8, drawn anew from its ids.
fresh_uint8_batch <- function(con, it, step) {
  steps <- attr(it, "steps_per_epoch")
  epoch <- (step - 1L) %/% steps + 1L
  epoch_step <- (step - 1L) %% steps + 1L
  ids <- doodles:::shuffle_ids(1:3000, 9, epoch)[(epoch_step - 1L) * 8L + 1:8]
  doodle_batch(con, ids, scale = 0.0625, format = "uint8")$x
}

test_that("batches R or Python keeps stay intact across thousands of batches and gc()", {
  skip_if_no_keras()
  con <- local_store()
  load_doodles(con, sample_zip(), progress = FALSE)
  it <- train_generator(con, 1:3000, batch_size = 8, scale = 0.0625, seed = 9, format = "uint8",
                        sparse_labels = TRUE)
  reticulate::py_run_string("doodles_kept = []")
  main <- reticulate::import_main(convert = FALSE)
  address <- function(a) reticulate::py_to_r(a$`__array_interface__`)$data[[1]]
  kept_in_python <- kept_in_r <- list()
  addresses <- numeric()
  for (step in 1:2000) {
    batch <- it()
    addresses[step] <- address(batch[[1]])
    if (step %% 250 == 0) {
      main$doodles_kept$append(batch[[1]])
      kept_in_python[[length(kept_in_python) + 1]] <- step
    }
    if (step %% 250 == 125) kept_in_r[[as.character(step)]] <- batch[[1]]
    rm(batch)
    if (step %% 50 == 0) gc(verbose = FALSE)
  }
  gc(verbose = FALSE)
  # The generator writes new batches into the memory of the ones nobody holds (batch_pool()):
  # without that, each of the 2000 batches would have memory of its own. How often depends on
  # when R's garbage collector frees the dropped batches' R wrappers (measured: 107 to 315
  # distinct addresses).
  expect_lt(length(unique(addresses)), 1000)
  fresh_batch <- function(step) fresh_uint8_batch(con, it, step)
  for (k in seq_along(kept_in_python)) {
    step <- kept_in_python[[k]]
    expect_true(py_true(np()$array_equal(main$doodles_kept[k - 1L], fresh_batch(step))), info = step)
  }
  for (step in names(kept_in_r)) {
    expect_true(py_true(np()$array_equal(kept_in_r[[step]], fresh_batch(as.integer(step)))),
                info = step)
  }
  reticulate::py_run_string("del doodles_kept")
})

test_that("batches the bridge's loop pulls reuse memory as soon as Python drops them, and kept ones stay intact", {
  skip_if_no_keras()
  con <- local_store()
  load_doodles(con, sample_zip(), progress = FALSE)
  it <- train_generator(con, 1:3000, batch_size = 8, scale = 0.0625, seed = 9, format = "uint8",
                        sparse_labels = TRUE)
  pool <- attr(it, "batch_pool")
  bridge <- doodles:::arrays_py() # imports the module the loop below uses
  stop_handing_anchors <- doodles:::hand_anchors_to_bridge(it)
  main <- reticulate::import_main(convert = FALSE)
  reticulate::py_set_attr(main, "doodles_fn", it)
  # fit_doodles()'s loop pulls batches this way (next_batch), here keeping every 100th in Python.
  reticulate::py_run_string(paste(
    "import sys",
    "doodles_addresses, doodles_kept = [], {}",
    "for step in range(1, 1001):",
    "    x, y = sys.modules['doodles_bridge'].next_batch(doodles_fn)",
    "    doodles_addresses.append(x.__array_interface__['data'][0])",
    "    if step % 100 == 0: doodles_kept[step] = x",
    "del x, y",
    sep = "\n"
  ))
  stop_handing_anchors()
  addresses <- unlist(reticulate::py_to_r(main$doodles_addresses))
  # The loop holds one batch while it pulls the next, so two storages alternate; each batch kept
  # at steps 100 to 900 takes one out of the cycle, and one new storage replaces it: 2 + 9 for
  # 1000 batches. (With the views made in R, about two batches in three got new memory: R's
  # garbage collector had not yet freed the wrappers of the dropped ones.)
  expect_equal(pool$new_storages(), 2 + 9)
  expect_equal(which(!duplicated(addresses)), c(1, 2, seq(102, 902, by = 100)))
  for (step in seq(100, 1000, by = 100)) {
    kept <- reticulate::py_get_item(main$doodles_kept, as.integer(step))
    expect_true(py_true(np()$array_equal(kept, fresh_uint8_batch(con, it, step))), info = step)
  }
  reticulate::py_run_string("del doodles_fn, doodles_addresses, doodles_kept")
})

test_that("fit_doodles() trains on the pool's memory over and over", {
  skip_if_no_keras()
  con <- local_store()
  load_doodles(con, sample_zip(), progress = FALSE)
  for (format in c("float32", "uint8")) {
    it <- train_generator(con, 1:3000, batch_size = 16, scale = 0.125, seed = 1, format = format)
    model <- get_model("lenet", input_shape = attr(it, "image_shape"),
                       num_classes = attr(it, "num_classes"),
                       input_dtype = if (format == "uint8") "uint8" else "float32")
    fit_doodles(model, it, steps_per_epoch = 100, epochs = 2, verbose = 0)
    # 200 batches in 3 storages: the first batch, which fit_doodles() pulls in R and holds, and
    # two alternating (before, with the views made in R: ~145).
    expect_equal(attr(it, "batch_pool")$new_storages(), 3, info = format)
  }
})

test_that("a batch of one, the last partial test batch, bad drawings and closed connections", {
  skip_if_no_keras()
  con <- local_store()
  load_doodles(con, sample_zip(), progress = FALSE)
  one <- doodle_batch(con, 17, scale = 0.125, format = "uint8")
  expect_equal(unlist(reticulate::py_to_r(one$x$shape)), c(1, 32, 32, 1))
  expect_same_batch(one$x, doodle_batch(con, 17, scale = 0.125)$x, "uint8")
  test <- sample_test()[1:10, ]
  it <- test_generator(test, batch_size = 4, scale = 0.125, format = "float32")
  shapes <- list()
  while (!is.null(batch <- it())) shapes[[length(shapes) + 1]] <- reticulate::py_to_r(batch[[1]]$shape)
  expect_equal(vapply(shapes, function(s) s[[1]], 1), c(4, 4, 2))
  empty <- draw_doodles(character(), scale = 0.125, format = "uint8")
  expect_equal(unlist(reticulate::py_to_r(empty$shape)), c(0, 32, 32, 1))

  bad <- c(test$drawing[1:3], "[[[1, 2], [3]]]")
  err <- expect_error(draw_doodles(bad, scale = 0.125, format = "uint8"), class = "doodles_error")
  expect_equal(err$index, 4)
  expect_match(conditionMessage(err), "drawing 4")
  err <- expect_error(test_generator(data.frame(drawing = bad), batch_size = 4, scale = 0.125,
                                     format = "float32")(), class = "doodles_error")
  expect_equal(err$index, 4)
  expect_error(draw_doodles("[]", format = "float64"), class = "doodles_error_argument")
  expect_error(draw_doodles("[]", format = "uint8", imagenet_preproc = TRUE),
               class = "doodles_error_argument")

  closed <- local_store()
  load_doodles(closed, sample_zip(), progress = FALSE)
  it <- train_generator(closed, 1:3000, batch_size = 4, scale = 0.125, format = "uint8")
  DBI::dbDisconnect(closed)
  expect_error(it(), class = "doodles_error")
  expect_error(train_generator(closed, 1:3000, batch_size = 4, format = "uint8"),
               class = "doodles_error_argument")
})

test_that("uint8 models rescale on the device and refuse float batches, and the reverse", {
  skip_if_no_keras()
  keras <- keras_module()
  model <- get_model("mlp", input_shape = c(8, 8), num_classes = 3, units = 4, input_dtype = "uint8")
  expect_equal(keras_input_format(model), "uint8")
  expect_equal(model$get_layer("rescale_uint8")$scale, 1 / 255)
  imagenet <- get_model("mlp", input_shape = c(8, 8), num_classes = 3, units = 4,
                        input_dtype = "uint8", imagenet_preproc = TRUE)
  expect_equal(imagenet$get_layer("rescale_uint8")$offset, -1)
  float_model <- get_model("mlp", input_shape = c(8, 8), num_classes = 3, units = 4)
  expect_equal(keras_input_format(float_model), "float32")
  # The same weights see the same images: uint8 rescaled on the device, float32 as drawn.
  float_model$set_weights(model$get_weights())
  drawings <- sample_test()$drawing[1:5]
  bytes <- draw_doodles(drawings, scale = 1 / 32, format = "uint8")
  floats <- draw_doodles(drawings, scale = 1 / 32, format = "float32")
  expect_equal(model$predict(bytes, verbose = 0L), float_model$predict(floats, verbose = 0L),
               tolerance = 1e-5)

  batches <- function(format) {
    function() list(draw_doodles(drawings, scale = 1 / 32, format = format), diag(3)[c(1:3, 1:2), ])
  }
  err <- expect_error(fit_doodles(float_model, batches("uint8"), steps_per_epoch = 1, verbose = 0),
                      class = "doodles_error_model")
  expect_match(conditionMessage(err), "uint8")
  expect_error(fit_doodles(model, batches("float32"), steps_per_epoch = 1, verbose = 0),
               class = "doodles_error_model")
})

test_that("training on each Keras form learns the synthetic shapes", {
  skip_if_no_keras()
  shapes <- shape_drawings(640, seed = 11)
  con <- sample_sqlite(shapes)
  for (format in c("float32", "uint8")) {
    keras_module()$utils$set_random_seed(5L)
    sparse <- format == "uint8"
    it <- train_generator(con, shapes$id, batch_size = 32, scale = 0.125, seed = 2, format = format,
                          sparse_labels = sparse, num_classes = 4)
    model <- get_model("lenet", input_shape = c(32, 32), num_classes = 4, input_dtype = format,
                       loss = if (sparse) "sparse_categorical_crossentropy" else "categorical_crossentropy",
                       metrics = list("accuracy"))
    history <- fit_doodles(model, it, epochs = 3, verbose = 0)
    expect_gt(utils::tail(history$accuracy, 1), 0.8)
    held_out <- shape_drawings(200, seed = 12)
    top3 <- predict_top3(model, test_generator(held_out, batch_size = 64, scale = 0.125,
                                               format = keras_input_format(model)),
                         words = c("bar", "column", "cross", "square"))
    expect_gt(map_at_k(held_out$word, top3, k = 1), 0.8)
  }
})
