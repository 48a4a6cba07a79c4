#!/usr/bin/env Rscript
# Writes a Kaggle submission from a trained model, after the article's predict.R:
# Rscript predict.R models/mobilenet_v2_128_1ch_final.keras -t test_simplified.csv -z
# Installed with the package (system.file("bin", "predict.R", package = "doodles")); a checkout's
# bin/predict.R runs this same file.
suppressPackageStartupMessages(library(doodles))

doc <- "Write a Kaggle submission: the three likeliest words for each drawing of a test CSV.

Usage:
  predict.R --help
  predict.R [options] <model>...

Arguments:
  <model>                      A model saved by train_nn.R (.keras); its input gives the image size and channels.
                               Several models: an ensemble, each drawing at its own size, probabilities averaged.

Options:
  -h --help                    Show this message.
  -t --test=<csv>              Kaggle's test CSV (key_id,countrycode,drawing) [default: test_simplified.csv].
  -d --db-dir=<path>           The training database folder, for the words (default: environment variable DBDIR).
  -o --output=<csv>            The submission file [default: submission.csv].
  -z --zip                     Also write the submission zipped, as <output>.zip.
  -a --answers=<csv>           The test set's answers (key_id,word): print MAP@3.
  -b --batch-size=<size>       Batch size [default: 256].
  -w --weights=<weights>       The models' weights in the ensemble's average, comma-separated (default: equal).
  --tta=<kind>                 Test-time augmentation: none, or hflip (each drawing's prediction averaged
                               with its mirror image's) [default: none].
  --balance                    Balance the predicted classes (the test set has about as many drawings of each).
  --imagenet-preproc           Scale pixels to [-1, 1] for a float32 model trained with ImageNet weights
                               (models from train_nn.R take uint8 and rescale themselves).
"

main <- function(opts) {
  model_files <- opts[["<model>"]]
  test_file <- cli_option(opts, "test")
  output <- cli_option(opts, "output")
  answers_file <- cli_option(opts, "answers", optional = TRUE)
  batch_size <- cli_option(opts, "batch-size", "count", lower = 1)
  zipped <- cli_option(opts, "zip", "flag")
  imagenet_preproc <- cli_option(opts, "imagenet-preproc", "flag")
  tta <- cli_option(opts, "tta", choices = c("none", "hflip"))
  balance <- cli_option(opts, "balance", "flag")
  weights <- doodles:::parse_ensemble_weights(cli_option(opts, "weights", optional = TRUE),
                                              length(model_files))
  db_dir <- doodles:::predict_check_files(c(model_files, test_file, answers_file),
                                          cli_option(opts, "db-dir", optional = TRUE))

  # Read-only: several predictions (and other readers) can share the database.
  con <- DBI::dbConnect(doodles_duckdb(), dbdir = db_file_in(db_dir), read_only = TRUE)
  on.exit(DBI::dbDisconnect(con), add = TRUE)

  models <- lapply(model_files, keras_module()$saving$load_model)
  inputs <- lapply(models, model_input)
  # The test CSV into a store of its own in memory, checked as load_test() checks (file, line).
  test <- DBI::dbConnect(doodles_duckdb())
  on.exit(DBI::dbDisconnect(test), add = TRUE)
  load_test(test, test_file, progress = FALSE)
  n_test <- DBI::dbGetQuery(test, "SELECT count(*) AS n FROM test")$n
  sizes <- vapply(inputs, function(input) sprintf("%dx%dx%d", input$height, input$width, input$channels), "")
  cli::cli_alert_info(paste(
    "Predicting {n_test} drawing{?s} with {length(models)} model{?s} at {sizes}",
    "{if (tta == 'hflip') 'and mirrored' else ''}{if (balance) ', balanced' else ''}"
  ))
  started <- Sys.time()
  data <- doodles:::predict_data(test, inputs, imagenet_preproc, batch_size)
  top3 <- predict_top3(if (length(models) == 1L) models[[1]] else models, data, words = con,
                       weights = weights, tta = tta, balance = balance, batch_size = batch_size)
  elapsed <- as.numeric(difftime(Sys.time(), started, units = "secs"))
  files <- output
  write_submission(top3, output, zip = FALSE)
  if (zipped) {
    files <- c(files, write_submission(top3, paste0(output, ".zip"), zip = TRUE))
  }
  cli::cli_alert_success("Predicted in {round(elapsed, 1)} s; submission: {.file {files}}")
  if (!is.null(answers_file)) {
    cat(sprintf("MAP@3: %.4f\n", doodles:::answers_map3(top3, answers_file)))
  }
  invisible(files)
}

quit(save = "no", status = run_cli(doc, main))
