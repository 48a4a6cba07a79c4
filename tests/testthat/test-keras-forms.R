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
  # The producer's batches hold the drawings of their ids, as doodle_batch() draws them, with
  # their labels; the second and later ones were rendered ahead on the producer's thread.
  for (format in c("float32", "uint8")) {
    for (sparse in c(FALSE, TRUE)) {
      it <- train_generator(con, 1:3000, batch_size = 16, scale = 0.125, color = TRUE, seed = 4,
                            format = format, sparse_labels = sparse)
      dataset <- attr(it, "py_object")
      for (step in 0:2) {
        got <- it()
        ids <- as.vector(reticulate::py_to_r(dataset$ids(step)))
        expected <- doodle_batch(con, ids, scale = 0.125, color = TRUE)
        expect_same_batch(got[[1]], expected$x, format)
        labels <- reticulate::py_to_r(got[[2]])
        if (sparse) {
          expect_equal(reticulate::py_to_r(got[[2]]$dtype$name), "int32")
          expect_equal(as.vector(labels), expected$y)
        } else {
          expect_equal(reticulate::py_to_r(got[[2]]$dtype$name), "float32")
          expect_equal(unname(labels), doodles:::one_hot(expected$y, 345L))
        }
      }
    }
  }
  uint8 <- train_generator(con, 1:3000, batch_size = 16, scale = 0.125, seed = 4, format = "uint8",
                           sparse_labels = TRUE)
  expect_equal(attr(uint8, "format"), "uint8")
  expect_true(attr(uint8, "sparse_labels"))
  # Side inputs follow the form: float32 numpy rows with the values of the R form for their ids.
  features <- c("recognized", "n_strokes", "countrycode")
  it <- train_generator(con, 1:3000, batch_size = 16, scale = 0.125, seed = 4, format = "uint8",
                        features = features)
  got <- it()[[1]][[2]]
  ids <- as.vector(reticulate::py_to_r(attr(it, "py_object")$ids(0L)))
  spec <- doodles:::resolve_features(con, features)
  expected <- doodles:::feature_matrix(doodles:::feature_rows(con, "doodles", ids, spec), spec)
  expect_equal(attr(it, "n_features"), ncol(expected))
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

test_that("the producer's arrays start on 64 bytes, so tf.data takes them into tensors without a copy", {
  skip_if_no_keras()
  con <- local_store()
  load_doodles(con, sample_zip(), progress = FALSE)
  address <- function(a) reticulate::py_to_r(a$`__array_interface__`)$data[[1]]
  for (format in c("uint8", "float32")) {
    it <- train_generator(con, 1:3000, batch_size = 16, scale = 0.25, color = TRUE, seed = 2,
                          format = format, features = c("n_strokes", "countrycode"))
    batch <- it()
    arrays <- list(x = batch[[1]][[1]], features = batch[[1]][[2]], y = batch[[2]])
    for (name in names(arrays)) expect_equal(address(arrays[[name]]) %% 64, 0, info = name)
    # What Keras' PyDataset adapter does with a batch: tf.data's from_generator, whose tensor is
    # the numpy array's own memory when it is aligned (a copy otherwise): a value written into
    # the batch afterwards shows in the tensor.
    reticulate::py_run_string(paste(
      "def doodles_written_after(x):",
      "    import tensorflow as tf",
      "    spec = tf.TensorSpec(x.shape, x.dtype)",
      "    tensor = next(iter(tf.data.Dataset.from_generator(lambda: iter([x]), output_signature=spec)))",
      "    x[0, 0, 0, 0] = 7",
      "    return float(tensor[0, 0, 0, 0])",
      sep = "\n"
    ))
    seen <- reticulate::import_main(convert = FALSE)$doodles_written_after(arrays$x)
    expect_equal(reticulate::py_to_r(seen), 7, info = format)
  }
  reticulate::py_run_string("del doodles_written_after")
})

test_that("batches Python keeps stay intact after R dropped the generator, over thousands of batches and gc()", {
  skip_if_no_keras()
  con <- local_store()
  load_doodles(con, sample_zip(), progress = FALSE)
  it <- train_generator(con, 1:3000, batch_size = 8, scale = 0.0625, seed = 9, format = "uint8",
                        sparse_labels = TRUE)
  main <- reticulate::import_main(convert = FALSE)
  reticulate::py_set_attr(main, "doodles_dataset", attr(it, "py_object"))
  rm(it)
  gc(verbose = FALSE)
  reticulate::py_run_string(paste(
    "import gc",
    "doodles_kept = {}",
    "for step in range(2000):",
    "    x, y = doodles_dataset.take()",
    "    if step % 250 == 0: doodles_kept[step] = (x, y, doodles_dataset.ids(step))",
    "    if step % 100 == 0: gc.collect()",
    "del x, y",
    sep = "\n"
  ))
  gc(verbose = FALSE)
  for (step in seq(0, 1750, by = 250)) {
    kept <- reticulate::py_get_item(main$doodles_kept, as.integer(step))
    ids <- as.vector(reticulate::py_to_r(reticulate::py_get_item(kept, 2L)))
    expect_length(unique(ids), 8)
    fresh <- doodle_batch(con, ids, scale = 0.0625, format = "uint8")
    expect_true(py_true(np()$array_equal(reticulate::py_get_item(kept, 0L), fresh$x)), info = step)
    expect_equal(as.vector(reticulate::py_to_r(reticulate::py_get_item(kept, 1L))), fresh$y)
  }
  reticulate::py_run_string("del doodles_dataset, doodles_kept")
})

test_that("Python threads pulling from one producer at once share out the epoch's ids, each once", {
  skip_if_no_keras()
  con <- local_store()
  load_doodles(con, sample_zip(), progress = FALSE)
  it <- train_generator(con, 1:3000, batch_size = 8, scale = 0.0625, seed = 3, format = "uint8")
  main <- reticulate::import_main(convert = FALSE)
  reticulate::py_set_attr(main, "doodles_dataset", attr(it, "py_object"))
  # 3 threads x 125 batches: the 375 batches of one epoch, taken while the others take theirs.
  reticulate::py_run_string(paste(
    "import threading",
    "doodles_steps = []",
    "def doodles_pull():",
    "    for _ in range(125):",
    "        step, batch = doodles_dataset.take(with_step=True)",
    "        doodles_steps.append(step)",
    "threads = [threading.Thread(target=doodles_pull) for _ in range(3)]",
    "for t in threads: t.start()",
    "for t in threads: t.join()",
    "doodles_ids = sorted(int(i) for s in doodles_steps for i in doodles_dataset.ids(s))",
    sep = "\n"
  ))
  expect_setequal(unlist(reticulate::py_to_r(main$doodles_steps)), 0:374)
  expect_equal(unlist(reticulate::py_to_r(main$doodles_ids)), 1:3000)
  # The same seed gives the same batches, whoever takes them.
  again <- train_generator(con, 1:3000, batch_size = 8, scale = 0.0625, seed = 3, format = "uint8")
  expect_equal(reticulate::py_to_r(attr(again, "py_object")$ids(374L)),
               reticulate::py_to_r(attr(it, "py_object")$ids(374L)))
  other <- train_generator(con, 1:3000, batch_size = 8, scale = 0.0625, seed = 4, format = "uint8")
  expect_false(identical(reticulate::py_to_r(attr(other, "py_object")$ids(0L)),
                         reticulate::py_to_r(attr(it, "py_object")$ids(0L))))
  reticulate::py_run_string("del doodles_dataset, doodles_steps, doodles_ids")
})

test_that("fit_doodles() is Keras' own fit() on the producer, which never calls R", {
  skip_if_no_keras()
  con <- local_store()
  load_doodles(con, sample_zip(), progress = FALSE)
  bridge <- doodles:::bridge_py(convert = FALSE)
  bridge$reset_call_counts()
  for (format in c("float32", "uint8")) {
    it <- train_generator(con, 1:3000, batch_size = 64, scale = 0.125, seed = 1, format = format)
    model <- get_model("lenet", input_shape = attr(it, "image_shape"),
                       num_classes = attr(it, "num_classes"),
                       input_dtype = if (format == "uint8") "uint8" else "float32")
    history <- fit_doodles(model, it, epochs = 2, verbose = 0)
    expect_equal(history$epoch, 1:2)
    expect_true(all(history$data_seconds >= 0 & history$train_seconds > 0))
  }
  expect_equal(reticulate::py_to_r(bridge$r_calls), list(main = 0L, other = 0L))
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
                                     format = "float32")(), class = "doodles_error_drawing")
  expect_equal(err$id, 4)
  expect_match(conditionMessage(err), "id 4")
  # The same drawing met by Keras' own predict() (its tf.data thread): the same error in R.
  model <- get_model("mlp", input_shape = c(32, 32), num_classes = 3, units = 4)
  err <- expect_error(predict_top3(model, test_generator(data.frame(drawing = bad), batch_size = 2,
                                                         scale = 0.125, format = "float32"),
                                   words = c("a", "b", "c")),
                      class = "doodles_error_drawing")
  expect_equal(err$id, 4)
  expect_error(draw_doodles("[]", format = "float64"), class = "doodles_error_argument")
  expect_error(draw_doodles("[]", format = "uint8", imagenet_preproc = TRUE),
               class = "doodles_error_argument")

  closed <- local_store()
  load_doodles(closed, sample_zip(), progress = FALSE)
  it <- train_generator(closed, 1:3000, batch_size = 4, scale = 0.125, format = "uint8")
  it()
  DBI::dbDisconnect(closed)
  err <- expect_error(it(), class = "doodles_error_argument")
  expect_match(conditionMessage(err), "closed")
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

test_that("a producer refuses batches once its database was written, and outlives its index file", {
  skip_if_no_keras()
  dir <- withr::local_tempdir()
  con <- local_store(file.path(dir, "doodles.duckdb"))
  load_doodles(con, sample_zip(), progress = FALSE)
  it <- train_generator(con, 1:3000, batch_size = 4, scale = 0.125, seed = 2, format = "uint8",
                        sparse_labels = TRUE)
  dataset <- attr(it, "py_object")
  # The producer maps the stroke index: deleting the file takes nothing from it.
  strokes <- file.path(dir, "doodles.duckdb.strokes")
  expect_true(file.exists(strokes))
  unlink(strokes)
  batch <- it()
  ids <- as.vector(reticulate::py_to_r(dataset$ids(0L)))
  expect_true(py_true(np()$array_equal(batch[[1]], doodle_batch(con, ids, scale = 0.125,
                                                                format = "uint8")$x)))
  DBI::dbExecute(con, "DELETE FROM doodles WHERE id = 3000")
  err <- expect_error(it(), class = "doodles_error_index")
  expect_match(conditionMessage(err), "make a new generator")
})

test_that("Keras' own fit() on the producer learns the synthetic shapes, and predict() ranks them", {
  skip_if_no_keras()
  shapes <- shape_drawings(640, seed = 11)
  con <- shapes_store(shapes)
  held_out <- shape_drawings(200, seed = 12)
  for (format in c("float32", "uint8")) {
    for (color in c(FALSE, TRUE)) {
      keras_module()$utils$set_random_seed(5L)
      sparse <- format == "uint8"
      it <- train_generator(con, 1:640, batch_size = 32, scale = 0.125, color = color, seed = 2,
                            format = format, sparse_labels = sparse)
      model <- get_model("lenet", input_shape = c(32, 32), num_classes = 4, input_dtype = format,
                         color = color, metrics = list("accuracy"),
                         loss = if (sparse) "sparse_categorical_crossentropy" else "categorical_crossentropy")
      # No steps_per_epoch: the dataset knows its length (20 batches).
      model$fit(attr(it, "py_object"), epochs = 5L, verbose = 0L)
      top3 <- predict_top3(model, test_generator(held_out, batch_size = 64, scale = 0.125,
                                                 color = color, format = format),
                           words = c("bar", "column", "cross", "square"))
      expect_equal(nrow(top3), 200)
      expect_gt(map_at_k(held_out$word, top3, k = 1), 0.8)
    }
  }
})

test_that("batches R takes in a loop are freed as it goes, though R's collector cannot see their memory", {
  skip_if_no_keras()
  con <- local_store()
  load_doodles(con, sample_zip(), progress = FALSE)
  it <- train_generator(con, 1:3000, batch_size = 64, scale = 0.25, seed = 1, format = "float32")
  reticulate::py_run_string(paste(
    "import gc, doodles_py.batches as doodles_batches",
    "def doodles_live_batches():",
    "    return sum(isinstance(o, doodles_batches._Memory) for o in gc.get_objects())",
    sep = "\n"
  ))
  live <- function() reticulate::py_eval("doodles_live_batches()")
  gc(verbose = FALSE)
  before <- live()
  # 64 images of 64 x 64 in float32 are 1 MB: with a threshold of 4 MB, R collects every few
  # batches, and no more than about 4 batches' arrays (x and y) stay alive.
  withr::with_options(list(doodles.collect_after = 4e6), {
    for (i in 1:40) batch <- it()
  })
  expect_lte(live() - before, 2 * 6)
  # Without it R would hold all 40 batches' arrays until it collected for reasons of its own.
  withr::with_options(list(doodles.collect_after = Inf), {
    for (i in 1:40) batch <- it()
  })
  expect_gt(live() - before, 2 * 30)
  rm(batch)
  gc(verbose = FALSE)
})
