#!/usr/bin/env Rscript
# Trains a convolutional network on the doodles of a doodles database, after the article's
# train_nn.R: Rscript train_nn.R -m resnet50 -c -d /path/to/db
# Installed with the package (system.file("bin", "train_nn.R", package = "doodles")); a checkout's
# bin/train_nn.R runs this same file.
# A training process draws batches of one size for hours: keeping freed memory for reuse makes a
# batch of 1024 at scale 0.5 about 3x faster (see ?draw_doodles, Memory), at the cost of the process
# keeping its peak heap. Set DOODLES_KEEP_FREED_MEMORY=0 to turn it off.
if (!nzchar(Sys.getenv("DOODLES_KEEP_FREED_MEMORY"))) Sys.setenv(DOODLES_KEEP_FREED_MEMORY = "1")
suppressPackageStartupMessages(library(doodles))

doc <- "Train a neural network on the Quick, Draw! doodles of a doodles database.

Usage:
  train_nn.R --help
  train_nn.R --list-models
  train_nn.R [options]

Options:
  -h --help                    Show this message.
  -l --list-models             List available models.
  -m --model=<model>           Neural network model name [default: mobilenet_v2].
  -b --batch-size=<size>       Batch size, split across the GPUs and workers [default: 32].
  -s --scale-factor=<ratio>    Scale factor: images of 256 x ratio pixels [default: 0.5].
  -c --color                   Use color lines (3 channels) instead of grayscale.
  -d --db-dir=<path>           Path to database directory (default: environment variable DBDIR).
  -r --validate-ratio=<ratio>  Share of the rows used for training; the rest validates [default: 0.995].
  -n --n-gpu=<number>          Number of GPUs (of each worker); 0 trains on the CPU [default: 1].
  -e --epochs=<n>              Most epochs to train; early stopping may end sooner [default: 100].
  --steps-per-epoch=<n>        Batches per epoch (default: each training row once).
  --validation-steps=<n>       Validation batches per epoch (default: each validation row once).
  --learning-rate=<rate>       Adam's learning rate [default: 0.002].
  --lr-schedule=<kind>         plateau (halved after 4 epochs without progress) or cosine (down to 0 at the last
                               epoch) [default: plateau].
  --warmup-epochs=<n>          Epochs over which the learning rate first rises linearly from 0 [default: 0].
  --accumulate=<n>             Batches whose gradients are averaged before each update: the step of a batch n
                               times larger [default: 1].
  --mixed-precision            Compute in 16 bits (float16 on GPUs, bfloat16 on CPUs), the softmax in float32.
  --augment=<kind>             none, or hflip: half of the training drawings mirrored, per seed and epoch [default: none].
  --monitor=<log>              What checkpoints, early stopping and the learning-rate plateau follow:
                               val_map_3 (MAP@3, the competition's metric), val_loss, val_accuracy or
                               val_top_3_accuracy; the final model has the best epoch's weights [default: val_map_3].
  -w --weights=<weights>       Initial weights, none or imagenet [default: none].
  --seed=<n>                   Seed of the split, the shuffling and the initial weights [default: 42].
  --models-dir=<path>          Folder for checkpoints and the final model [default: models].
  --logs-dir=<path>            Folder for the CSV log and the training curve [default: logs].
  --data=<zip>                 Competition zip (train_simplified.zip) loaded first if the database is empty.
  --resume=<checkpoint>        Continue from a checkpoint of this script (.keras), after its epoch.
  --workers=<hosts>            Train as one of several workers: every worker's host:port, comma-separated,
                               the same on each (default: TF_CONFIG, if set). Only worker 0 writes files.
  --worker-index=<i>           This worker's place in --workers, from 0.
  --worker-timeout=<seconds>   Longest wait for the other workers, at start and at each step [default: 600].
"

main <- function(opts) {
  if (cli_option(opts, "list-models", "flag")) {
    cat(list_models(), sep = "\n")
    return(invisible())
  }
  model_name <- doodles:::train_check_model(cli_option(opts, "model"))
  batch_size <- cli_option(opts, "batch-size", "count", lower = 1)
  # Its range is the rasterizer's (?draw_doodles), checked by the first doodle_batch() below.
  scale <- cli_option(opts, "scale-factor", "number")
  color <- cli_option(opts, "color", "flag")
  train_ratio <- cli_option(opts, "validate-ratio", "number", lower = 0, upper = 1)
  n_gpu <- cli_option(opts, "n-gpu", "count", lower = 0)
  epochs <- cli_option(opts, "epochs", "count", lower = 1)
  steps_per_epoch <- cli_option(opts, "steps-per-epoch", "count", lower = 1, optional = TRUE)
  validation_steps <- cli_option(opts, "validation-steps", "count", lower = 1, optional = TRUE)
  learning_rate <- cli_option(opts, "learning-rate", "number", lower = 0)
  lr_schedule <- cli_option(opts, "lr-schedule", choices = c("plateau", "cosine"))
  warmup_epochs <- cli_option(opts, "warmup-epochs", "count", lower = 0)
  accumulate <- cli_option(opts, "accumulate", "count", lower = 1)
  mixed_precision <- cli_option(opts, "mixed-precision", "flag")
  augment <- cli_option(opts, "augment", choices = c("none", "hflip"))
  monitor <- cli_option(opts, "monitor", choices = c("val_map_3", "val_loss", "val_accuracy",
                                                     "val_top_3_accuracy"))
  weights <- cli_option(opts, "weights", choices = c("none", "imagenet"))
  seed <- cli_option(opts, "seed", "count")
  models_dir <- cli_option(opts, "models-dir")
  logs_dir <- cli_option(opts, "logs-dir")
  data_zip <- cli_option(opts, "data", optional = TRUE)
  resume <- cli_option(opts, "resume", optional = TRUE)
  workers <- cli_option(opts, "workers", optional = TRUE)
  worker_index <- cli_option(opts, "worker-index", "count", optional = TRUE)
  worker_timeout <- cli_option(opts, "worker-timeout", "number", lower = 1)
  multi_worker <- doodles:::train_check_options(workers, worker_index, data_zip, resume)
  db <- doodles:::train_open_database(cli_option(opts, "db-dir", optional = TRUE), data_zip, multi_worker)
  con <- db$con
  on.exit(DBI::dbDisconnect(con), add = TRUE)
  doodles:::train_fill_database(con, db$db_dir, data_zip, train_ratio, batch_size)
  num_classes <- DBI::dbGetQuery(con, "SELECT count(*) AS n FROM labels")$n

  # The article's split: a random share of the rows trains, the rest validates.
  split <- doodles:::train_split(con, train_ratio, seed)
  train_ids <- split$train
  val_ids <- split$validate
  if (is.null(steps_per_epoch)) steps_per_epoch <- length(train_ids) %/% batch_size
  if (is.null(validation_steps)) validation_steps <- length(val_ids) %/% batch_size
  imagenet_preproc <- weights == "imagenet"
  first <- doodle_batch(con, train_ids[1], scale = scale, color = color)
  input_shape <- dim(first$x)[-1]
  initial_epoch <- doodles:::resume_epoch(resume, model_name, input_shape[1], input_shape[3], epochs)

  # Refused before the strategy waits (up to --worker-timeout) for the other workers.
  if (multi_worker) doodles:::check_worker_batch_size(batch_size, workers)
  # With several workers, the strategy joins them: before anything else uses TensorFlow.
  devices <- training_strategy(n_gpu,
    workers = workers, worker_index = worker_index, worker_timeout = worker_timeout
  )
  n_workers <- devices$n_workers
  if (n_workers > 1L) {
    cli::cli_alert_info(paste(
      "Worker {devices$worker} of {n_workers}",
      if (devices$chief) "(writes the checkpoints, log and curve)" else "(writes no files)"
    ))
    # Refused on every worker before any training step: another database, or other options.
    check_workers_agree(devices,
      database = database_fingerprint(con),
      `-m/--model` = model_name, `-b/--batch-size` = batch_size, `-s/--scale-factor` = scale,
      `-c/--color` = color, `-r/--validate-ratio` = train_ratio, `-e/--epochs` = epochs,
      `--steps-per-epoch` = steps_per_epoch, `--validation-steps` = validation_steps,
      `--learning-rate` = learning_rate, `--lr-schedule` = lr_schedule,
      `--warmup-epochs` = warmup_epochs, `--accumulate` = accumulate,
      `--mixed-precision` = mixed_precision, `--augment` = augment, `--monitor` = monitor,
      `-w/--weights` = weights, `--seed` = seed,
      `--resume` = if (is.null(resume)) "none" else {
        sprintf("%s (file hash %s)", basename(resume), substr(rlang::hash_file(resume), 1, 16))
      }
    )
  }
  keras <- keras_module()
  keras$utils$set_random_seed(seed)
  # The fastest form: uint8 NHWC batches, rescaled (to [-1, 1] for ImageNet weights) by the
  # model's first layer on the device. Each worker draws its share of every global batch.
  worker_batch <- batch_size %/% n_workers
  train_it <- train_generator(con, train_ids,
    num_classes = num_classes, batch_size = worker_batch,
    scale = scale, color = color, seed = seed, format = "uint8", augment = augment,
    workers = n_workers, worker = devices$worker, initial_epoch = initial_epoch
  )
  val_it <- train_generator(con, val_ids,
    num_classes = num_classes, batch_size = worker_batch,
    scale = scale, color = color, seed = seed + 1L, format = "uint8",
    workers = n_workers, worker = devices$worker, initial_epoch = initial_epoch
  )
  # Optimizer updates: one per `accumulate` batches.
  updates_per_epoch <- max(1L, steps_per_epoch %/% accumulate)
  warmup_steps <- warmup_epochs * updates_per_epoch
  model <- with_strategy(devices$strategy, if (is.null(resume)) {
    get_model(
      model_name,
      input_shape = input_shape, weights = if (imagenet_preproc) "imagenet" else NULL,
      num_classes = num_classes, color = color, compile = TRUE,
      optimizer = if (lr_schedule == "cosine") {
        lr_schedule_cosine(learning_rate, decay_steps = max(1L, epochs * updates_per_epoch - warmup_steps),
                           warmup_steps = warmup_steps)
      } else {
        learning_rate
      },
      input_dtype = "uint8", imagenet_preproc = imagenet_preproc,
      precision = if (mixed_precision) "mixed" else "float32", accumulate = accumulate
    )
  } else {
    # Weights and optimizer state (the learning rate as the schedule left it) from the file.
    keras$saving$load_model(resume)
  })
  if (!is.null(resume)) {
    doodles:::check_resumed_model(model, resume, input_shape, num_classes)
    cli::cli_alert_info("Resuming from {.file {resume}} after epoch {initial_epoch}")
  }
  # Early stopping and the learning-rate plateau continue from the epochs the checkpoint records.
  callbacks <- training_callbacks(model_name, input_shape[1], input_shape[3],
    models_dir = models_dir, logs_dir = logs_dir, monitor = monitor,
    reduce_lr = lr_schedule == "plateau",
    warmup_steps = if (lr_schedule == "plateau") warmup_steps else 0L,
    write = devices$chief, resume = resume
  )
  cli::cli_alert_info(paste(
    "Training {model_name} on {format(length(train_ids), big.mark = ',')} doodles",
    "({num_classes} classes, {input_shape[1]}x{input_shape[2]}x{input_shape[3]}),",
    "validating on {format(length(val_ids), big.mark = ',')}; batch {batch_size},",
    "{steps_per_epoch} step{?s} per epoch, up to {epochs} epoch{?s}"
  ))
  started <- Sys.time()
  history <- tryCatch(
    fit_doodles(model, train_it,
      steps_per_epoch = steps_per_epoch, epochs = epochs,
      validation_data = val_it, validation_steps = validation_steps,
      callbacks = callbacks$callbacks, initial_epoch = initial_epoch
    ),
    doodles_error_workers = function(e) {
      stop(paste(conditionMessage(e), doodles:::resume_advice(callbacks, models_dir, devices$chief)),
           call. = FALSE)
    }
  )
  elapsed <- as.numeric(difftime(Sys.time(), started, units = "secs"))
  if (!devices$chief) {
    cli::cli_alert_success(paste(
      "Worker {devices$worker}: trained {nrow(history)} epoch{?s} in {round(elapsed, 1)} s;",
      "worker 0 wrote the model, log and curve"
    ))
    return(invisible(NULL))
  }

  # The final model is the best epoch's (by --monitor), whose checkpoint holds its weights.
  best <- doodles:::save_best_model(model, callbacks)$best
  cli::cli_alert_success(paste(
    "Trained {nrow(history)} epoch{?s} in {round(elapsed, 1)} s",
    "({sprintf('%.2f', sum(history$data_seconds))} s of it waiting for batches)"
  ))
  cli::cli_bullets(c(
    "*" = paste("final model: {.file {callbacks$final_file}}, the weights of epoch {best$epoch}",
                "(best {monitor} {sprintf('%.4f', best$value)}), kept from {.file {best$file}}"),
    "*" = "log: {.file {callbacks$log_file}}",
    "*" = "training curve: {.file {callbacks$curve_file}}"
  ))
  invisible(callbacks$final_file)
}

quit(save = "no", status = run_cli(doc, main))
