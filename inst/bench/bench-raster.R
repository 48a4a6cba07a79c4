# Rasterizing benchmark: draw_doodles() on the real sample shipped with the package (3,000 +
# 750 drawings, in full batches of 1024), scale 0.5 (128 x 128), gray, 2 threads, counting the R
# array returned; next to the two anchors of ../shared/bench/anchors run on the same drawings in
# the same run (the article's C++ design, and Python + OpenCV as in the Kaggle kernels). Then the
# cost at scale 1, of colour, of antialiasing, with 1 thread, and of keeping freed memory
# (option doodles.keep_freed_memory, measured in child processes since it cannot be undone), and
# from a source checkout, the phases in Rust alone.
#
# Usage: Rscript inst/bench/bench-raster.R [anchors dir] [work dir]
# The anchors need OpenCV (see inst/bench/setup-anchors.sh); each one missing is skipped with a
# message. Goal (issue 2): at least 3x the article's design in the same run.
suppressPackageStartupMessages(library(doodles))
args <- commandArgs(trailingOnly = TRUE)
anchors <- if (length(args) >= 1) args[1] else Sys.getenv("DOODLES_ANCHORS", "../shared/bench/anchors")
work <- if (length(args) >= 2) args[2] else Sys.getenv("DOODLES_BENCH_DIR", file.path(Sys.getenv("HOME"), ".cache/doodles/bench"))
dir.create(work, showWarnings = FALSE, recursive = TRUE)
batch_size <- 1024
threads <- 2
repeats <- 9

read_sample <- function() {
  dir <- tempfile("sample-")
  on.exit(unlink(dir, recursive = TRUE))
  files <- sort(utils::unzip(system.file("extdata", "train_simplified.zip", package = "doodles"), exdir = dir))
  read <- function(file) utils::read.csv(file, colClasses = "character")$drawing
  c(unlist(lapply(files, read), use.names = FALSE),
    read(system.file("extdata", "test_simplified.csv", package = "doodles")))
}
drawings <- read_sample()
jsonl <- file.path(work, "drawings.jsonl")
writeLines(drawings, jsonl)
batches <- split(drawings, ceiling(seq_along(drawings) / batch_size))
batches <- batches[lengths(batches) == batch_size]

# The best of `repeats` runs (as the anchors report theirs) of one pass over all full batches, in
# ms per batch: the machine is shared, so the minimum is the least disturbed figure. Attribute
# "gc_ms" is the part of that run spent in R's garbage collector (gc.time()): a new 134 MB array
# each batch makes R run full collections, whose cost is R's and grows with the session's heap.
# The last batch stays referenced across runs, as in a training loop: when each run's batches died
# with it, how often R collected depended on whether its heap happened to fit one run's batches
# (GC 1-2 ms per batch in one build, 20 in another, for the same arrays).
ms_per_batch <- function(render, batches, repeats) {
  x <- render(batches[[1]]) # warm-up: thread pool, first pages
  runs <- vapply(seq_len(repeats), function(r) {
    start <- proc.time()[["elapsed"]]
    gc_start <- gc.time()[[3]]
    for (b in batches) x <<- render(b)
    c(proc.time()[["elapsed"]] - start, gc.time()[[3]] - gc_start)
  }, double(2))
  best <- which.min(runs[1, ])
  structure(1000 * runs[1, best] / length(batches), gc_ms = 1000 * runs[2, best] / length(batches))
}

report <- function(what, ms, n = batch_size) {
  cat(sprintf("%-58s %8.1f ms/batch%d %9.0f drawings/s\n", what, ms, n, 1000 * n / ms))
}

cat(sprintf("%d drawings of the shipped sample, %d full batches of %d, %d threads\n\n",
            length(drawings), length(batches), batch_size, threads))

ours <- ms_per_batch(function(b) draw_doodles(b, scale = 0.5, threads = threads), batches, repeats)
report("doodles draw_doodles, scale 0.5, gray, new R array", ours)
ours_gc <- attr(ours, "gc_ms")
report("  the same less R's garbage collection", ours - ours_gc)
ours_uint8 <- ms_per_batch(function(b) draw_doodles(b, scale = 0.5, threads = threads, format = "uint8"), batches, repeats)
report("doodles draw_doodles, scale 0.5, gray, uint8 NHWC (Keras)", ours_uint8)

# The anchors, on the same file of drawings.
anchor_cpp <- NA_real_
cpp <- file.path(work, "opencv_cpp")
if (!file.exists(cpp) && nzchar(Sys.which("pkg-config")) && system2("pkg-config", c("--exists", "opencv4")) == 0) {
  flags <- system2("pkg-config", c("--cflags", "--libs", "opencv4"), stdout = TRUE)
  system2("g++", c("-O2", "-o", cpp, file.path(anchors, "opencv_cpp.cpp"), flags))
}
if (file.exists(cpp)) {
  out <- system2(cpp, c(jsonl, batch_size, threads), stdout = TRUE, env = "OPENCV_FOR_THREADS_NUM=1")
  anchor_cpp <- as.numeric(sub(".*ms/batch[0-9]+ ([0-9.]+).*", "\\1", out))
  report("anchor opencv_cpp (the article's design), 2 threads", anchor_cpp)
} else {
  cat("anchor opencv_cpp skipped: needs OpenCV; run inst/bench/setup-anchors.sh\n")
}
python <- file.path(work, "venv/bin/python")
if (!file.exists(python)) python <- Sys.which("python3")
has_cv2 <- nzchar(python) && system2(python, c("-c", shQuote("import cv2, numpy")), stdout = FALSE, stderr = FALSE) == 0
if (has_cv2) {
  out <- system2(python, c(file.path(anchors, "opencv_py.py"), jsonl, batch_size), stdout = TRUE)
  report("anchor opencv_py (Python + OpenCV), 1 process", as.numeric(sub(".*ms/batch[0-9]+ ([0-9.]+).*", "\\1", out)))
} else {
  cat("anchor opencv_py skipped: needs Python with cv2 and numpy; run inst/bench/setup-anchors.sh\n")
}
if (!is.na(anchor_cpp)) {
  cat(sprintf("\ndoodles vs the article's design: %.1fx faster into a new R array (R's garbage collector %.1f ms of its %.1f; %.1fx without it), %.1fx in the uint8 form\n",
              anchor_cpp / ours, ours_gc, ours, anchor_cpp / (ours - ours_gc), anchor_cpp / ours_uint8))
}

cat("\nOther settings (doodles, same batches):\n")
report("gray, scale 0.5, 1 thread", ms_per_batch(function(b) draw_doodles(b, scale = 0.5, threads = 1), batches, repeats))
report("hue (colour, 3 channels), scale 0.5", ms_per_batch(function(b) draw_doodles(b, scale = 0.5, color = TRUE, threads = threads), batches, repeats))
report("gray, scale 0.5, antialiased", ms_per_batch(function(b) draw_doodles(b, scale = 0.5, antialias = TRUE, threads = threads), batches, repeats))
report("stack (3 channels), scale 0.5", ms_per_batch(function(b) draw_doodles(b, scale = 0.5, encoding = "stack", threads = threads), batches, repeats))
at_1 <- ms_per_batch(function(b) draw_doodles(b, scale = 1, threads = threads), batches, 3)
report("gray, scale 1 (256 x 256)", at_1)
cat(sprintf("  per drawing at scale 1: %.1f us (2 threads, 537 MB of doubles per batch)\n", 1000 * at_1 / batch_size))
small <- split(drawings, ceiling(seq_along(drawings) / 32))[1:100]
report("gray, scale 0.5, batches of 32 (a Keras batch)", ms_per_batch(function(b) draw_doodles(b, scale = 0.5, threads = threads), small, repeats), 32)

# Where the time goes, in Rust alone (from a source checkout with cargo): the example
# src/rust/raster/examples/phases.rs on the same drawings.
if (file.exists("tools/cargo.sh") && nzchar(Sys.which("cargo"))) {
  cat("\nWhere the time goes (Rust alone, src/rust/raster/examples/phases.rs):\n")
  out <- suppressWarnings(system2("sh", c("tools/cargo.sh", "run", "--release", "-q", "-p", "doodles-raster",
                                          "--example", "phases", "--", jsonl, threads), stdout = TRUE, stderr = TRUE))
  cat(paste0("  ", out), sep = "\n")
}

# In child processes, since both settings are read when R or the package starts: R's heap growth
# policy (environment variable R_GC_MEM_GROW, 0 to 3; 3 grows the heap soonest), how much of a new
# R array's cost is R's collector; and keeping freed memory (glibc mallopt), time and memory with
# and without.
if (requireNamespace("callr", quietly = TRUE)) {
  child <- function(batches, repeats, threads, ms_per_batch) {
    library(doodles)
    ms <- ms_per_batch(function(b) draw_doodles(b, scale = 0.5, threads = threads), batches, repeats)
    invisible(gc())
    status <- readLines("/proc/self/status")
    kb <- function(field) as.numeric(gsub("[^0-9]", "", grep(paste0("^", field, ":"), status, value = TRUE)))
    c(ms = ms, gc_ms = attr(ms, "gc_ms"), peak_mb = kb("VmHWM") / 1024, rss_mb = kb("VmRSS") / 1024)
  }
  in_child <- function(...) {
    callr::r(child, list(batches, repeats, threads, ms_per_batch), env = c(callr::rcmd_safe_env(), ...))
  }

  cat("\nR's heap growth (R_GC_MEM_GROW, child processes), new R array, gray, scale 0.5:\n")
  for (grow in c("unset", "3")) {
    result <- if (grow == "unset") in_child() else in_child(R_GC_MEM_GROW = grow)
    cat(sprintf("  R_GC_MEM_GROW %-6s %8.1f ms/batch%d, of which R's garbage collector %5.1f ms\n",
                grow, result[["ms"]], batch_size, result[["gc_ms"]]))
  }

  cat("\nKeeping freed memory (option doodles.keep_freed_memory, child processes):\n")
  for (keep in c("false", "true")) {
    result <- in_child(DOODLES_KEEP_FREED_MEMORY = keep)
    cat(sprintf("  keep_freed_memory = %-5s %8.1f ms/batch%d   peak RSS %5.0f MB, RSS after gc() %5.0f MB\n",
                keep, result[["ms"]], batch_size, result[["peak_mb"]], result[["rss_mb"]]))
  }
}
