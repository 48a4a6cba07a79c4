# A load killed with SIGKILL at any moment, then started again, ends with every row exactly once.

# Two of the 10,000-row files per transaction: commits land in the middle of the load.
loader <- function(db, zip) {
  options(doodles.load_transaction_rows = 20000)
  con <- DBI::dbConnect(doodles::doodles_duckdb(), dbdir = db)
  cat("loading\n")
  doodles::load_doodles(con, zip, progress = FALSE, threads = 1)
  cat("done\n")
}

# Only whole files: the rows present are exactly those of the files in upload_log.
expect_whole_files <- function(db) {
  con <- local_store(db)
  if (!DBI::dbExistsTable(con, "upload_log")) {
    # Killed before the tables were created: nothing loaded.
    expect_false(DBI::dbExistsTable(con, "doodles"))
    DBI::dbDisconnect(con)
    return(0)
  }
  log <- DBI::dbGetQuery(con, "SELECT coalesce(sum(rows), 0) AS rows, count(*) AS files FROM upload_log")
  counts <- DBI::dbGetQuery(con, "SELECT count(*) AS n, count(DISTINCT key_id) AS keys FROM doodles")
  expect_identical(counts$n, counts$keys)
  expect_equal(counts$n, log$rows)
  DBI::dbDisconnect(con)
  log$files
}

test_that("kill -9 during a load, then resume: every row exactly once", {
  skip_if_not_installed("callr")
  dir <- withr::local_tempdir()
  files <- make_synthetic_doodles(dir, n = 160000, classes = 16, n_test = 0, seed = 7)
  db <- file.path(dir, "store.duckdb")
  wal <- paste0(db, ".wal")

  # Each load is killed once its progress shows in the write-ahead log, where DuckDB writes each
  # transaction as it commits (never truncated during a load: its ~40 MB stay below the checkpoint
  # threshold): once the log has grown 6 MB since the load started, past two transactions of
  # 2.6 MB, those are committed whole, and the load is on to later files. The first kill lands in
  # the first load, the second in the resumed one.
  wal_size <- function() if (file.exists(wal)) file.size(wal) else 0
  partial <- integer()
  for (round in 1:2) {
    child <- callr::r_bg(loader, args = list(db, files$train), stdout = "|", stderr = "|")
    child$poll_io(30000)
    expect_match(child$read_output_lines()[1], "loading")
    # DuckDB may fold the log left by the first kill into the database when the resumed load
    # opens it: growth is counted from the smallest size seen.
    start <- wal_size()
    deadline <- Sys.time() + 60
    repeat {
      start <- min(start, wal_size())
      if (wal_size() > start + 6 * 1024^2 || !child$is_alive()) break
      if (Sys.time() > deadline) stop("the loader's write-ahead log did not grow 6 MB within 60 s")
      Sys.sleep(0.005)
    }
    expect_true(child$is_alive(), label = sprintf("the loader of round %d still loading when killed", round))
    child$kill()
    child$wait()
    files_done <- expect_whole_files(db)
    partial <- c(partial, files_done)
  }

  # Each kill landed in the middle of a load: the first with some files loaded and some not, the
  # second with more loaded.
  label <- paste("files loaded at the kills:", toString(partial))
  expect_true(partial[1] > 0 && partial[2] > partial[1] && partial[2] < 16, label = label)
  con <- local_store(db)
  outcome <- load_doodles(con, files$train, progress = FALSE)
  expect_identical(sum(outcome$status == "skipped") + sum(outcome$status == "loaded"), 16L)
  got <- DBI::dbGetQuery(con, "SELECT drawing, key_id, id FROM doodles")
  expect_identical(nrow(got), 160000L)
  expect_identical(length(unique(got$key_id)), 160000L)
  expect_identical(sort(got$id), 1:160000)
  source <- do.call(rbind, read_zip_csvs(files$train))
  expect_identical(md5_of_lines(got$drawing), md5_of_lines(source$drawing))
})
