# The choice of devices: GPUs, data-parallel strategies and the workers of a multi-worker training.

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
