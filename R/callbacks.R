# The article's training callbacks (log, early stopping, learning-rate plateau, checkpoints with
# their history for resuming), the checkpoints' names and the training curve.

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
#'   epochs `resume` recorded, 0 without it), `checkpoint_epoch` (a function of file names giving
#'   the epoch of each checkpoint of these callbacks, `NA` for other files), `monitor`, `mode` (`"min"` or `"max"`) and
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
  names <- checkpoint_names(model_name, size, channels)
  stem <- names$stem
  log_file <- file.path(logs_dir, sprintf("%s_%s.csv", stem, format(Sys.time(), "%Y%m%d%H%M%S")))
  checkpoint_pattern <- file.path(models_dir, names$keras_pattern)
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
  checkpoint_file <- function(epoch, val_loss) file.path(models_dir, names$file(epoch, val_loss))
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
    final_file = file.path(models_dir, names$final),
    stem = stem,
    checkpoint_epoch = names$epoch_of,
    curve_file = sub("\\.csv$", ".png", log_file),
    resumed_epochs = length(past)
  )
}

#' The names of a training's checkpoints
#'
#' The one place that knows how [training_callbacks()] names its files: every name starts with
#' the stem `<model>_<size>_<channels>ch`; a checkpoint is `<stem>_<epoch>_<val_loss>.keras`
#' (the epoch from 1, at least two digits, the validation loss to 4 decimals) and the final model
#' `<stem>_final.keras`.
#'
#' @param model_name The model's name.
#' @param size The side of the input images in pixels.
#' @param channels 1 or 3.
#' @return A list: `stem`; `keras_pattern`, the checkpoints' name with Keras' `{epoch}` and
#'   `{val_loss}` fields, for `ModelCheckpoint`; `file`, a function of the epoch and the
#'   validation loss giving that checkpoint's name (as Keras formats the pattern); `final`, the
#'   final model's name; `regex`, a regular expression matching this stem's checkpoint names;
#'   and `epoch_of`, a function of file names (or paths) giving each one's epoch, `NA` for a file
#'   that is no checkpoint of this stem.
#' @noRd
checkpoint_names <- function(model_name, size, channels) {
  stem <- sprintf("%s_%d_%dch", model_name, as.integer(size), as.integer(channels))
  regex <- sprintf("^%s_([0-9]+)_[^_]*\\.keras$", gsub("([][{}()+*^$|\\\\?.])", "\\\\\\1", stem))
  list(
    stem = stem,
    keras_pattern = paste0(stem, "_{epoch:02d}_{val_loss:.4f}.keras"),
    # Keras formats the pattern with Python's format(); C's printf rounds the same way.
    file = function(epoch, val_loss) sprintf("%s_%02d_%.4f.keras", stem, as.integer(epoch), val_loss),
    final = paste0(stem, "_final.keras"),
    regex = regex,
    epoch_of = function(files) {
      files <- basename(files)
      ifelse(grepl(regex, files), suppressWarnings(as.integer(sub(regex, "\\1", files))), NA_integer_)
    }
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
