# Speed of train_generator() on a database of at least a million drawings, and the share of a
# training step spent waiting for data.
#
#   Rscript inst/bench/bench-generators.R [rows] [dir]
#
# rows (default 1e6) synthetic drawings (make_synthetic_doodles(), 340 classes) are loaded once
# into dir/doodles-<rows>.duckdb (default dir: ~/.cache/doodles/bench) and reused by later runs.
# Each figure is measured twice, in fresh R processes: with R's large arrays in fresh memory (the
# default) and with freed memory kept for reuse (DOODLES_KEEP_FREED_MEMORY=1, see ?draw_doodles).
# Printed:
# - back to back: median time per call of train_generator() and batches per second, batches of
#   32 and 1024 at scale 0.5 (128 x 128), gray and colour, with the next batch prefetched by Rust
#   threads and without;
# - paced: the median wait per call when the caller spends `pause` seconds between calls, as a
#   training step would (prefetching then hides the drawing);
# - training: a small MobileNet v1 on CPU through fit_doodles(), time per step and the share spent
#   waiting for data (when Python Keras is available).
# Goals at 1M rows: a batch of 32 in under 5 ms, of 1024 in under 60 ms.
suppressPackageStartupMessages(library(doodles))

args <- commandArgs(trailingOnly = TRUE)
rows <- if (length(args) >= 1) as.numeric(args[[1]]) else 1e6
dir <- if (length(args) >= 2) args[[2]] else file.path(path.expand("~"), ".cache", "doodles", "bench")
dir.create(dir, recursive = TRUE, showWarnings = FALSE)
db_path <- file.path(dir, sprintf("doodles-%d.duckdb", as.integer(rows)))

# Other processes sharing the cores change these figures: the load average says how busy they were.
load <- if (file.exists("/proc/loadavg")) strsplit(readLines("/proc/loadavg"), " ")[[1]][1:3]
cat(sprintf("threads: %d, cores: %d, load average: %s\n", doodles_threads(),
            parallel::detectCores(), paste(load, collapse = " ")))
if (!file.exists(db_path)) {
  started <- Sys.time()
  files <- make_synthetic_doodles(file.path(dir, "synthetic"), n = rows, classes = 340,
                                  n_test = 1000, seed = 1)
  con <- DBI::dbConnect(doodles_duckdb(), dbdir = db_path)
  load_doodles(con, files$train)
  index_doodles(con)
  DBI::dbDisconnect(con)
  unlink(file.path(dir, "synthetic"), recursive = TRUE)
  cat(sprintf("built %s in %.0f s\n", db_path, as.numeric(Sys.time() - started, units = "secs")))
}

measure <- function(db_path, with_keras) {
  suppressPackageStartupMessages(library(doodles))
  con <- DBI::dbConnect(doodles_duckdb(), dbdir = db_path)
  on.exit(DBI::dbDisconnect(con))
  n <- DBI::dbGetQuery(con, "SELECT count(*) AS n FROM doodles")$n
  ids <- seq_len(n)
  make <- function(batch_size, color, prefetch, seed = 1) {
    it <- train_generator(con, ids, batch_size = batch_size, scale = 0.5, color = color,
                          seed = seed, prefetch = prefetch)
    invisible(it()) # the first call has nothing prefetched yet
    it
  }
  configs <- expand.grid(prefetch = c(TRUE, FALSE), color = c(FALSE, TRUE),
                         batch_size = c(32, 1024))
  back_to_back <- do.call(rbind, lapply(seq_len(nrow(configs)), function(i) {
    config <- configs[i, ]
    it <- make(config$batch_size, config$color, config$prefetch)
    marks <- bench::mark(it(), iterations = if (config$batch_size <= 32) 300 else 30,
                         check = FALSE, memory = FALSE, filter_gc = FALSE)
    data.frame(batch_size = config$batch_size, channels = if (config$color) 3L else 1L,
               prefetch = config$prefetch, median_ms = as.numeric(marks$median) * 1000,
               batches_per_s = as.numeric(marks$`itr/sec`))
  }))
  paced <- do.call(rbind, lapply(seq_len(nrow(configs)), function(i) {
    config <- configs[i, ]
    pause <- if (config$batch_size <= 32) 0.05 else 0.8
    it <- make(config$batch_size, config$color, config$prefetch, seed = 2)
    waits <- vapply(1:8, function(k) {
      Sys.sleep(pause)
      system.time(it())[["elapsed"]]
    }, 1)
    data.frame(batch_size = config$batch_size, channels = if (config$color) 3L else 1L,
               prefetch = config$prefetch, pause_s = pause,
               median_wait_ms = 1000 * stats::median(waits))
  }))
  training <- NULL
  if (with_keras && isTRUE(keras_available())) {
    keras_module()$utils$set_random_seed(1L)
    training <- do.call(rbind, lapply(c(TRUE, FALSE), function(prefetch) {
      it <- make(32, FALSE, prefetch, seed = 3)
      model <- get_model("mobilenet_v1", input_shape = attr(it, "image_shape"),
                         num_classes = attr(it, "num_classes"), alpha = 0.25)
      fit_doodles(model, it, steps_per_epoch = 5, epochs = 1, verbose = 0) # compiles the step
      history <- fit_doodles(model, it, steps_per_epoch = 30, epochs = 1, verbose = 0)
      total <- history$data_seconds + history$train_seconds
      data.frame(prefetch = prefetch, step_ms = 1000 * total / 30,
                 data_wait_ms = 1000 * history$data_seconds / 30,
                 data_wait_share = history$data_seconds / total)
    }))
  }
  list(n = n, back_to_back = back_to_back, paced = paced, training = training)
}

for (keep in c("0", "1")) {
  cat(sprintf("\n== R arrays in %s (DOODLES_KEEP_FREED_MEMORY=%s) ==\n",
              if (keep == "1") "reused memory" else "fresh memory", keep))
  result <- callr::r(measure, list(db_path, with_keras = TRUE),
                     env = c(callr::rcmd_safe_env(), DOODLES_KEEP_FREED_MEMORY = keep,
                             TF_CPP_MIN_LOG_LEVEL = "3"))
  cat(sprintf("train_generator(), scale 0.5 (128 x 128), random ids from %d rows\n", result$n))
  cat("back to back:\n")
  print(format(result$back_to_back, digits = 3), row.names = FALSE)
  cat("paced (the caller busy for pause_s between calls):\n")
  print(format(result$paced, digits = 3), row.names = FALSE)
  if (!is.null(result$training)) {
    cat("training MobileNet v1 (alpha 0.25), 128 x 128, batch 32, 30 steps on CPU:\n")
    print(format(result$training, digits = 3), row.names = FALSE)
  } else {
    cat("Python Keras is missing: no training figures (run doodles::install_keras_env()).\n")
  }
}
