# The pieces the scripts in inst/bin (train_nn.R, predict.R) are built from: command-line parsing
# with clean errors, the article's training callbacks, the training curve and the choice of
# devices. They are exported so that a user's own script can reuse them.

#' Run a command-line script's main function
#'
#' Parses the arguments against a [docopt](http://docopt.org/) usage text, prints the text for
#' `-h`/`--help`, and runs `main` with the parsed options. Any error (a bad option, a missing
#' folder, a failure in Keras) is printed as one clean message on stderr instead of R's traceback.
#' Scripts end with `quit(status = run_cli(doc, main))`, so that the exit status is 0 on success
#' and 1 on any error.
#'
#' @param doc The usage text (docopt's format). Its first usage line names the script.
#' @param main A function of one argument, the parsed options (a named list as [docopt::docopt()]
#'   returns it, names like `"--batch-size"`).
#' @param args The command-line arguments.
#' @return The exit status, invisibly: 0 on success (or after `--help`), 1 on error.
#' @seealso [cli_option()] to convert and check one option.
#' @export
run_cli <- function(doc, main, args = commandArgs(trailingOnly = TRUE)) {
  assert_string(doc)
  assert_function(main)
  assert_character(args, any.missing = FALSE)
  script <- cli_script_name(doc)
  status <- tryCatch(
    {
      if (any(args %in% c("-h", "--help"))) {
        cat(doc, sep = "\n")
      } else {
        main(cli_parse(doc, args, script))
      }
      0L
    },
    error = function(e) {
      cat(sprintf("%s: error: %s\n", script, cli_error_text(e)), file = stderr())
      1L
    }
  )
  invisible(status)
}

#' Convert and check one command-line option
#'
#' docopt gives every option as a string; this turns one into the type the script needs and stops
#' with a message naming the option and the value when it does not fit.
#'
#' @param opts The parsed options (see [run_cli()]).
#' @param name The option's long name without dashes, e.g. `"batch-size"`.
#' @param type One of `"string"`, `"count"` (a whole number), `"number"` or `"flag"`.
#' @param lower,upper Bounds (inclusive) for `"count"` and `"number"`.
#' @param choices For `"string"`: the allowed values.
#' @param optional If `TRUE`, an option that was not given (and has no default) gives `NULL`.
#' @return The value: a string, an integer, a double or a logical flag.
#' @export
cli_option <- function(opts, name, type = c("string", "count", "number", "flag"),
                       lower = -Inf, upper = Inf, choices = NULL, optional = FALSE) {
  assert_list(opts, names = "named")
  assert_string(name)
  type <- arg_choice(type, c("string", "count", "number", "flag"))
  key <- paste0("--", name)
  if (!key %in% names(opts)) {
    abort_doodles(sprintf("the script has no option %s", key), kind = "usage")
  }
  value <- opts[[key]]
  if (type == "flag") {
    return(isTRUE(value))
  }
  if (is.null(value) || (is.character(value) && !nzchar(value))) {
    if (optional) {
      return(NULL)
    }
    abort_doodles(sprintf("option %s is required", key), kind = "usage")
  }
  bad <- function(what) {
    abort_doodles(sprintf("option %s must be %s, not '%s'", key, what, value), kind = "usage")
  }
  range_text <- function() {
    if (is.finite(lower) && is.finite(upper)) {
      sprintf(" between %s and %s", format(lower), format(upper))
    } else if (is.finite(lower)) {
      sprintf(" >= %s", format(lower))
    } else if (is.finite(upper)) {
      sprintf(" <= %s", format(upper))
    } else {
      ""
    }
  }
  switch(type,
    string = {
      if (!is.null(choices) && !value %in% choices) {
        bad(paste0("one of ", paste0("'", choices, "'", collapse = ", ")))
      }
      value
    },
    count = {
      number <- suppressWarnings(as.numeric(value))
      if (is.na(number) || number != round(number) || number < lower || number > upper) {
        bad(paste0("a whole number", range_text()))
      }
      as.integer(number)
    },
    number = {
      number <- suppressWarnings(as.numeric(value))
      if (is.na(number) || number < lower || number > upper) {
        bad(paste0("a number", range_text()))
      }
      number
    }
  )
}

cli_script_name <- function(doc) {
  name <- regmatches(doc, regexpr("(?<=Usage:)\\s*\\S+", doc, perl = TRUE))
  if (length(name) == 0L) "script" else trimws(name)
}

# docopt's own error is the whole usage text; this names the argument it could not match.
cli_parse <- function(doc, args, script) {
  if (!requireNamespace("docopt", quietly = TRUE)) {
    abort_doodles("the R package docopt is needed for the scripts: apt-get install r-cran-docopt",
      kind = "dependency"
    )
  }
  tryCatch(
    docopt::docopt(doc, args = args, help = FALSE, strict = TRUE),
    error = function(e) {
      known <- unique(regmatches(doc, gregexpr("(?<![\\w-])--?[A-Za-z][\\w-]*", doc, perl = TRUE))[[1]])
      given <- sub("=.*$", "", args[startsWith(args, "-")])
      given <- ifelse(startsWith(given, "--"), given, substr(given, 1L, 2L))
      unknown <- setdiff(given, known)
      what <- if (length(unknown) > 0L) {
        sprintf("unknown option %s", paste0("'", unknown, "'", collapse = ", "))
      } else {
        sprintf("bad arguments '%s' (an option without its value, or a stray word?)",
          paste(args, collapse = " "))
      }
      abort_doodles(sprintf("%s. Run '%s --help' to see the options.", what, script),
        kind = "usage", call = NULL
      )
    }
  )
}

cli_error_text <- function(e) {
  message <- conditionMessage(e)
  # Python errors come through reticulate with the whole traceback; the last line says what failed.
  if (inherits(e, "python.builtin.BaseException") || grepl("^Python|Traceback", message)) {
    lines <- strsplit(trimws(message), "\n", fixed = TRUE)[[1]]
    message <- lines[length(lines)]
  }
  message
}

#' The database file in a database folder
#'
#' The scripts take a database folder (`-d/--db-dir`, or the environment variable `DBDIR`), as the
#' article's MonetDBLite did and as the Docker image mounts it; the DuckDB database is one file in it.
#'
#' @param db_dir The database folder.
#' @return The path of the database file, for `DBI::dbConnect(doodles_duckdb(), dbdir = ...)`.
#' @export
#' @examples
#' db_file_in(tempdir())
db_file_in <- function(db_dir) {
  assert_string(db_dir, min.chars = 1L)
  file.path(db_dir, "doodles.duckdb")
}

#' The training callbacks of the article
#'
#' A CSV log of every epoch, early stopping when the `monitor`ed metric has not improved for
#' `patience_stop` epochs, the learning rate halved when it has not improved for `patience_lr`
#' epochs, and a checkpoint after every epoch named
#' `<model>_<size>_<channels>ch_<epoch>_<val_loss>.keras` (Keras 3's format), of which
#' `best_checkpoint()` of the result names the best by `monitor`.
#'
#' By default they follow the competition's own metric, MAP@3 on the validation rows
#' (`val_map_3`, see [metric_map3()]), not the validation loss: the loss can rise while the
#' ranking of the first three classes keeps improving (on the shipped sample, LeNet at 32 px,
#' from the 6th epoch on).
#'
#' @param model_name The model's name, used in the file names.
#' @param size The side of the input images in pixels.
#' @param channels 1 (grayscale) or 3 (colour).
#' @param models_dir,logs_dir Folders for the checkpoints and for the CSV log; created if needed.
#' @param patience_stop,patience_lr Epochs without improvement before stopping and before halving
#'   the learning rate.
#' @param monitor The epoch log the callbacks follow: `"val_map_3"` (the model must be compiled
#'   with [metric_map3()], as [get_model()] does), `"val_loss"`, `"val_accuracy"`,
#'   `"val_top_3_accuracy"`, or another log the model's metrics give. Losses are minimised, other
#'   metrics maximised.
#' @param min_delta The smallest change of `monitor` that counts as an improvement.
#' @param reduce_lr Whether to halve the learning rate on a plateau; `FALSE` when a schedule
#'   decides it (see [lr_schedule_cosine()]).
#' @param warmup_steps Optimizer steps over which the learning rate first rises linearly to the
#'   optimizer's rate (with a constant rate and the plateau; a cosine schedule has its own
#'   warm-up); 0 for none.
#' @param verbose Whether the callbacks say when they stop or change the learning rate.
#' @param write Whether to write files. `FALSE` (a worker other than worker 0 of a multi-worker
#'   training, see [training_strategy()]) keeps early stopping and the learning-rate schedule,
#'   which every worker must run alike, but writes no checkpoint and no log and creates no
#'   folder; the paths are still returned.
#' @param resume A checkpoint written by these callbacks, when training resumes from it (with
#'   `fit_doodles(initial_epoch =)` its epoch). Each checkpoint holds the logs of every epoch up
#'   to its own; early stopping and the learning-rate plateau replay them when training begins,
#'   so that they count epochs without improvement as an uninterrupted training would, on every
#'   worker alike.
#' @return A list: `callbacks` (a list of Python Keras callbacks for [fit_doodles()]),
#'   `log_file` (the CSV log's path), `checkpoint_pattern` (the checkpoints' path, with Keras'
#'   `{epoch}` and `{val_loss}` fields), `checkpoint_file` (a function of the epoch, from 1, and the
#'   validation loss giving that epoch's checkpoint), `final_file` (where to save the final model:
#'   `<model>_<size>_<channels>ch_final.keras`), `curve_file` (the PNG next to the log), `stem`
#'   (`<model>_<size>_<channels>ch`, the start of every file name), `resumed_epochs` (the
#'   epochs `resume` recorded, 0 without it), `monitor`, `mode` (`"min"` or `"max"`) and
#'   `best_checkpoint` (a function of a training log, e.g. [plot_training_log()]'s value, giving
#'   a list: `epoch`, `value` of `monitor`, and `file`, the checkpoint of the best epoch).
#' @export
training_callbacks <- function(model_name, size, channels, models_dir = "models",
                               logs_dir = "logs", patience_stop = 8L, patience_lr = 4L,
                               monitor = "val_map_3", min_delta = 1e-4, reduce_lr = TRUE,
                               warmup_steps = 0L, verbose = TRUE, write = TRUE, resume = NULL) {
  assert_string(model_name, min.chars = 1L)
  assert_count(size, positive = TRUE)
  assert_choice(as.integer(channels), c(1L, 3L))
  assert_string(models_dir)
  assert_string(logs_dir)
  assert_count(patience_stop, positive = TRUE)
  assert_count(patience_lr, positive = TRUE)
  assert_string(monitor, pattern = "^val_")
  mode <- monitor_mode(monitor)
  assert_number(min_delta, lower = 0)
  assert_flag(reduce_lr)
  assert_count(warmup_steps)
  assert_flag(verbose)
  assert_flag(write)
  past <- if (is.null(resume)) list() else checkpoint_history(resume)
  if (write) {
    dir.create(models_dir, showWarnings = FALSE, recursive = TRUE)
    dir.create(logs_dir, showWarnings = FALSE, recursive = TRUE)
  }
  stem <- sprintf("%s_%d_%dch", model_name, as.integer(size), as.integer(channels))
  log_file <- file.path(logs_dir, sprintf("%s_%s.csv", stem, format(Sys.time(), "%Y%m%d%H%M%S")))
  checkpoint_pattern <- file.path(models_dir, paste0(stem, "_{epoch:02d}_{val_loss:.4f}.keras"))
  callbacks <- keras_module()$callbacks
  verbose <- as.integer(verbose)
  schedule <- list(
    if (reduce_lr) callbacks$ReduceLROnPlateau(
      monitor = monitor, factor = 0.5, patience = as.integer(patience_lr),
      min_delta = min_delta, mode = mode, verbose = verbose
    ),
    callbacks$EarlyStopping(
      monitor = monitor, min_delta = min_delta, patience = as.integer(patience_stop),
      mode = mode, verbose = verbose
    )
  )
  schedule <- Filter(Negate(is.null), schedule)
  if (length(past) > 0) {
    schedule <- c(schedule, list(bridge_py()$resumed_schedule(schedule, past)))
  }
  writers <- if (write) {
    list(
      callbacks$ModelCheckpoint(
        filepath = checkpoint_pattern, monitor = monitor, save_best_only = FALSE,
        save_weights_only = FALSE, mode = mode
      ),
      callbacks$CSVLogger(filename = log_file),
      bridge_py()$checkpoint_history(checkpoint_pattern, past)
    )
  }
  # Keras formats the pattern with Python's format(); C's printf rounds the same way.
  checkpoint_file <- function(epoch, val_loss) {
    file.path(models_dir, sprintf("%s_%02d_%.4f.keras", stem, as.integer(epoch), val_loss))
  }
  list(
    # The learning-rate callback runs before the logger so the log has the rate of each epoch;
    # the history goes into each checkpoint after ModelCheckpoint wrote it.
    callbacks = c(if (warmup_steps > 0L) list(bridge_py()$linear_warmup(as.integer(warmup_steps))),
                  schedule, writers),
    log_file = log_file,
    checkpoint_pattern = checkpoint_pattern,
    checkpoint_file = checkpoint_file,
    monitor = monitor,
    mode = mode,
    best_checkpoint = function(log) best_checkpoint(log, monitor, mode, checkpoint_file),
    final_file = file.path(models_dir, paste0(stem, "_final.keras")),
    stem = stem,
    curve_file = sub("\\.csv$", ".png", log_file),
    resumed_epochs = length(past)
  )
}

# Losses are minimised, every other metric maximised (as Keras' "auto" mode decides, which takes
# a MAP@3 for a loss).
monitor_mode <- function(monitor) {
  if (grepl("loss|error", monitor)) "min" else "max"
}

# The best epoch of a training log (epochs numbered from 1) by `monitor`: the first of equals,
# as Keras' callbacks count improvements.
best_checkpoint <- function(log, monitor, mode, checkpoint_file, call = rlang::caller_env()) {
  if (!monitor %in% names(log)) {
    abort_doodles(sprintf("The training log has no `%s` column (it has %s): compile the model with the metric.",
                          monitor, paste(names(log), collapse = ", ")), kind = "argument", call = call)
  }
  values <- if (mode == "min") log[[monitor]] else -log[[monitor]]
  row <- which.min(values)
  list(epoch = log$epoch[row], value = log[[monitor]][row],
       file = checkpoint_file(log$epoch[row], log$val_loss[row]))
}

# The epoch logs a checkpoint of training_callbacks() holds (list() for a checkpoint without them,
# with a warning: its training's counters start afresh).
checkpoint_history <- function(checkpoint, call = rlang::caller_env()) {
  assert_file_exists(checkpoint, access = "r", .var.name = "resume", call = call)
  entry <- bridge_py()$HISTORY_ENTRY
  listed <- tryCatch(utils::unzip(checkpoint, list = TRUE)$Name, error = function(e) {
    abort_doodles(sprintf("%s is not a Keras checkpoint (a .keras zip): %s", checkpoint, conditionMessage(e)),
                  kind = "argument", call = call)
  })
  if (!entry %in% listed) {
    warning(sprintf(paste("%s holds no training history (it was not written by training_callbacks()):",
                          "early stopping and the learning-rate plateau count from 0 again"), checkpoint),
            call. = FALSE)
    return(list())
  }
  dir <- tempfile("doodles-history")
  on.exit(unlink(dir, recursive = TRUE))
  utils::unzip(checkpoint, files = entry, exdir = dir)
  jsonlite::read_json(file.path(dir, entry))
}

#' Plot a training log
#'
#' Draws the loss and the accuracy metrics of each epoch, for training and validation, from the CSV
#' log that [training_callbacks()] writes, with base graphics.
#'
#' @param log_file The CSV log (columns `epoch`, `loss`, `val_loss` and metrics).
#' @param png_file If given, the plot is written to this PNG file; otherwise it is drawn on the
#'   current device.
#' @param width,height The PNG's size in pixels.
#' @return The log as a data frame, invisibly (epochs numbered from 1).
#' @export
plot_training_log <- function(log_file, png_file = NULL, width = 1000L, height = 450L) {
  assert_file_exists(log_file)
  assert_string(png_file, null.ok = TRUE)
  log <- utils::read.csv(log_file, check.names = FALSE)
  if (nrow(log) == 0L || !all(c("epoch", "loss") %in% names(log))) {
    abort_doodles(sprintf("'%s' is not a training log with epochs (no rows, or no epoch/loss columns)",
      log_file), kind = "input")
  }
  log$epoch <- log$epoch + 1L
  if (!is.null(png_file)) {
    grDevices::png(png_file, width = width, height = height)
    on.exit(grDevices::dev.off(), add = TRUE)
  }
  metrics <- setdiff(
    grep("accuracy", names(log), value = TRUE),
    grep("^val_", names(log), value = TRUE)
  )
  old <- graphics::par(
    mfrow = c(1L, 1L + (length(metrics) > 0L)), mar = c(4.5, 4.5, 4.5, 1), xpd = NA
  )
  # Restored before the PNG device closes, or par() would open a new default device.
  on.exit(graphics::par(old), add = TRUE, after = FALSE)
  colours <- c("#1b6ca8", "#d1495b")
  plot_pair <- function(metric, title) {
    columns <- intersect(c(metric, paste0("val_", metric)), names(log))
    graphics::matplot(log$epoch, as.matrix(log[columns]),
      type = "b", pch = 19, lty = 1, col = colours[seq_along(columns)],
      xlab = "epoch", ylab = metric, xaxt = "n"
    )
    graphics::axis(1, at = unique(round(pretty(log$epoch))))
    graphics::title(title, line = 2.8)
    # Above the plot, where no curve can hide it.
    graphics::legend("top",
      legend = c("training", "validation")[seq_along(columns)], inset = c(0, -0.13),
      col = colours[seq_along(columns)], pch = 19, lty = 1, bty = "n", horiz = TRUE
    )
  }
  plot_pair("loss", "Loss")
  if (length(metrics) > 0L) {
    preferred <- grep("top", metrics, value = TRUE)
    metric <- if (length(preferred) > 0L) preferred[1] else metrics[1]
    plot_pair(metric, if (grepl("top_?3|top_k", metric)) "Top-3 accuracy" else "Accuracy")
  }
  invisible(log)
}

#' Choose the devices to train on
#'
#' With `n_gpu` of 2 or more, training is data-parallel: each batch is split across the GPUs
#' (TensorFlow's `MirroredStrategy`, or Keras 3's `DataParallel` distribution on JAX). With fewer
#' GPUs than asked, a message says so and what there is is used; with none, training runs on the
#' CPU. `n_gpu = 0` hides the GPUs and trains on the CPU.
#'
#' With `workers`, this process is one worker of several (on one host or several) training one
#' model: TensorFlow's `MultiWorkerMirroredStrategy`, which all-reduces the gradients of every
#' step over all workers (and, with `n_gpu` of 2 or more, over each worker's GPUs).
#'
#' Call it before building the model, and build the model inside [with_strategy()]. With workers,
#' call it before anything else uses TensorFlow in the process, and start every worker with the
#' same `workers` (and its own `worker_index`) within `worker_timeout` seconds of each other.
#'
#' @section Several workers:
#' Each worker is a process that runs the same training script with its own `worker_index`.
#' Worker 0 is the chief: it hosts TensorFlow's coordination service and is the one that should
#' write checkpoints and logs (`chief` in the result). Each worker feeds its own shard of every
#' global batch (see `workers` in [train_generator()]); the workers must run the same number of
#' steps, and [check_workers_agree()] checks that they train on the same data with the same
#' settings. When a worker dies, the others' next step fails within about 10 s (TensorFlow's
#' coordination service notices the missing heartbeats; at once when worker 0, which hosts it,
#' dies) and [fit_doodles()] stops with an error naming the worker; a worker that stalls without
#' dying makes them fail after `worker_timeout` seconds. Training is not resumed by TensorFlow: restart all workers, from the last checkpoint.
#' Only the TensorFlow backend is supported.
#'
#' @param n_gpu The number of GPUs asked for (per worker, with `workers`).
#' @param workers Every worker's address, `"host:port"` (a character vector, or one string of
#'   comma-separated addresses), in the same order on every worker; `NULL` to train in this
#'   process alone, unless the environment variable `TF_CONFIG` describes a cluster, which is then
#'   used (as TensorFlow defines it: `cluster` and `task`).
#' @param worker_index This worker's position in `workers`, from 0.
#' @param worker_timeout Seconds a worker waits for the others: for all of them to start, and at
#'   each step; past it, it stops with an error.
#' @return A list: `strategy` (a TensorFlow distribution strategy, or `NULL` when there is nothing
#'   to distribute or the backend distributes by itself), `n_gpu` (the GPUs used, per worker),
#'   `backend`, `worker` (this worker's index, 0 alone), `n_workers` (1 alone) and `chief`
#'   (whether this process is worker 0, the one that writes files).
#' @export
#' @examples
#' \dontrun{
#' # On host a.example.org:
#' devices <- training_strategy(workers = c("a.example.org:2222", "b.example.org:2222"),
#'                              worker_index = 0)
#' # On host b.example.org, the same with worker_index = 1.
#' }
training_strategy <- function(n_gpu = 1L, workers = NULL, worker_index = NULL,
                              worker_timeout = 600) {
  assert_count(n_gpu)
  assert_character(workers, min.len = 1, any.missing = FALSE, null.ok = TRUE)
  assert_count(worker_index, null.ok = TRUE)
  assert_number(worker_timeout, lower = 1)
  n_gpu <- as.integer(n_gpu)
  if (!is.null(workers)) {
    workers <- check_worker_addresses(workers)
    if (is.null(worker_index)) {
      abort_doodles("`worker_index` is needed with `workers`: this worker's place in the list, from 0.",
                    kind = "argument")
    }
    if (worker_index >= length(workers)) {
      abort_doodles(sprintf("`worker_index` is %d, but there are %d workers (indices 0 to %d).",
                            worker_index, length(workers), length(workers) - 1L), kind = "argument")
    }
  } else if (!is.null(worker_index)) {
    abort_doodles("`worker_index` needs `workers`, every worker's host:port.", kind = "argument")
  }
  multi_worker <- !is.null(workers) || nzchar(Sys.getenv("TF_CONFIG"))
  backend <- keras_module()$backend$backend()
  if (multi_worker && backend != "tensorflow") {
    abort_doodles(sprintf(paste(
      "Training with several workers needs the TensorFlow backend (MultiWorkerMirroredStrategy);",
      "the Keras backend is %s: set KERAS_BACKEND=tensorflow."), backend), kind = "argument")
  }
  gpus <- backend_gpus(backend)
  used <- min(n_gpu, length(gpus))
  if (n_gpu > length(gpus)) {
    cli::cli_alert_warning(paste0(
      "{n_gpu} GPU{?s} asked for, {length(gpus)} found: training on ",
      if (used == 0L) "the CPU" else "{used} GPU{?s}", "."
    ))
  }
  if (backend == "tensorflow" && used < length(gpus) && (n_gpu == 0L || multi_worker)) {
    # A worker's strategy uses every visible GPU: show it only those asked for.
    reticulate::import("tensorflow")$config$set_visible_devices(gpus[seq_len(used)], "GPU")
  }
  if (multi_worker) {
    # A worker ends at once on SIGTERM and Ctrl-C, also while TensorFlow waits for its peers.
    workers_default_signals(worker_timeout + 60)
    strategy <- bridge_py()$start_workers(
      workers = workers, index = if (!is.null(worker_index)) as.integer(worker_index),
      timeout_seconds = as.integer(ceiling(worker_timeout))
    )
    info <- bridge_py()$worker_info(strategy)
    return(list(strategy = strategy, n_gpu = used, backend = backend, worker = info[[1]],
                n_workers = info[[2]], chief = info[[1]] == 0L))
  }
  strategy <- NULL
  if (used >= 2L) {
    if (backend == "tensorflow") {
      tf <- reticulate::import("tensorflow")
      strategy <- tf$distribute$MirroredStrategy(devices = sprintf("/gpu:%d", seq_len(used) - 1L))
    } else if (backend == "jax") {
      distribution <- keras_module()$distribution
      distribution$set_distribution(distribution$DataParallel(devices = gpus[seq_len(used)]))
    } else {
      cli::cli_alert_warning("Backend {backend}: several GPUs are not supported, training on one.")
      used <- 1L
    }
  }
  list(strategy = strategy, n_gpu = used, backend = backend, worker = 0L, n_workers = 1L,
       chief = TRUE)
}

check_worker_addresses <- function(workers, call = rlang::caller_env()) {
  workers <- trimws(unlist(strsplit(workers, ",", fixed = TRUE)))
  workers <- workers[nzchar(workers)]
  bad <- workers[!grepl("^[^:[:space:]]+:[0-9]+$|^\\[[0-9A-Fa-f:.]+\\]:[0-9]+$", workers)]
  if (length(workers) == 0L || length(bad) > 0L) {
    abort_doodles(sprintf("Worker addresses must be host:port, not '%s'.",
                          paste(if (length(bad)) bad else "", collapse = "', '")),
                  kind = "argument", call = call)
  }
  if (anyDuplicated(workers)) {
    abort_doodles(sprintf("Worker address '%s' is given twice.", workers[anyDuplicated(workers)]),
                  kind = "argument", call = call)
  }
  workers
}

#' Check that all workers train on the same data with the same settings
#'
#' Each worker of a multi-worker training (see [training_strategy()]) opens its own copy of the
#' database and is started with its own options. Before training, every worker calls this with
#' what must be the same everywhere, typically `database = database_fingerprint(con)` and the
#' training options; the values are exchanged through TensorFlow's coordination service, and on
#' any difference every worker stops with the same error, naming what differs and on which
#' workers, before any training step.
#'
#' @param devices The result of [training_strategy()]; alone (one worker) there is nothing to
#'   check.
#' @param ... Named values, each turned into one string (`format()`ed and pasted), e.g.
#'   `database = database_fingerprint(con)`, `"--batch-size" = 32`.
#' @return `TRUE` invisibly, when all workers agree.
#' @export
#' @examples
#' # Alone, there is nothing to compare with:
#' check_workers_agree(list(n_workers = 1L), database = "3,000 rows", batch_size = 32)
#' \dontrun{
#' devices <- training_strategy(workers = c("a.example.org:2222", "b.example.org:2222"),
#'                              worker_index = 0)
#' check_workers_agree(devices, database = database_fingerprint(con), batch_size = 256)
#' }
check_workers_agree <- function(devices, ...) {
  assert_list(devices)
  facts <- list(...)
  assert_list(facts, names = "unique", min.len = 1)
  if (is.null(devices$n_workers) || devices$n_workers <= 1L) {
    return(invisible(TRUE))
  }
  texts <- vapply(facts, function(value) {
    value <- if (is.list(value) && !is.object(value)) {
      paste(names(value), vapply(value, function(v) paste(format(v), collapse = " "), ""), sep = " ",
            collapse = ", ")
    } else {
      paste(format(value), collapse = " ")
    }
    gsub("[\r\n\t]+", " ", value)
  }, "")
  mine <- paste(names(texts), texts, sep = "\t", collapse = "\n")
  everyone <- unlist(bridge_py()$exchange_among_workers(devices$strategy, "agree", mine))
  parsed <- lapply(strsplit(everyone, "\n", fixed = TRUE), function(lines) {
    parts <- regmatches(lines, regexpr("\t", lines, fixed = TRUE), invert = TRUE)
    values <- vapply(parts, `[`, "", 2L)
    names(values) <- vapply(parts, `[`, "", 1L)
    values
  })
  differences <- character()
  for (name in names(texts)) {
    values <- vapply(parsed, function(p) if (name %in% names(p)) p[[name]] else "(not given)", "")
    if (length(unique(values)) > 1L) {
      differ <- which(values != values[1]) - 1L
      differences <- c(differences, sprintf(
        "%s: worker 0 has %s; %s", name, values[1],
        paste(sprintf("worker %d has %s", differ, values[differ + 1L]), collapse = "; ")
      ))
    }
  }
  if (length(differences) > 0L) {
    abort_doodles(paste0(
      "The workers differ, so none starts training. ", paste(differences, collapse = ". "),
      ". Every worker needs a copy of the same database and the same options."
    ), kind = "workers")
  }
  invisible(TRUE)
}

# The GPUs the Keras backend sees (TensorFlow's devices, JAX's device names "gpu:0", ... as
# DataParallel takes them, or torch's indices).
backend_gpus <- function(backend = keras_module()$backend$backend()) {
  switch(backend,
    tensorflow = reticulate::import("tensorflow")$config$list_physical_devices("GPU"),
    # An error when JAX has no GPU.
    jax = tryCatch(keras_module()$distribution$list_devices("gpu"), error = function(e) list()),
    torch = {
      torch <- reticulate::import("torch")
      as.list(seq_len(torch$cuda$device_count()))
    },
    list()
  )
}

#' Evaluate code inside a distribution strategy's scope
#'
#' Models (and their optimizers) must be created inside the strategy's scope to be replicated on
#' its devices; without a strategy the code simply runs.
#'
#' @param strategy A TensorFlow distribution strategy or `NULL` (see [training_strategy()]).
#' @param code The code to run.
#' @return The value of `code`.
#' @export
with_strategy <- function(strategy, code) {
  if (is.null(strategy)) {
    return(code)
  }
  with(strategy$scope(), code)
}
