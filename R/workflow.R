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
  type <- match.arg(type)
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
#' A CSV log of every epoch, early stopping when the validation loss has not improved for
#' `patience_stop` epochs, the learning rate halved when it has not improved for `patience_lr`
#' epochs, and a checkpoint after every epoch named
#' `<model>_<size>_<channels>ch_<epoch>_<val_loss>.keras` (Keras 3's format).
#'
#' @param model_name The model's name, used in the file names.
#' @param size The side of the input images in pixels.
#' @param channels 1 (grayscale) or 3 (colour).
#' @param models_dir,logs_dir Folders for the checkpoints and for the CSV log; created if needed.
#' @param patience_stop,patience_lr Epochs without improvement before stopping and before halving
#'   the learning rate.
#' @param min_delta The smallest change in validation loss that counts as an improvement.
#' @param verbose Whether the callbacks say when they stop or change the learning rate.
#' @return A list: `callbacks` (a list of Python Keras callbacks for [fit_doodles()]),
#'   `log_file` (the CSV log's path), `checkpoint_pattern` (the checkpoints' path, with Keras'
#'   `{epoch}` and `{val_loss}` fields), `checkpoint_file` (a function of the epoch, from 1, and the
#'   validation loss giving that epoch's checkpoint), `final_file` (where to save the final model:
#'   `<model>_<size>_<channels>ch_final.keras`) and `curve_file` (the PNG next to the log).
#' @export
training_callbacks <- function(model_name, size, channels, models_dir = "models",
                               logs_dir = "logs", patience_stop = 8L, patience_lr = 4L,
                               min_delta = 1e-4, verbose = TRUE) {
  assert_string(model_name, min.chars = 1L)
  assert_count(size, positive = TRUE)
  assert_choice(as.integer(channels), c(1L, 3L))
  assert_string(models_dir)
  assert_string(logs_dir)
  assert_count(patience_stop, positive = TRUE)
  assert_count(patience_lr, positive = TRUE)
  assert_number(min_delta, lower = 0)
  assert_flag(verbose)
  dir.create(models_dir, showWarnings = FALSE, recursive = TRUE)
  dir.create(logs_dir, showWarnings = FALSE, recursive = TRUE)
  stem <- sprintf("%s_%d_%dch", model_name, as.integer(size), as.integer(channels))
  log_file <- file.path(logs_dir, sprintf("%s_%s.csv", stem, format(Sys.time(), "%Y%m%d%H%M%S")))
  checkpoint_pattern <- file.path(models_dir, paste0(stem, "_{epoch:02d}_{val_loss:.4f}.keras"))
  callbacks <- keras_module()$callbacks
  verbose <- as.integer(verbose)
  list(
    # The learning-rate callback runs before the logger so the log has the rate of each epoch.
    callbacks = list(
      callbacks$ReduceLROnPlateau(
        monitor = "val_loss", factor = 0.5, patience = as.integer(patience_lr),
        min_delta = min_delta, mode = "min", verbose = verbose
      ),
      callbacks$EarlyStopping(
        monitor = "val_loss", min_delta = min_delta, patience = as.integer(patience_stop),
        mode = "min", verbose = verbose
      ),
      callbacks$ModelCheckpoint(
        filepath = checkpoint_pattern, monitor = "val_loss", save_best_only = FALSE,
        save_weights_only = FALSE, mode = "min"
      ),
      callbacks$CSVLogger(filename = log_file)
    ),
    log_file = log_file,
    checkpoint_pattern = checkpoint_pattern,
    # Keras formats the pattern with Python's format(); C's printf rounds the same way.
    checkpoint_file = function(epoch, val_loss) {
      file.path(models_dir, sprintf("%s_%02d_%.4f.keras", stem, as.integer(epoch), val_loss))
    },
    final_file = file.path(models_dir, paste0(stem, "_final.keras")),
    curve_file = sub("\\.csv$", ".png", log_file)
  )
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
#' Call it before building the model, and build the model inside [with_strategy()].
#'
#' @param n_gpu The number of GPUs asked for.
#' @return A list: `strategy` (a TensorFlow distribution strategy, or `NULL` when there is nothing
#'   to distribute or the backend distributes by itself), `n_gpu` (the GPUs used), `backend`.
#' @export
training_strategy <- function(n_gpu = 1L) {
  assert_count(n_gpu)
  n_gpu <- as.integer(n_gpu)
  backend <- keras_module()$backend$backend()
  gpus <- switch(backend,
    tensorflow = reticulate::import("tensorflow")$config$list_physical_devices("GPU"),
    # Device names ("gpu:0", ...) as DataParallel takes them; an error when JAX has no GPU.
    jax = tryCatch(keras_module()$distribution$list_devices("gpu"), error = function(e) list()),
    torch = {
      torch <- reticulate::import("torch")
      as.list(seq_len(torch$cuda$device_count()))
    },
    list()
  )
  used <- min(n_gpu, length(gpus))
  if (n_gpu > length(gpus)) {
    cli::cli_alert_warning(paste0(
      "{n_gpu} GPU{?s} asked for, {length(gpus)} found: training on ",
      if (used == 0L) "the CPU" else "{used} GPU{?s}", "."
    ))
  }
  if (n_gpu == 0L && length(gpus) > 0L && backend == "tensorflow") {
    reticulate::import("tensorflow")$config$set_visible_devices(list(), "GPU")
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
  list(strategy = strategy, n_gpu = used, backend = backend)
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
