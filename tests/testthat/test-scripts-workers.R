# Several workers training one model (train_nn.R --workers, TensorFlow's
# MultiWorkerMirroredStrategy): two worker processes on 127.0.0.1, each with its own copy of a
# synthetic database, run as a user runs them. A profile (R_PROFILE_USER) records what each
# worker really did: the ids of every batch it read (doodle_batch() for train_nn.R's one-drawing
# probe; every batch the producers' Python objects hand out, by a wrapper of Batches._fetch
# installed when the first generator is made) and its weights after fit_doodles(), in files of
# the test's own folder, so that the workers' shared folders hold only what train_nn.R writes.

worker_env <- function(trace_dir, name) {
  c(
    "current", TZ = "UTC", R_LIBS = paste(.libPaths(), collapse = .Platform$path.sep),
    R_PROFILE_USER = worker_profile(), DOODLES_THREADS = "1",
    TF_NUM_INTRAOP_THREADS = "1", TF_NUM_INTEROP_THREADS = "1", TF_CPP_MIN_LOG_LEVEL = "2",
    DOODLES_TEST_IDS = file.path(trace_dir, paste0(name, "-ids.txt")),
    DOODLES_TEST_WEIGHTS = file.path(trace_dir, paste0(name, "-weights.rds"))
  )
}

worker_profile <- function() {
  path <- file.path(tempdir(), "doodles-worker-profile.R")
  if (!file.exists(path)) {
    writeLines(c(
      "setHook(packageEvent('doodles', 'onLoad'), function(...) {",
      "  ns <- asNamespace('doodles')",
      "  trace('doodle_batch', where = ns, print = FALSE, tracer = quote(",
      "    cat(paste(ids, collapse = ' '), '\\n', sep = '', append = TRUE,",
      "        file = Sys.getenv('DOODLES_TEST_IDS'))))",
      "  trace('keras_batches', where = ns, print = FALSE, exit = quote(reticulate::py_run_string(",
      "    paste('import doodles_py.batches as db, os',",
      "          'if not getattr(db, \"traced\", False):',",
      "          '    fetch = db.BatchesBase._fetch',",
      "          '    def traced(self, step, with_step=False):',",
      "          '        step, batch = fetch(self, step, True)',",
      "          '        with open(os.environ[\"DOODLES_TEST_IDS\"], \"a\") as log:',",
      "          '            log.write(\" \".join(str(i) for i in self.ids(step)) + \"\\\\n\")',",
      "          '        return (step, batch) if with_step else batch',",
      "          '    db.BatchesBase._fetch = traced',",
      "          '    db.traced = True', sep = '\\n'))))",
      "  trace('fit_doodles', where = ns, print = FALSE, exit = quote(",
      "    saveRDS(model$get_weights(), Sys.getenv('DOODLES_TEST_WEIGHTS'))))",
      "})"
    ), path)
  }
  path
}

# Ports nothing listens on now.
free_ports <- function(n) {
  ports <- integer()
  while (length(ports) < n) {
    port <- sample(20000:60000, 1)
    socket <- tryCatch(serverSocket(port), error = function(e) NULL)
    if (!is.null(socket)) {
      close(socket)
      ports <- union(ports, port)
    }
  }
  ports
}

train_nn <- function(args, wd, env) {
  processx::process$new(
    file.path(R.home("bin"), "Rscript"),
    c(system.file("bin", "train_nn.R", package = "doodles", mustWork = TRUE), args),
    wd = wd, env = env, stdout = "|", stderr = "|"
  )
}

# Waits for a process (up to `timeout` s) and returns its status and output.
finish <- function(p, timeout = 300) {
  p$wait(timeout * 1000)
  if (p$is_alive()) {
    p$kill()
    stop("a worker did not finish within ", timeout, " s")
  }
  list(status = p$get_exit_status(), stdout = p$read_all_output(), stderr = p$read_all_error())
}

# Two worker processes (worker 1 started first), each on its own database folder; both finished.
# The cluster is given as --workers and --worker-index, or with `tf_config` as TensorFlow's own
# TF_CONFIG in each worker's environment.
run_workers <- function(work, db_dirs, args, trace_dir, timeout = 300, tf_config = FALSE) {
  addresses <- sprintf("127.0.0.1:%d", free_ports(2))
  processes <- lapply(c(1L, 0L), function(i) {
    env <- worker_env(trace_dir, paste0("worker", i))
    cluster <- if (tf_config) {
      config <- list(cluster = list(worker = addresses), task = list(type = "worker", index = i))
      env[["TF_CONFIG"]] <- as.character(jsonlite::toJSON(config, auto_unbox = TRUE))
      character()
    } else {
      c("--workers", paste(addresses, collapse = ","), "--worker-index", i)
    }
    train_nn(c(args, "-d", db_dirs[i + 1L], cluster), wd = work, env = env)
  })
  rev(lapply(processes, finish, timeout = timeout))
}

# A synthetic database (1280 drawings of 4 shapes) in `db0` and a copy of its folder in `db1`,
# as a second host would have it.
worker_databases <- function(dir, seed = 3) {
  files <- make_synthetic_doodles(file.path(dir, "synthetic"), n = 1280, classes = 4,
                                  n_test = 0, seed = seed)
  db0 <- file.path(dir, "db0")
  dir.create(db0, recursive = TRUE)
  con <- DBI::dbConnect(doodles_duckdb(), dbdir = db_file_in(db0))
  load_doodles(con, files$train)
  ids <- DBI::dbGetQuery(con, "SELECT id FROM doodles")$id
  DBI::dbDisconnect(con)
  db1 <- file.path(dir, "db1")
  dir.create(db1)
  file.copy(list.files(db0, full.names = TRUE), db1)
  list(dirs = c(db0, db1), ids = ids)
}

# The batches a worker read: one line of ids per doodle_batch() call, but the one-drawing probe
# train_nn.R reads for the image shape.
batches_read <- function(trace_dir, name) {
  lines <- readLines(file.path(trace_dir, paste0(name, "-ids.txt")))
  batches <- lapply(strsplit(lines, " ", fixed = TRUE), as.integer)
  batches[lengths(batches) > 1L]
}

# Skips without processx or Keras; else a temporary folder (removed when the calling
# test ends) with the databases (`db`), the workers' folder (`work`) and the trace folder.
local_worker_setup <- function(env = parent.frame()) {
  skip_if_not_installed("processx")
  skip_if_no_keras()
  dir <- withr::local_tempdir(.local_envir = env)
  setup <- list(dir = dir, db = worker_databases(dir), work = file.path(dir, "work"),
                trace_dir = file.path(dir, "trace"))
  dir.create(setup$work)
  dir.create(setup$trace_dir)
  setup
}

# 960 training and 320 validation drawings (-r 0.75); a global batch of 32, 16 per worker.
common_args <- c("-m", "mlp", "-b", "32", "-s", "0.125", "-r", "0.75", "-n", "0", "--seed", "5",
                 "--models-dir", "models", "--logs-dir", "logs")

test_that("two workers train one model: same weights, disjoint shards, one worker's accuracy", {
  setup <- local_worker_setup()
  dir <- setup$dir
  db <- setup$db
  work <- setup$work
  trace_dir <- setup$trace_dir
  args <- c(common_args, "-e", "2", "--worker-timeout", "120")
  res <- run_workers(work, db$dirs, args, trace_dir)
  for (i in 1:2) expect_identical(res[[i]]$status, 0L, info = res[[i]]$stderr)
  expect_match(res[[1]]$stderr, "Worker 0 of 2 (writes the checkpoints, log and curve)", fixed = TRUE)
  expect_match(res[[2]]$stderr, "Worker 1 of 2 (writes no files)", fixed = TRUE)

  # The same weights on both workers after training.
  w0 <- readRDS(file.path(trace_dir, "worker0-weights.rds"))
  w1 <- readRDS(file.path(trace_dir, "worker1-weights.rds"))
  expect_length(w0, 6L)
  expect_identical(w1, w0)

  # train_nn.R's split: a permutation of the ids by --seed; 75% train.
  set.seed(5)
  ids <- sample(db$ids)
  train_ids <- ids[1:960]
  val_ids <- ids[961:1280]
  seen <- lapply(c("worker0", "worker1"), batches_read, trace_dir = trace_dir)
  for (batches in seen) {
    expect_true(all(lengths(batches) == 16L))
    # Per epoch: 30 training batches, then 10 validation batches.
    expect_length(batches, 2L * (30L + 10L))
  }
  for (epoch in 1:2) {
    rows <- (epoch - 1L) * 40L + seq_len(40L)
    for (part in list(list(rows[1:30], train_ids), list(rows[31:40], val_ids))) {
      shards <- lapply(seen, function(batches) unlist(batches[part[[1]]]))
      expect_length(intersect(shards[[1]], shards[[2]]), 0L)
      expect_setequal(c(shards[[1]], shards[[2]]), part[[2]])
      expect_length(c(shards[[1]], shards[[2]]), length(part[[2]]))
    }
  }
  # Each epoch in another order (the shuffle depends on the epoch).
  expect_false(identical(unlist(seen[[1]][1:30]), unlist(seen[[1]][41:70])))

  # Only worker 0 wrote files, in the folders both were given.
  log_file <- list.files(file.path(work, "logs"), "\\.csv$", full.names = TRUE)
  expect_length(log_file, 1L)
  log <- utils::read.csv(log_file)
  expect_setequal(list.files(file.path(work, "logs")),
                  basename(c(log_file, sub("\\.csv$", ".png", log_file))))
  expect_setequal(list.files(file.path(work, "models")), c(
    sprintf("mlp_32_1ch_%02d_%.4f.keras", 1:2, log$val_loss), "mlp_32_1ch_final.keras"
  ))
  expect_setequal(list.files(work), c("logs", "models"))
  # The final model holds the weights of the epoch best by validation MAP@3, as its checkpoint.
  weights_of <- function(file) {
    lapply(keras_module()$saving$load_model(file.path(work, "models", file))$get_weights(), as.array)
  }
  best <- which.max(log$val_map_3)
  final <- weights_of("mlp_32_1ch_final.keras")
  expect_identical(final, weights_of(sprintf("mlp_32_1ch_%02d_%.4f.keras", best, log$val_loss[best])))
  if (best == nrow(log)) expect_equal(final, lapply(w0, as.array), tolerance = 0)

  # One process with the same global batch of 32 and seed sees the same global batches, from
  # the same initial weights: the two runs compute the same steps, but for the order in which
  # the all-reduce adds the two halves' gradients (float32 rounding, about 1e-7 relative over
  # these 60 steps). 1e-4 is far above that and far below what a different split of the
  # batches or a missed all-reduce changes (the loss moves by ~0.4 per epoch here).
  one <- file.path(dir, "one")
  dir.create(one)
  single <- finish(train_nn(c(common_args, "-e", "2", "-d", db$dirs[1]), wd = one,
                            env = worker_env(trace_dir, "single")))
  expect_identical(single$status, 0L, info = single$stderr)
  single_log <- utils::read.csv(list.files(file.path(one, "logs"), "\\.csv$", full.names = TRUE))
  for (column in c("loss", "accuracy", "val_loss", "val_accuracy", "val_top_3_accuracy")) {
    expect_equal(log[[column]], single_log[[column]], tolerance = 1e-4, label = column)
  }
  # The model learnt: validation accuracy well above the 25% of guessing among 4 shapes.
  expect_gt(log$val_accuracy[2], 0.4)
  expect_equal(w0, readRDS(file.path(trace_dir, "single-weights.rds")), tolerance = 1e-4)
})

test_that("a worker with another database is refused before training, on every worker (TF_CONFIG)", {
  setup <- local_worker_setup()
  dir <- setup$dir
  db <- setup$db
  work <- setup$work
  trace_dir <- setup$trace_dir
  other <- worker_databases(file.path(dir, "other"), seed = 4)
  # The cluster from TF_CONFIG alone, as a cluster manager would set it.
  res <- run_workers(work, c(db$dirs[1], other$dirs[2]), c(common_args, "-e", "2"), trace_dir,
                     timeout = 200, tf_config = TRUE)
  for (i in 1:2) {
    expect_identical(res[[i]]$status, 1L)
    # Only what differs: the drawings' hash, not the rows or the labels, nor any option.
    expect_match(res[[i]]$stderr, paste0(
      "train_nn.R: error: The workers differ, so none starts training. database doodles hash: ",
      "worker 0 has [0-9a-f]{16}; worker 1 has [0-9a-f]{16}. Every worker needs"
    ))
    # Nothing trained: no batch read but the shape probe, no weights, no file.
    expect_length(batches_read(trace_dir, paste0("worker", i - 1L)), 0L)
    expect_false(file.exists(file.path(trace_dir, paste0("worker", i - 1L, "-weights.rds"))))
  }
  expect_length(list.files(work), 0L)
})

test_that("when a worker is killed the other stops with an error naming it; resuming works", {
  setup <- local_worker_setup()
  dir <- setup$dir
  db <- setup$db
  work <- setup$work
  trace_dir <- setup$trace_dir
  ports <- free_ports(2)
  workers <- paste(sprintf("127.0.0.1:%d", ports), collapse = ",")
  args <- c(common_args, "-e", "6", "--workers", workers, "--worker-timeout", "120")
  start <- function(i) {
    train_nn(c(args, "-d", db$dirs[i + 1L], "--worker-index", i), wd = work,
             env = worker_env(trace_dir, paste0("worker", i)))
  }
  w1 <- start(1L)
  w0 <- start(0L)
  # Killed in its second epoch (after 40 batches of the first and 5 of the second), once worker
  # 0 has written the first epoch's checkpoint.
  ids_file <- file.path(trace_dir, "worker1-ids.txt")
  waited <- 0
  while (w1$is_alive() && waited < 300 &&
         (!file.exists(ids_file) || length(readLines(ids_file)) < 1L + 40L + 5L)) {
    Sys.sleep(0.2)
    waited <- waited + 0.2
  }
  expect_true(w1$is_alive())
  w1$kill()
  # The bound: TensorFlow's coordination service notices the missing heartbeats in about 10 s
  # (or a collective step sees the connection reset first: "failed or cannot be reached"; or the
  # 120 s of --worker-timeout would end the wait), with room for a busy machine; finish() fails
  # the test if worker 0 is still running after it.
  res <- finish(w0, timeout = 200)
  expect_identical(res$status, 1L)
  expect_match(res$stderr, paste0(
    "train_nn.R: error: worker 0 of 2 stopped training in epoch [2-6], step [0-9]+: ",
    "worker 1 (stopped \\(no heartbeat\\)|failed or cannot be reached)\\. TensorFlow: UnavailableError: "
  ))
  expect_match(res$stderr, "Restart all the workers with --resume models/mlp_32_1ch_[0-9]{2}_")

  # Both restarted from the last checkpoint: training goes on after its epoch and ends.
  checkpoints <- sort(list.files(file.path(work, "models"), "^mlp_32_1ch_[0-9]{2}_.*\\.keras$"))
  expect_gte(length(checkpoints), 1L)
  last <- checkpoints[length(checkpoints)]
  done <- as.integer(substr(last, 12, 13))
  unlink(file.path(trace_dir, "*"))
  res <- run_workers(work, db$dirs, c(common_args, "-e", done + 1L, "--worker-timeout", "120",
                                      "--resume", file.path("models", last)), trace_dir)
  for (i in 1:2) {
    expect_identical(res[[i]]$status, 0L, info = res[[i]]$stderr)
    expect_match(res[[i]]$stderr, sprintf("Resuming from .*%s.* after epoch %d", last, done))
  }
  expect_true(file.exists(file.path(work, "models", "mlp_32_1ch_final.keras")))
  expect_length(list.files(file.path(work, "models"), sprintf("^mlp_32_1ch_%02d_", done + 1L)), 1L)
  expect_identical(readRDS(file.path(trace_dir, "worker0-weights.rds")),
                   readRDS(file.path(trace_dir, "worker1-weights.rds")))
})

test_that("a worker waiting for its peers stops at once on SIGTERM and on Ctrl-C", {
  setup <- local_worker_setup()
  listening <- function(port) {
    tryCatch({
      close(socketConnection("127.0.0.1", port, open = "r+b", timeout = 1))
      TRUE
    }, error = function(e) FALSE, warning = function(w) FALSE)
  }
  for (signal in c(tools::SIGTERM, tools::SIGINT)) {
    ports <- free_ports(2)
    # Worker 0 alone: worker 1 never comes, so it waits (up to --worker-timeout, 120 s) once its
    # coordination service listens on its port.
    p <- train_nn(c(common_args, "-e", "1", "-d", setup$db$dirs[1], "--workers",
                    paste(sprintf("127.0.0.1:%d", ports), collapse = ","), "--worker-index", "0",
                    "--worker-timeout", "120"),
                  wd = setup$work, env = worker_env(setup$trace_dir, "worker0"))
    waited <- 0
    while (p$is_alive() && waited < 90 && !listening(ports[1])) {
      Sys.sleep(0.5)
      waited <- waited + 0.5
    }
    Sys.sleep(2)
    expect_true(p$is_alive(), info = signal)
    p$signal(signal)
    p$wait(10000)
    expect_false(p$is_alive(), info = signal)
    if (p$is_alive()) p$kill()
  }
})
