# Random batches of 32, 256 and 1024 rows at 1M and 10M rows (by default): the store's stroke
# index (read_doodles(): ids to drawings and labels) next to DuckDB's plain
# `SELECT drawing, label_int FROM doodles WHERE id IN (...)` and SQLite (RSQLite, INTEGER PRIMARY
# KEY) on the same data in the same run; plus the full doodle_batch() (lookup and rendering at
# scale 0.5) for reference. Medians of repeated runs with fresh random ids.
#
# Usage: Rscript inst/bench/bench-batches.R [sizes, comma separated] [workdir]
# Goal (issue 3): 1024 random rows in under 10 ms at both sizes, and faster than SQLite.
args <- commandArgs(trailingOnly = TRUE)
sizes <- if (length(args) >= 1) as.numeric(strsplit(args[1], ",")[[1]]) else c(1e6, 1e7)
workdir <- if (length(args) >= 2) args[2] else file.path(tempdir(), "bench-batches")
dir.create(workdir, showWarnings = FALSE, recursive = TRUE)
batch_sizes <- c(32, 256, 1024)
repeats <- 30

median_ms <- function(f, size, n) {
  times <- vapply(seq_len(repeats), function(i) {
    ids <- sample.int(n, size)
    system.time(f(ids))[["elapsed"]]
  }, double(1))
  # system.time has 1 ms resolution; repeat fast calls to measure them.
  if (stats::median(times) < 0.02) {
    times <- vapply(seq_len(repeats), function(i) {
      ids <- lapply(1:20, function(j) sample.int(n, size))
      system.time(for (x in ids) f(x))[["elapsed"]] / 20
    }, double(1))
  }
  1000 * stats::median(times)
}

for (n in sizes) {
  dir <- file.path(workdir, format(n, scientific = FALSE))
  dir.create(dir, showWarnings = FALSE)
  db <- file.path(dir, "bench.duckdb")
  con <- DBI::dbConnect(doodles::doodles_duckdb(), dbdir = db)
  have <- if (DBI::dbExistsTable(con, "doodles")) DBI::dbGetQuery(con, "SELECT count(*) AS n FROM doodles")$n else 0
  if (have != n) {
    DBI::dbDisconnect(con)
    unlink(c(db, paste0(db, ".wal"), paste0(db, ".strokes")))
    made <- system.time(files <- doodles::make_synthetic_doodles(dir, n = n, classes = 340, n_test = 0, seed = 2))
    con <- DBI::dbConnect(doodles::doodles_duckdb(), dbdir = db)
    loaded <- system.time(doodles::load_doodles(con, files$train, progress = FALSE))
    cat(sprintf("%s rows: synthetic zip %.0f s, load %.0f s\n", format(n, big.mark = ","), made[["elapsed"]], loaded[["elapsed"]]))
  }
  indexed <- system.time(doodles::index_doodles(con))
  cat(sprintf("%s rows: stroke index ready (built or checked) in %.1f s\n", format(n, big.mark = ","), indexed[["elapsed"]]))

  sqlite_file <- file.path(dir, "bench.sqlite")
  sqlite <- DBI::dbConnect(RSQLite::SQLite(), sqlite_file)
  if (!DBI::dbExistsTable(sqlite, "doodles") || DBI::dbGetQuery(sqlite, "SELECT count(*) AS n FROM doodles")$n != n) {
    copied <- system.time({
      DBI::dbExecute(sqlite, "DROP TABLE IF EXISTS doodles")
      DBI::dbExecute(sqlite, "CREATE TABLE doodles (id INTEGER PRIMARY KEY, drawing TEXT, label_int INTEGER)")
      chunk <- 250000
      for (start in seq(1, n, by = chunk)) {
        rows <- DBI::dbGetQuery(con, "SELECT id, drawing, label_int FROM doodles WHERE id BETWEEN ? AND ?",
                                params = list(start, min(n, start + chunk - 1)))
        DBI::dbAppendTable(sqlite, "doodles", rows)
      }
    })
    cat(sprintf("%s rows: copied to SQLite in %.0f s\n", format(n, big.mark = ","), copied[["elapsed"]]))
  }

  in_list <- function(ids) paste(ids, collapse = ",")
  methods <- list(
    "doodles index (read_doodles)" = function(ids) doodles::read_doodles(con, ids),
    "DuckDB WHERE id IN" = function(ids) {
      DBI::dbGetQuery(con, paste0("SELECT drawing, label_int FROM doodles WHERE id IN (", in_list(ids), ")"))
    },
    "SQLite INTEGER PRIMARY KEY IN" = function(ids) {
      DBI::dbGetQuery(sqlite, paste0("SELECT drawing, label_int FROM doodles WHERE id IN (", in_list(ids), ")"))
    },
    "doodle_batch (lookup + render at scale 0.5)" = function(ids) doodles::doodle_batch(con, ids, scale = 0.5)
  )
  for (size in batch_sizes) {
    for (method in names(methods)) {
      ms <- median_ms(methods[[method]], size, n)
      cat(sprintf("rows %-11s batch %5d  %-44s median %9.2f ms\n", format(n, big.mark = ","), size, method, ms))
    }
  }
  DBI::dbDisconnect(sqlite)
  DBI::dbDisconnect(con)
}
