# Speed of train_generator() on a database of at least a million drawings, and the share of a
# training step spent waiting for data.
#
#   Rscript inst/bench/bench-generators.R [rows] [dir]
#
# rows (default 1e6) synthetic drawings (make_synthetic_doodles(), 340 classes) are loaded once
# into dir/doodles.duckdb (default: ~/.cache/doodles/bench) and reused by later runs. Prints, for
# batches of 32 and 1024 at scale 0.5 in gray and colour, the median time per batch and batches per
# second, with the next batch prefetched by Rust threads and without; then trains a small
# MobileNet v1 on CPU for a few steps (when Python Keras is available) and reports the time spent
# waiting for data. Goals at 1M rows: a batch of 32 in under 5 ms, of 1024 in under 60 ms.
suppressPackageStartupMessages(library(doodles))

args <- commandArgs(trailingOnly = TRUE)
rows <- if (length(args) >= 1) as.numeric(args[[1]]) else 1e6
dir <- if (length(args) >= 2) args[[2]] else file.path(path.expand("~"), ".cache", "doodles", "bench")
dir.create(dir, recursive = TRUE, showWarnings = FALSE)
db_path <- file.path(dir, sprintf("doodles-%d.duckdb", as.integer(rows)))

cat(sprintf("threads: %d, cores: %d\n", doodles_threads(), parallel::detectCores()))
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
con <- DBI::dbConnect(doodles_duckdb(), dbdir = db_path)
n <- DBI::dbGetQuery(con, "SELECT count(*) AS n FROM doodles")$n
cat(sprintf("database: %s, %d rows\n\n", db_path, as.integer(n)))
ids <- seq_len(n)

time_generator <- function(batch_size, color, prefetch) {
  it <- train_generator(con, ids, batch_size = batch_size, scale = 0.5, color = color, seed = 1,
                        prefetch = prefetch)
  it() # the first call has nothing prefetched yet
  iterations <- if (batch_size <= 32) 400 else 40
  marks <- bench::mark(it(), iterations = iterations, check = FALSE, memory = FALSE,
                       filter_gc = FALSE)
  data.frame(batch_size = batch_size, channels = if (color) 3L else 1L, prefetch = prefetch,
             median_ms = as.numeric(marks$median) * 1000,
             batches_per_s = as.numeric(marks$`itr/sec`))
}

results <- do.call(rbind, lapply(c(32, 1024), function(batch_size) {
  do.call(rbind, lapply(c(FALSE, TRUE), function(color) {
    do.call(rbind, lapply(c(TRUE, FALSE), function(prefetch) {
      time_generator(batch_size, color, prefetch)
    }))
  }))
}))
cat("train_generator(), scale 0.5 (128 x 128), random ids from", n, "rows:\n")
print(format(results, digits = 3), row.names = FALSE)

if (isTRUE(keras_available())) {
  cat("\nTraining MobileNet v1 (alpha 0.25) at 128 x 128, batch 32, 30 steps on CPU:\n")
  keras_module()$utils$set_random_seed(1L)
  waits <- do.call(rbind, lapply(c(TRUE, FALSE), function(prefetch) {
    it <- train_generator(con, ids, batch_size = 32, scale = 0.5, seed = 2, prefetch = prefetch)
    model <- get_model("mobilenet_v1", input_shape = attr(it, "image_shape"),
                       num_classes = attr(it, "num_classes"), alpha = 0.25)
    fit_doodles(model, it, steps_per_epoch = 5, epochs = 1, verbose = 0) # compiles the step
    history <- fit_doodles(model, it, steps_per_epoch = 30, epochs = 1, verbose = 0)
    data.frame(prefetch = prefetch,
               step_ms = 1000 * (history$data_seconds + history$train_seconds) / 30,
               data_wait_ms = 1000 * history$data_seconds / 30,
               data_wait_share = history$data_seconds /
                 (history$data_seconds + history$train_seconds))
  }))
  print(format(waits, digits = 3), row.names = FALSE)
} else {
  cat("\nPython Keras is missing: no training figures (run doodles::install_keras_env()).\n")
}
DBI::dbDisconnect(con)
