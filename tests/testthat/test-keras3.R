# The real R keras3 package (Keras 3) on doodles generators in the Keras forms: keras3::fit() and
# predict() take the numpy batches unchanged. keras3 needs a newer reticulate than Debian's: it
# runs in a child R process with the R Keras library (helper-r-keras.R).

test_that("keras3::fit() and predict() learn from doodles generators in the Keras forms", {
  skip_if_no_keras3()
  # The shapes task in an SQLite file the child opens: generators over any DBI connection.
  db <- withr::local_tempfile(fileext = ".sqlite")
  con <- DBI::dbConnect(RSQLite::SQLite(), db)
  DBI::dbWriteTable(con, "doodles", shape_drawings(640, seed = 21))
  DBI::dbWriteTable(con, "test", shape_drawings(200, seed = 22))
  DBI::dbDisconnect(con)
  output <- run_with_r_keras('
    suppressPackageStartupMessages({library(doodles); use_keras_env(); library(keras3)})
    con <- DBI::dbConnect(RSQLite::SQLite(), "%s")
    test <- DBI::dbReadTable(con, "test")
    cat("keras3", as.character(packageVersion("keras3")), "\n")
    for (color in c(FALSE, TRUE)) for (format in c("float32", "uint8")) {
      keras3::set_random_seed(5)
      it <- train_generator(con, 1:640, batch_size = 32, scale = 0.125, seed = 2, color = color,
                            format = format, num_classes = 4)
      model <- get_model("lenet", input_shape = c(32, 32), color = color, num_classes = 4,
                         input_dtype = format, metrics = list("accuracy"))
      history <- fit(model, it, steps_per_epoch = attr(it, "steps_per_epoch"), epochs = 5,
                     verbose = 0)
      tg <- test_generator(test, batch_size = 64, scale = 0.125, color = color, format = format)
      p <- predict(model, tg, steps = attr(tg, "steps"), verbose = 0)
      cat(sprintf("result %%s %%s %%d %%d %%.3f %%.3f\n", if (color) "colour" else "gray", format,
                  nrow(p), length(history$metrics$loss), utils::tail(history$metrics$accuracy, 1),
                  mean(max.col(p) - 1 == test$label_int)))
    }
  ', db)
  results <- utils::read.table(text = grep("^result ", output, value = TRUE),
                               col.names = c("tag", "image", "format", "rows", "epochs",
                                             "train_accuracy", "test_accuracy"))
  expect_equal(nrow(results), 4)
  expect_equal(results$rows, rep(200, 4))
  expect_equal(results$epochs, rep(5, 4))
  # Chance is 1/4.
  expect_true(all(results$train_accuracy > 0.8), info = paste(output, collapse = "\n"))
  expect_true(all(results$test_accuracy > 0.8), info = paste(output, collapse = "\n"))
})

test_that("keras3::fit() and predict() take the producer's datasets as they are, and know their length", {
  skip_if_no_keras3()
  files <- shapes_files(train_seed = 21, test_seed = 22)
  output <- run_with_r_keras('
    suppressPackageStartupMessages({library(doodles); use_keras_env(); library(keras3)})
    con <- DBI::dbConnect(doodles_duckdb(), dbdir = "%s")
    test <- utils::read.csv("%s", colClasses = c(drawing = "character"))
    for (color in c(FALSE, TRUE)) for (format in c("float32", "uint8")) {
      keras3::set_random_seed(5)
      it <- train_generator(con, 1:640, batch_size = 32, scale = 0.125, seed = 2, color = color,
                            format = format)
      model <- get_model("lenet", input_shape = c(32, 32), color = color, num_classes = 4,
                         input_dtype = format, metrics = list("accuracy"))
      # No steps_per_epoch: each epoch ends after the dataset length, 20 batches.
      history <- fit(model, it, epochs = 8, verbose = 0)
      tg <- test_generator(test, batch_size = 64, scale = 0.125, color = color, format = format)
      p <- predict(model, tg, verbose = 0)
      # predict_top3() through the producer ranks as through R arrays (float32 models).
      same <- if (format == "float32") {
        identical(predict_top3(model, tg, words = con),
                  predict_top3(model, test_generator(test, batch_size = 64, scale = 0.125,
                                                     color = color), words = con))
      } else NA
      cat(sprintf("result %%s %%s %%d %%d %%.3f %%.3f %%s\n", if (color) "colour" else "gray",
                  format, nrow(p), length(history$metrics$loss),
                  utils::tail(history$metrics$accuracy, 1),
                  mean(max.col(p) - 1 == test$label_int), same))
    }
  ', files$dbdir, files$test_csv)
  results <- utils::read.table(text = grep("^result ", output, value = TRUE),
                               col.names = c("tag", "image", "format", "rows", "epochs",
                                             "train_accuracy", "test_accuracy", "same_top3"))
  expect_equal(nrow(results), 4)
  expect_equal(results$rows, rep(200, 4))
  expect_equal(results$epochs, rep(8, 4))
  expect_true(all(results$train_accuracy > 0.8), info = paste(output, collapse = "\n"))
  expect_true(all(results$test_accuracy > 0.8), info = paste(output, collapse = "\n"))
  expect_equal(results$same_top3[results$format == "float32"], c(TRUE, TRUE))
})

test_that("Ctrl-C during keras3::fit() on the producer stops training and leaves R usable", {
  skip_if_no_keras3()
  files <- shapes_files(train_seed = 41, test_seed = 42)
  script <- withr::local_tempfile(fileext = ".R")
  writeLines(sprintf('
    suppressPackageStartupMessages({library(doodles); use_keras_env(); library(keras3)})
    con <- DBI::dbConnect(doodles_duckdb(), dbdir = "%s")
    it <- train_generator(con, 1:640, batch_size = 32, scale = 0.125, seed = 2, format = "uint8")
    model <- get_model("lenet", input_shape = c(32, 32), num_classes = 4, input_dtype = "uint8")
    said <- callback_lambda(on_epoch_end = function(epoch, logs) {
      cat("epoch", epoch, "\\n")
      flush(stdout())
    })
    result <- tryCatch(fit(model, it, epochs = 10000, verbose = 0, callbacks = list(said)),
                       interrupt = function(e) "interrupt",
                       error = function(e) paste("error", conditionMessage(e)))
    cat("stopped:", gsub("\\\\s+", " ", substr(paste(result, collapse = " "), 1, 80)), "\\n")
    batch <- it()
    cat("usable:", paste(dim(reticulate::py_to_r(batch[[1]])), collapse = "x"), "\\n")
  ', files$dbdir), script)
  p <- processx::process$new(file.path(R.home("bin"), "Rscript"), script, stdout = "|",
                             stderr = "|", env = c("current", R_LIBS = r_keras_libs()))
  on.exit(if (p$is_alive()) p$kill(), add = TRUE)
  output <- errors <- ""
  deadline <- Sys.time() + 120
  while (p$is_alive() && Sys.time() < deadline && !grepl("epoch 1", output)) {
    p$poll_io(500)
    output <- paste0(output, p$read_output())
    errors <- paste0(errors, p$read_error())
  }
  expect_match(output, "epoch 1", info = errors)
  p$interrupt()
  p$wait(60000)
  expect_false(p$is_alive())
  output <- paste0(output, p$read_all_output())
  expect_match(output, "stopped: (interrupt|error .*KeyboardInterrupt)")
  expect_match(output, "usable: 32x32x32x1")
  # Training stopped within moments, not after its 10,000 epochs.
  epochs <- regmatches(output, gregexpr("epoch [0-9]+", output))[[1]]
  expect_lt(length(epochs), 200)
})
