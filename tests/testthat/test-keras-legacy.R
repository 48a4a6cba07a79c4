# The legacy R keras package (Keras 2, PyPI's tf_keras) on doodles generators: fit_generator() on
# R arrays and float32 batches, and predict() over a test generator without the warning Keras 2
# gives when its iterator, one batch ahead, meets the NULL that ends a generator. Like keras3, it
# runs in a child R process with the R Keras library (helper-r-keras.R).

test_that("legacy keras trains on doodles generators and predicts without warnings", {
  skip_if_no_legacy_keras()
  output <- run_with_r_keras('
    Sys.setenv(TF_USE_LEGACY_KERAS = "1")
    suppressPackageStartupMessages({library(doodles); use_keras_env(); library(keras)})
    drawings <- read.csv(system.file("extdata", "test_simplified.csv", package = "doodles"),
                         colClasses = "character")$drawing[1:100]
    con <- DBI::dbConnect(RSQLite::SQLite(), ":memory:")
    DBI::dbWriteTable(con, "doodles", data.frame(id = 1:100, drawing = drawings,
                                                 label_int = rep(0:3, 25)))
    model <- keras_model_sequential() %>% layer_flatten(input_shape = c(32, 32, 1)) %>%
      layer_dense(4, activation = "softmax")
    model %>% compile(loss = "categorical_crossentropy", optimizer = "adam")
    for (format in c("array", "float32")) {
      it <- train_generator(con, 1:100, batch_size = 20, scale = 0.125, num_classes = 4,
                            format = format)
      history <- fit_generator(model, it, steps_per_epoch = attr(it, "steps_per_epoch"),
                               epochs = 2, verbose = 0)
      # The doodles generator, then the same closure without its class (a plain R function).
      for (classed in c(TRUE, FALSE)) {
        tg <- test_generator(data.frame(drawing = drawings), batch_size = 30, scale = 0.125,
                             format = format)
        if (!classed) tg <- unclass(tg)
        warnings <- character()
        p <- withCallingHandlers(predict(model, tg, steps = attr(tg, "steps"), verbose = 0),
                                 warning = function(w) {
                                   warnings <<- c(warnings, conditionMessage(w))
                                   invokeRestart("muffleWarning")
                                 })
        cat(sprintf("result %s %s %d %d %d\\n", format, classed, length(history$metrics$loss),
                    nrow(p), length(warnings)))
      }
    }
  ')
  results <- utils::read.table(text = grep("^result ", output, value = TRUE),
                               col.names = c("tag", "format", "classed", "epochs", "rows", "warnings"))
  expect_equal(results$epochs, rep(2, 4))
  expect_equal(results$rows, rep(100, 4))
  # Keras 2 warns when its look-ahead call gets the NULL that ends a plain function; the doodles
  # generator's class gives it an iterator that ends there instead.
  expect_equal(results$warnings[results$classed], c(0, 0))
  expect_true(all(results$warnings[!results$classed] > 0))
})

test_that("legacy keras takes the producer's datasets (tf_keras Sequences) and ends epochs by their length", {
  skip_if_no_legacy_keras()
  files <- shapes_files(train_seed = 31, test_seed = 32)
  output <- run_with_r_keras(sprintf('
    Sys.setenv(TF_USE_LEGACY_KERAS = "1")
    suppressPackageStartupMessages({library(doodles); use_keras_env(); library(keras)})
    con <- DBI::dbConnect(doodles_duckdb(), dbdir = "%s")
    test <- utils::read.csv("%s", colClasses = c(drawing = "character"))
    it <- train_generator(con, 1:640, batch_size = 32, scale = 0.125, seed = 2, format = "float32")
    cat("class", class(attr(it, "py_object"))[1], "\\n")
    tensorflow::set_random_seed(3)
    model <- keras_model_sequential() %%>%%
      layer_conv_2d(16, c(3, 3), activation = "relu", input_shape = c(32, 32, 1)) %%>%%
      layer_max_pooling_2d(c(2, 2)) %%>%% layer_conv_2d(32, c(3, 3), activation = "relu") %%>%%
      layer_max_pooling_2d(c(2, 2)) %%>%% layer_flatten() %%>%% layer_dense(4, activation = "softmax")
    model %%>%% compile(loss = "categorical_crossentropy", optimizer = "adam", metrics = "accuracy")
    history <- fit(model, it, epochs = 8, verbose = 0)
    more <- suppressWarnings(fit_generator(model, it, steps_per_epoch = attr(it, "steps_per_epoch"),
                                           epochs = 1, verbose = 0))
    tg <- test_generator(test, batch_size = 64, scale = 0.125, format = "float32")
    p <- predict(model, tg, verbose = 0)
    cat(sprintf("result %%d %%d %%.3f\\n", length(history$metrics$loss), nrow(p),
                mean(max.col(p) - 1 == test$label_int)))
  ', files$dbdir, files$test_csv))
  expect_true(any(grepl("^class doodles_py.batches.Batches", output)), info = paste(output, collapse = "\n"))
  result <- utils::read.table(text = grep("^result ", output, value = TRUE),
                              col.names = c("tag", "epochs", "rows", "test_accuracy"))
  expect_equal(result$epochs, 8)
  expect_equal(result$rows, 200)
  expect_gt(result$test_accuracy, 0.8)
})

test_that("the article's call: get_model() builds Keras 2 models that fit_generator() trains on the real sample", {
  skip_if_no_legacy_keras()
  output <- run_with_r_keras('
    suppressPackageStartupMessages({library(keras); library(doodles)})
    use_keras_env()
    con <- DBI::dbConnect(doodles_duckdb())
    load_doodles(con, system.file("extdata", "train_simplified.zip", package = "doodles"))
    load_test(con, system.file("extdata", "test_simplified.csv", package = "doodles"))
    n <- DBI::dbGetQuery(con, "SELECT count(*) AS n FROM doodles")$n
    submission <- tempfile(fileext = ".csv")
    for (name in c("lenet", "mobilenet_v1")) for (color in c(FALSE, TRUE)) {
      it <- train_generator(con, seq_len(n), batch_size = 32, scale = 0.125, color = color,
                            seed = 1, format = "uint8")
      model <- get_model(name, input_shape = c(32, 32), color = color, input_dtype = "uint8",
                         num_classes = attr(it, "num_classes"),
                         alpha = if (name == "mobilenet_v1") 0.25)
      history <- suppressWarnings(fit_generator(model, it, steps_per_epoch = 3, epochs = 2,
                                                verbose = 0))
      tg <- test_generator(con, batch_size = 250, scale = 0.125, color = color, format = "uint8")
      p <- predict(model, tg, verbose = 0)
      top3 <- predict_top3(model, tg, words = con)
      words <- DBI::dbGetQuery(con, "SELECT word FROM labels ORDER BY label_int")$word
      write_submission(top3, submission)
      cat(sprintf("result %s %s %s %s %d %d %d %s %d %s\\n", name, color,
                  inherits(model, "keras.src.engine.training.Model"),
                  keras_input_format(model), length(history$metrics$loss), nrow(p), ncol(p),
                  identical(top3$word1, words[max.col(p, ties.method = "first")]),
                  length(readLines(submission)), all(is.finite(history$metrics$loss))))
    }
  ')
  results <- utils::read.table(text = grep("^result ", output, value = TRUE), col.names = c(
    "tag", "name", "color", "keras2", "format", "epochs", "rows", "classes", "same_top1",
    "submission_lines", "finite"))
  expect_equal(results$name, rep(c("lenet", "mobilenet_v1"), each = 2))
  expect_equal(results$color, rep(c(FALSE, TRUE), 2))
  # Keras 2 (tf_keras) models, which legacy keras trains, taking bytes.
  expect_true(all(results$keras2))
  expect_equal(results$format, rep("uint8", 4))
  expect_equal(results$epochs, rep(2, 4))
  expect_true(all(results$finite))
  # Every test drawing predicted, over the 345 classes; predict_top3() ranks what predict() gives.
  expect_equal(results$rows, rep(750, 4))
  expect_equal(results$classes, rep(345, 4))
  expect_true(all(results$same_top1))
  expect_equal(results$submission_lines, rep(751, 4))
})

test_that("a Keras 2 get_model() model learns the shapes through fit() and the package's own roads", {
  skip_if_no_legacy_keras()
  files <- shapes_files(train_seed = 41, test_seed = 42)
  output <- run_with_r_keras(sprintf('
    suppressPackageStartupMessages({library(keras); library(doodles)})
    use_keras_env()
    con <- DBI::dbConnect(doodles_duckdb(), dbdir = "%s")
    test <- utils::read.csv("%s", colClasses = c(drawing = "character", key_id = "character"))
    tensorflow::set_random_seed(5)
    it <- train_generator(con, 1:640, batch_size = 32, scale = 0.125, seed = 2, format = "uint8")
    model <- get_model("lenet", input_shape = c(32, 32), num_classes = 4, input_dtype = "uint8")
    history <- fit(model, it, epochs = 4, verbose = 0)
    frame <- fit_doodles(model, it, epochs = 1, verbose = 0)
    tg <- test_generator(test, batch_size = 64, scale = 0.125, format = "uint8")
    top3 <- predict_top3(model, tg, words = c("bar", "column", "cross", "square"))
    cat(sprintf("result %%d %%d %%.3f\\n", length(history$metrics$loss), nrow(frame),
                mean(top3$word1 == test$word)))
  ', files$dbdir, files$test_csv))
  result <- utils::read.table(text = grep("^result ", output, value = TRUE),
                              col.names = c("tag", "epochs", "fit_doodles_rows", "test_accuracy"))
  expect_equal(result$epochs, 4)
  expect_equal(result$fit_doodles_rows, 1)
  expect_gt(result$test_accuracy, 0.8)
})

test_that("uint8 batches meeting a Keras 2 model that does not rescale are refused on every road", {
  skip_if_no_legacy_keras()
  files <- shapes_files(train_seed = 51, test_seed = 52)
  output <- run_with_r_keras(sprintf('
    suppressPackageStartupMessages({library(keras); library(doodles)})
    use_keras_env()
    con <- DBI::dbConnect(doodles_duckdb(), dbdir = "%s")
    test <- utils::read.csv("%s", colClasses = c(drawing = "character"))
    lite <- DBI::dbConnect(RSQLite::SQLite(), ":memory:")
    DBI::dbWriteTable(lite, "doodles", DBI::dbGetQuery(con, "SELECT id, drawing, label_int FROM doodles"))
    unscaled <- keras_model_sequential() %%>%% layer_flatten(input_shape = c(32, 32, 1)) %%>%%
      layer_dense(4, activation = "softmax")
    unscaled %%>%% compile(loss = "categorical_crossentropy", optimizer = "adam")
    rescaled <- keras_model_sequential() %%>%% layer_rescaling(1 / 255, input_shape = c(32L, 32L, 1L)) %%>%%
      layer_flatten() %%>%% layer_dense(4, activation = "softmax")
    rescaled %%>%% compile(loss = "categorical_crossentropy", optimizer = "adam")
    producer <- train_generator(con, 1:640, batch_size = 32, scale = 0.125, seed = 2, format = "uint8")
    closure <- train_generator(lite, 1:640, batch_size = 32, scale = 0.125, seed = 2, format = "uint8")
    tg <- test_generator(test, batch_size = 50, scale = 0.125, format = "uint8")
    outcome <- function(road, expr) {
      got <- tryCatch({ force(expr); "ran" }, error = function(e) class(e)[1])
      cat("result", road, got, "\\n")
    }
    outcome("fit_generator_producer", suppressWarnings(
      fit_generator(unscaled, producer, steps_per_epoch = 2, epochs = 1, verbose = 0)))
    outcome("fit_generator_closure", suppressWarnings(
      fit_generator(unscaled, closure, steps_per_epoch = 2, epochs = 1, verbose = 0)))
    outcome("fit_producer", fit(unscaled, producer, epochs = 1, verbose = 0))
    outcome("predict_producer", predict(unscaled, tg, verbose = 0))
    outcome("fit_doodles", fit_doodles(unscaled, producer, epochs = 1, verbose = 0))
    outcome("predict_top3", predict_top3(unscaled, tg, words = letters[1:4]))
    outcome("format_unscaled", stopifnot(keras_input_format(unscaled) == "float32"))
    # A first Rescaling by 1/255 takes bytes: accepted on every road.
    outcome("format_rescaled", stopifnot(keras_input_format(rescaled) == "uint8"))
    outcome("fit_generator_rescaled", suppressWarnings(
      fit_generator(rescaled, closure, steps_per_epoch = 2, epochs = 1, verbose = 0)))
    outcome("fit_rescaled", fit(rescaled, producer, epochs = 1, verbose = 0))
    outcome("predict_top3_rescaled", predict_top3(rescaled, tg, words = letters[1:4]))
    # A Keras 3 model and a Keras 2 dataset do not mix.
    keras3_model <- get_model("mlp", input_shape = c(32, 32), num_classes = 4, units = 4,
                              input_dtype = "uint8", keras_version = "3")
    outcome("keras3_model", fit_doodles(keras3_model, producer, epochs = 1, verbose = 0))
  ', files$dbdir, files$test_csv))
  results <- utils::read.table(text = grep("^result ", output, value = TRUE),
                               col.names = c("tag", "road", "outcome"))
  expected <- c(fit_generator_producer = "doodles_error_model",
                fit_generator_closure = "doodles_error_model",
                fit_producer = "doodles_error_model", predict_producer = "doodles_error_model",
                fit_doodles = "doodles_error_model", predict_top3 = "doodles_error_model",
                format_unscaled = "ran", format_rescaled = "ran", fit_generator_rescaled = "ran",
                fit_rescaled = "ran", predict_top3_rescaled = "ran",
                keras3_model = "doodles_error_model")
  expect_equal(stats::setNames(results$outcome, results$road), expected)
})
