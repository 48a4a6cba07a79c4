# The steps of inst/bin/train_nn.R: its checks, the database's opening and loading, the split,
# resuming, and the final model. The script parses its options and calls these in order; each
# stops with the one-line message the script prints (run_cli() adds "train_nn.R: error: ").

#' Check train_nn.R's model option
#'
#' @param model_name `-m/--model`, one of [list_models()].
#' @return `model_name`, invisibly.
#' @noRd
train_check_model <- function(model_name) {
  if (!model_name %in% list_models()) {
    cli_stop(sprintf("unknown model '%s' (-m/--model): --list-models lists them", model_name))
  }
  invisible(model_name)
}

#' Check train_nn.R's options that depend on each other
#'
#' @param workers,worker_index `--workers` and `--worker-index` (`NULL` when not given).
#' @param data_zip `--data` (`NULL` when not given).
#' @param resume `--resume` (`NULL` when not given).
#' @return Whether this process is one worker of several (`--workers`, or the environment
#'   variable `TF_CONFIG`).
#' @noRd
train_check_options <- function(workers = NULL, worker_index = NULL, data_zip = NULL, resume = NULL) {
  if (!is.null(workers) && is.null(worker_index)) {
    cli_stop("--workers needs --worker-index: this worker's place in the list, from 0")
  }
  if (is.null(workers) && !is.null(worker_index)) {
    cli_stop("--worker-index needs --workers, every worker's host:port")
  }
  multi_worker <- !is.null(workers) || nzchar(Sys.getenv("TF_CONFIG"))
  if (multi_worker && !is.null(data_zip)) {
    cli_stop(paste(
      "--data cannot be used with several workers: load the database once (without --workers)",
      "and give every worker a copy of it"
    ))
  }
  if (!is.null(resume) && !file.exists(resume)) {
    cli_stop(sprintf("the checkpoint '%s' (--resume) does not exist", resume))
  }
  multi_worker
}

#' Open train_nn.R's database
#'
#' The database folder is `-d/--db-dir`, else the environment variable `DBDIR`. A missing folder
#' is created only when `--data` will fill it; workers (which never load) need a database there
#' and open it read-only, so that several processes may share one file.
#'
#' @param db_dir `-d/--db-dir` (`NULL` when not given).
#' @param data_zip `--data` (`NULL` when not given).
#' @param multi_worker Whether this process is one worker of several.
#' @return A list: `con` (the open connection; the caller disconnects it) and `db_dir`.
#' @noRd
train_open_database <- function(db_dir = NULL, data_zip = NULL, multi_worker = FALSE) {
  if (is.null(db_dir)) db_dir <- Sys.getenv("DBDIR")
  if (!nzchar(db_dir)) {
    cli_stop("no database folder: give it with -d/--db-dir or the environment variable DBDIR")
  }
  if (!is.null(data_zip) && !file.exists(data_zip)) {
    cli_stop(sprintf("the data file '%s' (--data) does not exist", data_zip))
  }
  if (!dir.exists(db_dir)) {
    if (is.null(data_zip)) {
      cli_stop(sprintf(
        "the database folder '%s' does not exist; create it by loading the data: --data train_simplified.zip",
        db_dir
      ))
    }
    dir.create(db_dir, recursive = TRUE)
  }
  if (multi_worker && !file.exists(db_file_in(db_dir))) {
    cli_stop(sprintf("the database folder '%s' holds no database (%s)", db_dir,
                     basename(db_file_in(db_dir))))
  }
  con <- DBI::dbConnect(doodles_duckdb(), dbdir = db_file_in(db_dir), read_only = multi_worker)
  list(con = con, db_dir = db_dir)
}

#' Load `--data` into an empty database, and check the split
#'
#' An empty database is loaded from `data_zip` (after checking the split on the rows of the data,
#' counted only as far as needed, so that a split that cannot work stops before minutes of
#' loading); a database that holds doodles is used as it is (`--data` is then not loaded, with a
#' message).
#'
#' @param con A doodles connection.
#' @param db_dir The database folder, for the messages.
#' @param data_zip `--data` (`NULL` when not given).
#' @param train_ratio,batch_size `-r/--validate-ratio` and `-b/--batch-size`.
#' @return The number of doodles in the database, invisibly.
#' @noRd
train_fill_database <- function(con, db_dir, data_zip, train_ratio, batch_size) {
  n_rows <- if (DBI::dbExistsTable(con, "doodles")) {
    DBI::dbGetQuery(con, "SELECT count(*) AS n FROM doodles")$n
  } else {
    0
  }
  if (n_rows == 0) {
    if (is.null(data_zip)) {
      cli_stop(sprintf("the database in '%s' holds no doodles: load them with --data train_simplified.zip", db_dir))
    }
    check_split(count_data_rows(data_zip, split_rows_needed(train_ratio, batch_size)), train_ratio, batch_size)
    cli::cli_alert_info("Loading {.file {data_zip}} into {.file {db_dir}}")
    # Loading the full data takes minutes: the progress is shown even without a terminal.
    load_doodles(con, data_zip, progress = TRUE)
    n_rows <- DBI::dbGetQuery(con, "SELECT count(*) AS n FROM doodles")$n
  } else {
    check_split(n_rows, train_ratio, batch_size)
    if (!is.null(data_zip)) {
      cli::cli_alert_info("The database already holds {format(n_rows, big.mark = ',')} doodles: --data not loaded")
    }
  }
  invisible(n_rows)
}

#' The article's split of the doodles
#'
#' @param con A doodles connection.
#' @param train_ratio The share of the rows that trains (`-r`); the rest validates.
#' @param seed The seed of the shuffle (`--seed`); sets R's random seed.
#' @return A list: `train` and `validate`, ids of the `doodles` table.
#' @noRd
train_split <- function(con, train_ratio, seed) {
  set.seed(seed)
  ids <- sample(DBI::dbGetQuery(con, "SELECT id FROM doodles")$id)
  n_train <- floor(length(ids) * train_ratio)
  list(train = ids[seq_len(n_train)], validate = ids[-seq_len(n_train)])
}

# The split of -r: floor(rows * ratio) train, the rest validate; each needs a batch at least.
split_fits <- function(rows, train_ratio, batch_size) {
  n_train <- floor(rows * train_ratio)
  min(n_train, rows - n_train) >= batch_size
}

#' Check that a split leaves a batch to train and one to validate
#'
#' @param rows The number of rows.
#' @param train_ratio The share of the rows that trains (`-r`): `floor(rows * train_ratio)` rows.
#' @param batch_size The batch size (`-b`).
#' @return `TRUE` invisibly; otherwise an error that gives the `-r` values that would do (to 3
#'   decimals), or says to pass a smaller `-b`.
#' @noRd
check_split <- function(rows, train_ratio, batch_size) {
  if (split_fits(rows, train_ratio, batch_size)) {
    return(invisible(TRUE))
  }
  # -r values that leave a batch on each side, to 3 decimals.
  highest <- floor((rows - batch_size) / rows * 1000) / 1000
  lowest <- ceiling(batch_size / rows * 1000) / 1000
  rows_text <- format(rows, big.mark = ",")
  n_train <- floor(rows * train_ratio)
  cli_stop(if (lowest > highest) {
    sprintf("the data has %s rows, too few for a batch of %d to train and one to validate: pass a smaller -b",
            rows_text, batch_size)
  } else if (n_train < batch_size) {
    sprintf("-r %s leaves %d of the %s rows to train, fewer than one batch of %d: pass -r %s or higher, or a smaller -b",
            format(train_ratio), n_train, rows_text, batch_size, lowest)
  } else {
    sprintf("-r %s leaves %d of the %s rows to validate, fewer than one batch of %d: pass -r %s or lower, or a smaller -b",
            format(train_ratio), rows - n_train, rows_text, batch_size, highest)
  })
}

#' The fewest rows a split needs
#'
#' @inheritParams check_split
#' @return The fewest rows for which [check_split()] passes (from the exact bound, stepped as the
#'   split rounds); `Inf` for a ratio of 0 or 1, which never leaves a batch on both sides.
#' @noRd
split_rows_needed <- function(train_ratio, batch_size) {
  if (train_ratio %in% c(0, 1)) return(Inf)
  rows <- max(1, ceiling(batch_size / train_ratio) - 1, floor((batch_size - 1) / (1 - train_ratio)) - 1)
  while (!split_fits(rows, train_ratio, batch_size)) rows <- rows + 1
  rows
}

#' Count the rows of `--data`, up to a number
#'
#' The rows of a zip of CSV files, a folder of CSV or ndjson files, or one such file, as
#' [load_doodles()] would read them, counted as lines (less each CSV's header) only up to
#' `at_most`: the full data's first file has enough.
#'
#' @param path The data.
#' @param at_most Where to stop counting.
#' @return The rows counted: all of them, or at least `at_most`.
#' @noRd
count_data_rows <- function(path, at_most) {
  files <- if (dir.exists(path)) list.files(path, "\\.(csv|ndjson)$", recursive = TRUE, full.names = TRUE) else path
  rows <- 0
  for (file in files) {
    zipped <- grepl("\\.zip$", file, ignore.case = TRUE)
    entries <- if (zipped) grep("\\.csv$", utils::unzip(file, list = TRUE)$Name, value = TRUE) else file
    for (entry in entries) {
      con <- if (zipped) unz(file, entry) else file(entry)
      lines <- length(readLines(con, n = min(at_most - rows + 1, .Machine$integer.max), warn = FALSE))
      close(con)
      rows <- rows + max(0, lines - grepl("\\.csv$", entry, ignore.case = TRUE))
      if (rows >= at_most) return(rows)
    }
  }
  rows
}

#' The epoch a training resumes after
#'
#' @param resume `--resume`: a checkpoint of [training_callbacks()] (`NULL` when not given).
#' @param model_name,size,channels The model and its input, as `-m`, `-s` and `-c` give them:
#'   the checkpoint must be of the same (see `checkpoint_names()`).
#' @param epochs `-e/--epochs`, which must leave an epoch to train.
#' @return The checkpoint's epoch, 0 without `resume`.
#' @noRd
resume_epoch <- function(resume, model_name, size, channels, epochs) {
  if (is.null(resume)) {
    return(0L)
  }
  names <- checkpoint_names(model_name, size, channels)
  epoch <- names$epoch_of(resume)
  if (is.na(epoch)) {
    cli_stop(sprintf(paste(
      "'%s' (--resume) is not a checkpoint of %s at this size and colour (%s_<epoch>_<val_loss>.keras):",
      "give the -m, -s and -c it was trained with"), resume, model_name, names$stem))
  }
  if (epoch >= epochs) {
    cli_stop(sprintf("the checkpoint '%s' is of epoch %d: -e/--epochs (%d) leaves nothing to train",
                     resume, epoch, epochs))
  }
  epoch
}

#' Check a resumed model against the data
#'
#' @param model The model loaded from `resume`.
#' @param resume The checkpoint's path, for the message.
#' @param input_shape The images' shape (height, width, channels).
#' @param num_classes The database's classes.
#' @return `TRUE` invisibly, when the model takes these images into these classes.
#' @noRd
check_resumed_model <- function(model, resume, input_shape, num_classes) {
  # (None, height, width, channels) and (None, classes); unlist() drops the None.
  shape <- unlist(model$input_shape)
  classes <- unlist(model$output_shape)
  if (!identical(as.integer(shape), as.integer(input_shape)) ||
      !identical(as.integer(classes[length(classes)]), as.integer(num_classes))) {
    cli_stop(sprintf("the checkpoint '%s' takes %s images into %d classes, not %s into %d",
                     resume, paste(shape, collapse = "x"), classes[length(classes)],
                     paste(input_shape, collapse = "x"), num_classes))
  }
  invisible(TRUE)
}

#' Check that the workers can share a batch
#'
#' Every worker draws its share of each global batch, so the batch size must be a multiple of the
#' number of workers; checked before the workers wait for each other.
#'
#' @param batch_size `-b/--batch-size`.
#' @param workers `--workers` (comma-separated addresses), or `NULL` to read the cluster of the
#'   environment variable `TF_CONFIG` (its chief and workers).
#' @return The number of workers, invisibly.
#' @noRd
check_worker_batch_size <- function(batch_size, workers = NULL) {
  cluster_size <- if (!is.null(workers)) {
    length(strsplit(workers, ",", fixed = TRUE)[[1]])
  } else {
    cluster <- jsonlite::fromJSON(Sys.getenv("TF_CONFIG"))$cluster
    length(unlist(cluster[intersect(names(cluster), c("chief", "worker"))]))
  }
  if (cluster_size > 0L && batch_size %% cluster_size != 0L) {
    cli_stop(sprintf("-b/--batch-size (%d) must be a multiple of the number of workers (%d)",
                     batch_size, cluster_size))
  }
  invisible(cluster_size)
}

#' Keep the best epoch's weights and save the final model
#'
#' Draws the training curve, finds the best epoch of the log by the callbacks' `monitor`, loads
#' its checkpoint's weights into `model` and saves it as the callbacks' `final_file`.
#'
#' @param model The trained model.
#' @param callbacks The result of [training_callbacks()] the model trained with.
#' @return A list: `log` (the training log, see [plot_training_log()]) and `best` (the best
#'   epoch: `epoch`, `value` and `file`, its checkpoint).
#' @noRd
save_best_model <- function(model, callbacks) {
  log <- plot_training_log(callbacks$log_file, callbacks$curve_file)
  best <- callbacks$best_checkpoint(log)
  model$load_weights(best$file)
  model$save(callbacks$final_file)
  list(log = log, best = best)
}

#' What to do after a worker failed
#'
#' Resume from the last checkpoint when there is one. A log that holds no epoch yet is removed, as
#' if the run had not started.
#'
#' @param callbacks The result of [training_callbacks()].
#' @param models_dir The checkpoints' folder.
#' @param chief Whether this process is worker 0, the one that writes files.
#' @return One sentence of advice.
#' @noRd
resume_advice <- function(callbacks, models_dir, chief) {
  if (!chief) {
    return("Restart all the workers, with --resume and the last checkpoint worker 0 wrote, if any.")
  }
  if (file.exists(callbacks$log_file) && length(readLines(callbacks$log_file)) <= 1L) {
    unlink(callbacks$log_file)
  }
  files <- list.files(models_dir)
  epochs <- callbacks$checkpoint_epoch(files)
  if (all(is.na(epochs))) {
    return("No checkpoint was written yet: restart all the workers (without --resume).")
  }
  sprintf("Restart all the workers with --resume %s to go on from its epoch.",
          file.path(models_dir, files[which.max(epochs)]))
}

# The scripts' errors: one line, no call (run_cli() prints the message after the script's name).
cli_stop <- function(message) {
  abort_doodles(message, kind = "usage", call = NULL)
}
