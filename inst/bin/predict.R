#!/usr/bin/env Rscript
# Writes a Kaggle submission from a trained model, after the article's predict.R:
# Rscript predict.R models/mobilenet_v2_128_1ch_final.keras -t test_simplified.csv -z
# Installed with the package (system.file("bin", "predict.R", package = "doodles")); a checkout's
# bin/predict.R runs this same file.
suppressPackageStartupMessages(library(doodles))

doc <- "Write a Kaggle submission: the three likeliest words for each drawing of a test CSV.

Usage:
  predict.R --help
  predict.R [options] <model>

Arguments:
  <model>                      A model saved by train_nn.R (.keras); its input gives the image size and channels.

Options:
  -h --help                    Show this message.
  -t --test=<csv>              Kaggle's test CSV (key_id,countrycode,drawing) [default: test_simplified.csv].
  -d --db-dir=<path>           The training database folder, for the words (default: environment variable DBDIR).
  -o --output=<csv>            The submission file [default: submission.csv].
  -z --zip                     Also write the submission zipped, as <output>.zip.
  -a --answers=<csv>           The test set's answers (key_id,word): print MAP@3.
  -b --batch-size=<size>       Batch size [default: 256].
  --imagenet-preproc           Scale pixels to [-1, 1] for a float32 model trained with ImageNet weights
                               (models from train_nn.R take uint8 and rescale themselves).
"

main <- function(opts) {
  model_file <- opts[["<model>"]]
  test_file <- cli_option(opts, "test")
  output <- cli_option(opts, "output")
  answers_file <- cli_option(opts, "answers", optional = TRUE)
  batch_size <- cli_option(opts, "batch-size", "count", lower = 1)
  zipped <- cli_option(opts, "zip", "flag")
  imagenet_preproc <- cli_option(opts, "imagenet-preproc", "flag")
  db_dir <- cli_option(opts, "db-dir", optional = TRUE)
  if (is.null(db_dir)) db_dir <- Sys.getenv("DBDIR")
  for (file in c(model_file, test_file, answers_file)) {
    if (!file.exists(file)) stop(sprintf("the file '%s' does not exist", file), call. = FALSE)
  }
  if (!nzchar(db_dir) || !dir.exists(db_dir)) {
    stop(sprintf(
      "the database folder '%s' does not exist: give the training database with -d/--db-dir or DBDIR",
      db_dir
    ), call. = FALSE)
  }

  # Read-only: several predictions (and other readers) can share the database.
  con <- DBI::dbConnect(doodles_duckdb(), dbdir = db_file_in(db_dir), read_only = TRUE)
  on.exit(DBI::dbDisconnect(con), add = TRUE)

  model <- keras_module()$saving$load_model(model_file)
  input_shape <- unlist(model$input_shape)
  scale <- input_shape[1] / 256
  color <- input_shape[3] == 3
  test <- utils::read.csv(test_file, colClasses = c(key_id = "character"))
  cli::cli_alert_info(
    "Predicting {nrow(test)} drawing{?s} at {input_shape[1]}x{input_shape[2]}x{input_shape[3]}"
  )
  started <- Sys.time()
  # The form the model takes: uint8 models (train_nn.R's) rescale their input themselves.
  format <- keras_input_format(model)
  if (format == "uint8" && imagenet_preproc) {
    cli::cli_alert_info("The model rescales its uint8 input itself: --imagenet-preproc is not needed.")
    imagenet_preproc <- FALSE
  }
  it <- test_generator(test,
    batch_size = batch_size, scale = scale, color = color,
    imagenet_preproc = imagenet_preproc, format = format
  )
  top3 <- predict_top3(model, it, words = con)
  elapsed <- as.numeric(difftime(Sys.time(), started, units = "secs"))
  files <- output
  write_submission(top3, output, zip = FALSE)
  if (zipped) {
    files <- c(files, write_submission(top3, paste0(output, ".zip"), zip = TRUE))
  }
  cli::cli_alert_success("Predicted in {round(elapsed, 1)} s; submission: {.file {files}}")
  if (!is.null(answers_file)) {
    answers <- utils::read.csv(answers_file, colClasses = c(key_id = "character"))
    truth <- answers$word[match(top3$key_id, answers$key_id)]
    if (anyNA(truth)) {
      stop(sprintf("'%s' has no answer for %d of the test rows", answers_file, sum(is.na(truth))),
        call. = FALSE)
    }
    cat(sprintf("MAP@3: %.4f\n", map_at_k(truth, top3, k = 3)))
  }
  invisible(files)
}

quit(save = "no", status = run_cli(doc, main))
