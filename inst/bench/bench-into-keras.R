# Images per second from the generator call to the C-contiguous array a Keras model receives, for
# each batch format, side by side in one run, and the share of a training step spent waiting for
# data.
#
#   Rscript inst/bench/bench-into-keras.R [iterations] [r-keras library]
#
# On the real sample shipped in inst/extdata (3,000 drawings) loaded into a doodles store, at
# 128 x 128 (scale 0.5), batches of 256 and 1024, gray and colour:
# - "array -> float32": today's road, train_generator(format = "array") then the R double array
#   converted to float32 C order, as keras3::fit(), keras::fit_generator() and fit_doodles() all
#   make it (here: the bridge's as_model_input(), numpy.ascontiguousarray(x, float32));
# - "float32", "uint8": train_generator(format = ...), numpy NHWC arrays Rust wrote in place, passed
#   on as they are (the same as_model_input() call, which finds nothing to do), into the memory of
#   earlier batches nothing holds any more (the generator's pool, batch_pool() in R/numpy.R);
# each pulled by the loop fit_doodles() runs (the bridge's next_batch(), timed in Python);
#   "... new memory": the same with the pool off (options(doodles.batch_pool = 0)), each batch
#   in memory R has just allocated;
# - "rasterizer alone": draw_doodles() of the same number of drawings (already in R, no database,
#   no prefetch) into that format, the floor of what a batch costs.
# The next batch is prefetched by Rust threads meanwhile, as in training. Then a small model
# (MobileNet v1, alpha 0.25, 128 px) trains 12 steps of 256 through fit_doodles() in each format:
# the share of its time spent waiting for data. With the R keras3 package (in its own library,
# default ~/.cache/doodles/r-keras, see ../shared/r-packages), the same through keras3::fit(), where
# the wait is the step time minus that of a generator returning one fixed batch.
# Goal on 2 cores: >= 20k images/s gray and >= 8k colour into Keras, within 1.5x of the rasterizer
# alone; colour at most 2x the cost of gray.
suppressPackageStartupMessages(library(doodles))
args <- commandArgs(trailingOnly = TRUE)
iterations <- if (length(args) >= 1) as.integer(args[[1]]) else 15L
keras3_lib <- if (length(args) >= 2) args[[2]] else path.expand("~/.cache/doodles/r-keras")

load <- if (file.exists("/proc/loadavg")) strsplit(readLines("/proc/loadavg"), " ")[[1]][1:3]
cat(sprintf("threads: %d, cores: %d, load average: %s\n", doodles_threads(),
            parallel::detectCores(), paste(load, collapse = " ")))
use_keras_env()
invisible(doodles:::arrays_py()) # imports doodles_bridge, which the timing loop below calls
con <- DBI::dbConnect(doodles_duckdb())
load_doodles(con, system.file("extdata", "train_simplified.zip", package = "doodles"))
n <- DBI::dbGetQuery(con, "SELECT count(*) AS n FROM doodles")$n
drawings <- read_doodles(con, seq_len(n))$drawing

median_ms <- function(step) {
  marks <- bench::mark(step(), iterations = iterations, check = FALSE, filter_gc = FALSE)
  as.numeric(marks$median) * 1000
}

# Pulled as fit_doodles() pulls them: by the bridge's loop (next_batch(), which hands Keras
# C-ordered arrays: as_model_input()), timed in Python, so that no R object holds a batch.
main <- reticulate::import_main(convert = FALSE)
reticulate::py_run_string(paste(
  "import sys, time, statistics",
  "def doodles_pull_ms(fn, iterations):",
  "    bridge = sys.modules['doodles_bridge']",
  "    bridge.next_batch(fn)  # the first call has nothing prefetched yet",
  "    times = []",
  "    for _ in range(iterations):",
  "        started = time.perf_counter()",
  "        x, y = bridge.next_batch(fn)",
  "        times.append(time.perf_counter() - started)",
  "    return statistics.median(times) * 1000",
  sep = "\n"
))
into_keras <- function(batch_size, color, format, pool = 3L) {
  withr::local_options(doodles.batch_pool = pool)
  it <- train_generator(con, seq_len(n), batch_size = batch_size, scale = 0.5, color = color,
                        seed = 1, format = format)
  stop_handing_anchors <- doodles:::hand_anchors_to_bridge(it)
  on.exit(stop_handing_anchors())
  reticulate::py_to_r(main$doodles_pull_ms(it, as.integer(iterations)))
}

raster_alone <- function(batch_size, color, format) {
  batch <- drawings[seq_len(batch_size)]
  median_ms(function() draw_doodles(batch, scale = 0.5, color = color, format = format))
}

rows <- list()
for (batch_size in c(256L, 1024L)) for (color in c(FALSE, TRUE)) {
  for (form in c("array", "float32 new memory", "float32", "uint8 new memory", "uint8")) {
    format <- sub(" .*", "", form)
    ms <- into_keras(batch_size, color, format, pool = if (grepl("new memory", form)) 0L else 3L)
    alone <- raster_alone(batch_size, color, format)
    rows[[length(rows) + 1]] <- data.frame(
      batch = batch_size, image = if (color) "colour" else "gray",
      format = if (format == "array") "array -> float32" else form,
      ms = round(ms, 1), images_per_s = round(batch_size / ms * 1000),
      raster_alone_ms = round(alone, 1), ratio_to_raster = round(ms / alone, 2)
    )
  }
}
figures <- do.call(rbind, rows)
cat("\nInto Keras at 128 x 128 (median ms per batch, generator call to the model's array):\n")
print(figures, row.names = FALSE)
colour_cost <- with(figures, ms[image == "colour"] / ms[image == "gray"])
cat("\ncolour / gray cost:", paste(sprintf("%s %s %.2fx", figures$format[figures$image == "gray"],
                                           figures$batch[figures$image == "gray"], colour_cost),
                                   collapse = "; "), "\n")

# Colour against gray pair by pair, alternately, in the pooled forms: the rows above, measured
# minutes apart, drift with the machine's load (one run gave 2.27x for uint8 at 256 where pairs
# give 1.3-2.1x).
cat("\ncolour / gray cost, 5 alternating pairs (pooled, as fit_doodles() pulls):\n")
for (format in c("float32", "uint8")) for (batch_size in c(256L, 1024L)) {
  ratios <- replicate(5, into_keras(batch_size, TRUE, format) / into_keras(batch_size, FALSE, format))
  cat(sprintf("  %-7s %4d: %s (median %.2fx)\n", format, batch_size,
              paste(sprintf("%.2f", ratios), collapse = " "), stats::median(ratios)))
}

cat("\nTraining MobileNet v1 (alpha 0.25, 128 px, batch 256, 12 steps) through fit_doodles():\n")
for (color in c(FALSE, TRUE)) for (format in c("array", "uint8")) {
  it <- train_generator(con, seq_len(n), batch_size = 256, scale = 0.5, color = color, seed = 2,
                        format = format)
  model <- get_model("mobilenet_v1", input_shape = c(128, 128), color = color,
                     num_classes = attr(it, "num_classes"), alpha = 0.25,
                     input_dtype = if (format == "uint8") "uint8" else "float32")
  fit_doodles(model, it, steps_per_epoch = 2, verbose = 0) # compiles the step
  history <- fit_doodles(model, it, steps_per_epoch = 12, verbose = 0)
  total <- history$data_seconds + history$train_seconds
  cat(sprintf("  %-6s %-16s %6.0f ms per step, waiting for data %5.1f%%\n",
              if (color) "colour" else "gray", if (format == "array") "array -> float32" else format,
              total / 12 * 1000, 100 * history$data_seconds / total))
}

keras3_script <- '
suppressPackageStartupMessages({library(doodles); use_keras_env(); library(keras3)})
con <- DBI::dbConnect(doodles_duckdb())
load_doodles(con, system.file("extdata", "train_simplified.zip", package = "doodles"))
for (color in c(FALSE, TRUE)) for (format in c("array", "uint8")) {
  it <- train_generator(con, 1:3000, batch_size = 256, scale = 0.5, color = color, seed = 2,
                        format = format)
  model <- get_model("mobilenet_v1", input_shape = c(128, 128), color = color,
                     num_classes = attr(it, "num_classes"), alpha = 0.25,
                     input_dtype = if (format == "uint8") "uint8" else "float32")
  fixed <- it()
  seconds <- function(generator) {
    fit(model, generator, steps_per_epoch = 2, epochs = 1, verbose = 0)
    system.time(fit(model, generator, steps_per_epoch = 12, epochs = 1, verbose = 0))[["elapsed"]]
  }
  with_data <- seconds(it)
  without <- seconds(function() fixed)
  cat(sprintf("  %-6s %-16s %6.0f ms per step, waiting for data %5.1f%%\n",
              if (color) "colour" else "gray", if (format == "array") "array -> float32" else format,
              with_data / 12 * 1000, 100 * max(0, with_data - without) / with_data))
}
'
if (dir.exists(file.path(keras3_lib, "keras3"))) {
  cat("\nThe same through keras3::fit() (R_LIBS=", keras3_lib, "):\n", sep = "")
  script <- tempfile(fileext = ".R")
  writeLines(keras3_script, script)
  output <- system2(file.path(R.home("bin"), "Rscript"), script, stdout = TRUE, stderr = FALSE,
                    env = paste0("R_LIBS=", keras3_lib))
  cat(output, sep = "\n")
} else {
  cat("\nkeras3 is not installed in", keras3_lib, "(see ../shared/r-packages): skipped\n")
}
DBI::dbDisconnect(con)
