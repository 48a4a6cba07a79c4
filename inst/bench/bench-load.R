# Loading speed and peak memory: a synthetic Kaggle zip of N rows (default 2,000,000 in 340
# classes) loaded into a fresh database file by a fresh R process, whose peak resident memory
# (VmHWM) is read from /proc at the end.
#
# Usage: Rscript inst/bench/bench-load.R [rows] [workdir]
# Goal (issue 3): >= 200k rows/s on 2 cores, peak memory < 500 MB whatever the size.
args <- commandArgs(trailingOnly = TRUE)
rows <- if (length(args) >= 1) as.numeric(args[1]) else 2e6
workdir <- if (length(args) >= 2) args[2] else file.path(tempdir(), "bench-load")
dir.create(workdir, showWarnings = FALSE, recursive = TRUE)
threads <- doodles::doodles_threads()

zip <- file.path(workdir, "train_simplified.zip")
made <- system.time(doodles::make_synthetic_doodles(workdir, n = rows, classes = 340, n_test = 0, seed = 1))
cat(sprintf("synthetic zip: %s rows, %.0f MB, written in %.1f s\n",
            format(rows, big.mark = ","), file.size(zip) / 2^20, made[["elapsed"]]))

db <- file.path(workdir, "bench.duckdb")
unlink(c(db, paste0(db, ".wal"), paste0(db, ".strokes")))
result <- callr::r(function(db, zip, threads) {
  memory <- function(field) {
    status <- readLines("/proc/self/status")
    as.numeric(gsub("[^0-9]", "", grep(paste0("^", field, ":"), status, value = TRUE))) / 1024
  }
  con <- DBI::dbConnect(doodles::doodles_duckdb(), dbdir = db)
  baseline <- memory("VmRSS")
  files <- system.time(doodles::load_doodles(con, zip, progress = FALSE, threads = threads))
  loaded <- DBI::dbGetQuery(con, "SELECT count(*) AS n FROM doodles")$n
  DBI::dbDisconnect(con)
  list(seconds = files[["elapsed"]], cpu = files[["user.self"]] + files[["sys.self"]], rows = loaded,
       baseline_mb = baseline, peak_mb = memory("VmHWM"), load = readLines("/proc/loadavg"))
}, args = list(db, zip, threads))

cat(sprintf("loaded %s rows in %.1f s: %s rows/s (threads = %d)\n", format(result$rows, big.mark = ","),
            result$seconds, format(round(result$rows / result$seconds), big.mark = ","), threads))
cat(sprintf("CPU time of the loading process (all its threads): %.1f s, %s rows per CPU second; load average during the run: %s\n",
            result$cpu, format(round(result$rows / result$cpu), big.mark = ","), result$load))
cat(sprintf("peak resident memory of the loading R process: %.0f MB (%.0f MB after connecting)\n",
            result$peak_mb, result$baseline_mb))
cat(sprintf("database file: %.0f MB\n", file.size(db) / 2^20))
