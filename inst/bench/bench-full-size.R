# The full competition size in one run: N synthetic drawings (default 50,000,000, as the
# competition's training data) whose strokes and points per stroke are those of the real sample
# shipped in inst/extdata (make_synthetic_doodles(like = )), loaded into a fresh database file,
# indexed, then used by fresh processes as training and prediction processes use it. Each step
# runs in a fresh R process; the load's and the index's peak resident memory (VmHWM, from /proc)
# is read as soon as they return, since DuckDB's buffer pool keeps what later queries read.
#
# Printed, all from this run: the real and synthetic drawings' sizes; load time, rows/s and peak
# memory; index time, size and peak memory; database size; a fresh process's dbConnect() and first
# doodle_batch() of 1024 at scale 0.5 with the quick open-time check, side by side with the same
# after a write marked the index file out of date (the full check, as a process pays after a
# write that was not checked); the median batch of 1024 from the index next to
# draw_doodles() on the same drawings' JSON (what each batch cost when it parsed JSON).
#
# Usage: Rscript inst/bench/bench-full-size.R [rows] [workdir]
# Goals (issue 12): index no larger than the database; first batch in a fresh process < 1 s;
# load >= 200k rows/s with a peak under 500 MB.
args <- commandArgs(trailingOnly = TRUE)
rows <- if (length(args) >= 1) as.numeric(args[1]) else 5e7
workdir <- if (length(args) >= 2) args[2] else file.path(tempdir(), "bench-full-size")
dir.create(workdir, showWarnings = FALSE, recursive = TRUE)
threads <- doodles::doodles_threads()
mb <- function(bytes) sprintf("%.0f MB", bytes / 2^20)
per_row <- function(bytes) sprintf("%.0f bytes/row", bytes / rows)

# This process's peak resident memory so far, in MB.
peak_mb <- function() {
  status <- readLines("/proc/self/status")
  as.numeric(gsub("[^0-9]", "", grep("^VmHWM:", status, value = TRUE))) / 1024
}

# Runs `f(db, ...)` in a fresh R process; adds the load average to the result.
in_fresh_process <- function(f, ...) {
  callr::r(function(f, ...) {
    result <- f(...)
    result$load <- readLines("/proc/loadavg")
    result
  }, args = list(f, ...))
}

size_summary <- function(drawings) {
  strokes <- lengths(regmatches(drawings, gregexpr("\\]\\s*\\]", drawings)))
  points <- lengths(regmatches(drawings, gregexpr("[0-9]+", drawings))) / 2
  sprintf("strokes per drawing mean %.2f (median %g), points mean %.1f (median %g), JSON %.0f bytes mean (median %g)",
          mean(strokes), stats::median(strokes), mean(points), stats::median(points),
          mean(nchar(drawings, type = "bytes")), stats::median(nchar(drawings, type = "bytes")))
}

sample_dir <- file.path(workdir, "sample")
utils::unzip(system.file("extdata", "train_simplified.zip", package = "doodles"), exdir = sample_dir)
real <- unlist(lapply(list.files(sample_dir, full.names = TRUE), function(f) {
  utils::read.csv(f, colClasses = "character")$drawing
}), use.names = FALSE)
cat(sprintf("real sample (%d drawings): %s\n", length(real), size_summary(real)))

zip <- file.path(workdir, "train_simplified.zip")
# The zip of an earlier run with the same rows is used again (writing 50M rows takes ~40 min).
stamp <- file.path(workdir, "train_simplified.rows")
if (file.exists(zip) && file.exists(stamp) && identical(readLines(stamp), format(rows, scientific = FALSE))) {
  cat(sprintf("synthetic zip: %s rows, %s, from an earlier run\n", format(rows, big.mark = ","), mb(file.size(zip))))
} else {
  made <- system.time(doodles::make_synthetic_doodles(workdir, n = rows, classes = 340, n_test = 0, seed = 1,
                                                       like = real))
  writeLines(format(rows, scientific = FALSE), stamp)
  cat(sprintf("synthetic zip: %s rows, %s, written in %.0f s\n", format(rows, big.mark = ","),
              mb(file.size(zip)), made[["elapsed"]]))
}

db <- file.path(workdir, "bench.duckdb")
index <- paste0(db, ".strokes")
unlink(c(db, paste0(db, ".wal"), index))
loaded <- in_fresh_process(function(db, zip, threads, peak_mb) {
  con <- DBI::dbConnect(doodles::doodles_duckdb(), dbdir = db)
  seconds <- system.time(doodles::load_doodles(con, zip, progress = FALSE, threads = threads))[["elapsed"]]
  load_peak_mb <- peak_mb()
  DBI::dbDisconnect(con)
  list(seconds = seconds, load_peak_mb = load_peak_mb)
}, db, zip, threads, peak_mb)
# The queries that read every drawing, in a process of their own.
sampled <- in_fresh_process(function(db) {
  con <- DBI::dbConnect(doodles::doodles_duckdb(), dbdir = db, read_only = TRUE)
  on.exit(DBI::dbDisconnect(con))
  n <- DBI::dbGetQuery(con, "SELECT count(*) AS n FROM doodles")$n
  sample <- DBI::dbGetQuery(con, "SELECT drawing FROM doodles USING SAMPLE 20000 ROWS")$drawing
  json_bytes <- DBI::dbGetQuery(con, "SELECT sum(strlen(drawing))::DOUBLE AS b FROM doodles")$b
  list(rows = n, sample = sample, json_bytes = json_bytes)
}, db)
cat(sprintf("synthetic drawings (20,000 sampled): %s\n", size_summary(sampled$sample)))
cat(sprintf("load: %s rows in %.0f s, %s rows/s (threads = %d), peak memory %.0f MB, load average %s\n",
            format(sampled$rows, big.mark = ","), loaded$seconds,
            format(round(sampled$rows / loaded$seconds), big.mark = ","), threads, loaded$load_peak_mb, loaded$load))

indexed <- in_fresh_process(function(db, peak_mb) {
  con <- DBI::dbConnect(doodles::doodles_duckdb(), dbdir = db)
  seconds <- system.time(info <- doodles::index_doodles(con))[["elapsed"]]
  index_peak_mb <- peak_mb()
  DBI::dbDisconnect(con)
  list(seconds = seconds, info = info, index_peak_mb = index_peak_mb)
}, db, peak_mb)
db_bytes <- file.size(db) + if (file.exists(paste0(db, ".wal"))) file.size(paste0(db, ".wal")) else 0
cat(sprintf("index (labels, ids, stroke index): %.0f s, peak memory %.0f MB; %.2f%% of rows held as bytes\n",
            indexed$seconds, indexed$index_peak_mb, 100 * indexed$info$compact_rows / indexed$info$rows))
cat(sprintf("database file %s (%s); stroke index %s (%s): %.2fx the database\n", mb(db_bytes), per_row(db_bytes),
            mb(file.size(index)), per_row(file.size(index)), file.size(index) / db_bytes))
# The index before binary records held each drawing's text plus the same 12 bytes of offset and label.
text_index <- sampled$json_bytes + 12 * rows
cat(sprintf("the same index holding the drawings' JSON text (the format before): %s (%s), %.2fx the database\n",
            mb(text_index), per_row(text_index), text_index / db_bytes))

first_batch <- function(db) {
  attach <- system.time(loadNamespace("doodles"))[["elapsed"]]
  connect <- system.time(con <- DBI::dbConnect(doodles::doodles_duckdb(), dbdir = db))[["elapsed"]]
  n <- DBI::dbGetQuery(con, "SELECT max(id) AS n FROM doodles")$n
  ids <- sample.int(n, 1024)
  first <- system.time(doodles::doodle_batch(con, ids, scale = 0.5))[["elapsed"]]
  second <- system.time(doodles::doodle_batch(con, sample.int(n, 1024), scale = 0.5))[["elapsed"]]
  DBI::dbDisconnect(con)
  list(attach = attach, connect = connect, first = first, second = second)
}
report_first <- function(what, r) {
  cat(sprintf(paste("fresh process, %s: loading the package %.0f ms, dbConnect() %.0f ms,",
                    "first doodle_batch(1024, scale = 0.5) %.0f ms, second %.0f ms\n"),
              what, 1000 * r$attach, 1000 * r$connect, 1000 * r$first, 1000 * r$second))
}
report_first("quick check (index clean)", in_fresh_process(first_batch, db))
marked <- in_fresh_process(function(db) {
  con <- DBI::dbConnect(doodles::doodles_duckdb(), dbdir = db)
  DBI::dbExecute(con, "CREATE OR REPLACE TABLE bench_note (x INTEGER)")
  DBI::dbDisconnect(con)
  list()
}, db)
report_first("full check (index marked dirty by a write)", in_fresh_process(first_batch, db))
report_first("quick check again (the full check marked it clean)", in_fresh_process(first_batch, db))

steady <- in_fresh_process(function(db, threads) {
  con <- DBI::dbConnect(doodles::doodles_duckdb(), dbdir = db)
  n <- DBI::dbGetQuery(con, "SELECT max(id) AS n FROM doodles")$n
  batches <- lapply(1:20, function(i) sample.int(n, 1024))
  # The drawings' text first (which also brings the index's pages into memory), then each batch
  # both ways in turn.
  json <- lapply(batches, function(ids) doodles::read_doodles(con, ids)$drawing)
  doodles::doodle_batch(con, batches[[1]], scale = 0.5, threads = threads)
  timed <- function(expr) 1000 * system.time(expr)[["elapsed"]]
  both <- vapply(seq_along(batches), function(i) {
    c(timed(doodles::doodle_batch(con, batches[[i]], scale = 0.5, threads = threads)),
      timed(doodles::draw_doodles(json[[i]], scale = 0.5, threads = threads)))
  }, double(2))
  index_ms <- both[1, ]
  json_ms <- both[2, ]
  DBI::dbDisconnect(con)
  list(index_ms = stats::median(index_ms), json_ms = stats::median(json_ms))
}, db, threads)
cat(sprintf("median batch of 1024 at scale 0.5 (R array): %.1f ms from the index's records; %.1f ms by draw_doodles() from the same drawings' JSON (threads = %d)\n",
            steady$index_ms, steady$json_ms, threads))
