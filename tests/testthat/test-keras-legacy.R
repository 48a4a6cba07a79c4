# The legacy R keras package (Keras 2, PyPI's tf_keras) on doodles generators: fit_generator() on
# R arrays and float32 batches, and predict() over a test generator without the warning Keras 2
# gives when its iterator, one batch ahead, meets the NULL that ends a generator. Like keras3, it
# runs in a child R process with the R Keras library (helper-r-keras.R).

skip_if_no_legacy_keras <- function() {
  skip_if_no_keras()
  if (!dir.exists(file.path(r_keras_library(), "keras"))) {
    skip(paste("the legacy R keras package is not installed in", r_keras_library()))
  }
  venv_python <- file.path(keras_env_path(), "bin", "python")
  has_tf_keras <- processx::run(venv_python, c("-c", "import tf_keras"), error_on_status = FALSE)
  if (has_tf_keras$status != 0) skip("the Keras environment has no tf_keras (tools/setup.sh installs it)")
}

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
  expect_true(any(grepl("^class doodles_batches.Batches", output)), info = paste(output, collapse = "\n"))
  result <- utils::read.table(text = grep("^result ", output, value = TRUE),
                              col.names = c("tag", "epochs", "rows", "test_accuracy"))
  expect_equal(result$epochs, 8)
  expect_equal(result$rows, 200)
  expect_gt(result$test_accuracy, 0.8)
})
