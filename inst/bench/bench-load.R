# Loading speed and peak memory: a synthetic Kaggle zip of N rows (default 2,000,000 in 340
# classes) loaded into a fresh database file by a fresh R process, whose peak resident memory
# (VmHWM) is read from /proc at the end; then DuckDB's own CSV reader on the same rows unzipped,
# what DuckDB itself reaches on this machine, side by side.
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

# The ceiling on this machine: DuckDB's own CSV reader inserting the same rows, already unzipped,
# into the same table (no inflate, no row checks, no ids or labels), in a fresh process with the
# load's threads and checkpoint threshold. Its memory limit is 256MB: with the load's 96MB its
# parallel CSV reader runs out of memory. The table is created as src/rust/store/src/load/schema.rs
# creates it (DuckDB's own DDL of a loaded table leaves out the drawing's named compression).
csv <- file.path(workdir, "csv")
unlink(csv, recursive = TRUE)
utils::unzip(zip, exdir = csv)
ceiling_db <- file.path(workdir, "ceiling.duckdb")
unlink(c(ceiling_db, paste0(ceiling_db, ".wal")))
ceiling <- callr::r(function(db, csv, threads) {
  con <- DBI::dbConnect(doodles::doodles_duckdb(), dbdir = db)
  for (setting in c(sprintf("threads = %d", threads), "preserve_insertion_order = false",
                    "memory_limit = '256MB'", "checkpoint_threshold = '128MB'")) {
    DBI::dbExecute(con, paste("SET", setting))
  }
  DBI::dbExecute(con, "CREATE TABLE doodles (countrycode VARCHAR, drawing VARCHAR NOT NULL USING COMPRESSION fsst,
    key_id BIGINT, recognized BOOLEAN, timestamp TIMESTAMP, word VARCHAR NOT NULL, label_int INTEGER, id INTEGER)")
  seconds <- system.time(DBI::dbExecute(con, sprintf(
    "INSERT INTO doodles (countrycode, drawing, key_id, recognized, timestamp, word)
     SELECT * FROM read_csv('%s/*.csv', header = true, columns = {'countrycode': 'VARCHAR',
       'drawing': 'VARCHAR', 'key_id': 'BIGINT', 'recognized': 'BOOLEAN', 'timestamp': 'TIMESTAMP',
       'word': 'VARCHAR'})", csv)))[["elapsed"]]
  rows <- DBI::dbGetQuery(con, "SELECT count(*) AS n FROM doodles")$n
  DBI::dbDisconnect(con)
  list(seconds = seconds, rows = rows)
}, args = list(ceiling_db, csv, threads))
cat(sprintf("DuckDB's read_csv() of the same rows unzipped, into the same table: %.1f s, %s rows/s (%.0f%% of that is the load's)\n",
            ceiling$seconds, format(round(ceiling$rows / ceiling$seconds), big.mark = ","),
            100 * (result$rows / result$seconds) / (ceiling$rows / ceiling$seconds)))
unlink(c(csv, ceiling_db, paste0(ceiling_db, ".wal")), recursive = TRUE)
