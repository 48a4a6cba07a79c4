# The steps of inst/bin/predict.R: its checks, the models' weights in an ensemble, the data for the
# models and the score on the answers. The script parses its options and calls these in order;
# each stops with the one-line message the script prints (run_cli() adds "predict.R: error: ").

#' Parse predict.R's `-w/--weights`
#'
#' @param text `-w/--weights`: comma-separated numbers, one per model (`NULL` when not given).
#' @param n_models The number of models.
#' @return The weights (non-negative, not all 0), or `NULL` (equal weights) without `text`.
#' @noRd
parse_ensemble_weights <- function(text, n_models) {
  if (is.null(text)) {
    return(NULL)
  }
  weights <- suppressWarnings(as.numeric(strsplit(text, ",", fixed = TRUE)[[1]]))
  if (length(weights) != n_models || anyNA(weights) || any(weights < 0) || sum(weights) <= 0) {
    cli_stop(sprintf("-w/--weights must be %d non-negative numbers, not all 0, comma-separated",
                     n_models))
  }
  weights
}

#' Check predict.R's files and database folder
#'
#' @param files The models, the test CSV and the answers (if any): each must exist.
#' @param db_dir `-d/--db-dir` (`NULL` when not given: the environment variable `DBDIR`).
#' @return The database folder.
#' @noRd
predict_check_files <- function(files, db_dir = NULL) {
  if (is.null(db_dir)) db_dir <- Sys.getenv("DBDIR")
  for (file in files) {
    if (!file.exists(file)) cli_stop(sprintf("the file '%s' does not exist", file))
  }
  if (!nzchar(db_dir) || !dir.exists(db_dir)) {
    cli_stop(sprintf(
      "the database folder '%s' does not exist: give the training database with -d/--db-dir or DBDIR",
      db_dir
    ))
  }
  db_dir
}

#' The test data in the form the models take
#'
#' uint8 models (train_nn.R's) rescale their input themselves; a float32 model trained with
#' ImageNet weights takes [-1, 1], which `imagenet_preproc` asks for (one model: an ensemble
#' renders for each model's own input, and `imagenet_preproc` is then not used, with a message).
#'
#' @param test The test drawings: a connection whose `test` table holds them (predict.R loads the
#'   CSV with [load_test()] into a store in memory), or a data frame.
#' @param inputs Each model's [model_input()].
#' @param imagenet_preproc `--imagenet-preproc`.
#' @param batch_size `-b/--batch-size`.
#' @return `test` itself, or a [test_generator()] of it rendering for the one model in [-1, 1].
#' @noRd
predict_data <- function(test, inputs, imagenet_preproc, batch_size) {
  if (imagenet_preproc && (length(inputs) > 1L || inputs[[1]]$format == "uint8")) {
    cli::cli_alert_info("The models rescale their input themselves: --imagenet-preproc is not used.")
    imagenet_preproc <- FALSE
  }
  if (!imagenet_preproc) {
    return(test)
  }
  test_generator(test, batch_size = batch_size, scale = inputs[[1]]$scale,
                 color = inputs[[1]]$color, imagenet_preproc = TRUE, format = "float32")
}

#' MAP@3 of a submission on the test set's answers
#'
#' @param top3 The predictions, as [predict_top3()] gives them.
#' @param answers_file `-a/--answers`: a CSV of `key_id` and `word`.
#' @return The MAP@3; an error when the answers lack a test row.
#' @noRd
answers_map3 <- function(top3, answers_file) {
  answers <- utils::read.csv(answers_file, colClasses = c(key_id = "character"))
  truth <- answers$word[match(top3$key_id, answers$key_id)]
  if (anyNA(truth)) {
    cli_stop(sprintf("'%s' has no answer for %d of the test rows", answers_file, sum(is.na(truth))))
  }
  map_at_k(truth, top3, k = 3)
}
