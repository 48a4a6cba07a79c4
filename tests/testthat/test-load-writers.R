# Two processes and one database file: DuckDB lets one process write at a time, so a second
# loader stops at once (or waits, with a timeout) before it writes anything; readers share.

skip_if_not_installed("callr")

# Waits until `path` exists, failing (rather than hanging) if `process` died first or `seconds`
# passed.
wait_for_file <- function(path, process, seconds = 60) {
  deadline <- Sys.time() + seconds
  while (!file.exists(path)) {
    if (!process$is_alive()) {
      stop("the child process ended before writing ", basename(path), ": ", process$read_all_error())
    }
    if (Sys.time() > deadline) {
      stop(sprintf("the child process did not write %s within %d s", basename(path), seconds))
    }
    Sys.sleep(0.02)
  }
}

# A child process that opens `db`, signals "open", loads `zip` into it (or, without one, counts
# its rows), signals "done", and keeps the connection until the file "release" exists; its result
# is the load's statuses (or the count). Returned once the file is open; killed with `env`.
holder <- function(dir, db, zip = NULL, read_only = FALSE, env = parent.frame()) {
  process <- callr::r_bg(function(dir, db, zip, read_only) {
    con <- DBI::dbConnect(doodles::doodles_duckdb(), dbdir = db, read_only = read_only)
    file.create(file.path(dir, "open"))
    out <- if (is.null(zip)) {
      DBI::dbGetQuery(con, "SELECT count(*) AS n FROM doodles")$n
    } else {
      doodles::load_doodles(con, zip, progress = FALSE)$status
    }
    file.create(file.path(dir, "done"))
    while (!file.exists(file.path(dir, "release"))) Sys.sleep(0.02)
    DBI::dbDisconnect(con)
    out
  }, list(dir = dir, db = db, zip = zip, read_only = read_only), supervise = TRUE)
  withr::defer(if (process$is_alive()) process$kill(), envir = env)
  wait_for_file(file.path(dir, "open"), process)
  process
}

# In a child process: connects to `db` (creating the file `signal` just before) and loads `zip`
# unless read-only; the load's statuses and the table's rows, or the error's class and message.
connect_and_load <- function(db, zip, read_only = FALSE, timeout = 0, signal = NULL) {
  if (!is.null(signal)) file.create(signal)
  tryCatch({
    con <- DBI::dbConnect(doodles::doodles_duckdb(), dbdir = db, read_only = read_only, timeout = timeout)
    on.exit(DBI::dbDisconnect(con))
    out <- if (!read_only) doodles::load_doodles(con, zip, progress = FALSE)
    list(status = out$status, rows = DBI::dbGetQuery(con, "SELECT count(*) AS n FROM doodles")$n)
  }, error = function(e) list(class = class(e), message = conditionMessage(e)))
}

try_in_child <- function(db, zip, read_only = FALSE) {
  callr::r(connect_and_load, list(db = db, zip = zip, read_only = read_only))
}

test_that("a second process loading into the same file stops at once with doodles_error_locked", {
  dir <- withr::local_tempdir()
  db <- file.path(dir, "store.duckdb")
  zip <- sample_zip()
  first <- holder(dir, db, zip)

  # While the first process holds the file (loading or done), a writer and a reader are refused.
  second <- try_in_child(db, zip)
  expect_true(all(c("doodles_error_locked", "doodles_error") %in% second$class))
  expect_match(second$message, "store.duckdb is in use by another process", fixed = TRUE)
  reader <- try_in_child(db, zip, read_only = TRUE)
  expect_true("doodles_error_locked" %in% reader$class)

  wait_for_file(file.path(dir, "done"), first)
  file.create(file.path(dir, "release"))
  first$wait()
  expect_identical(unique(first$get_result()), "loaded")

  # Run again once the file is free, the second load skips every file: nothing doubled.
  again <- try_in_child(db, zip)
  expect_identical(unique(again$status), "skipped")
  expect_identical(again$rows, 3000)
  con <- local_store(db)
  # Every row of the zip exactly once.
  keys <- unlist(lapply(read_zip_csvs(zip), `[[`, "key_id"), use.names = FALSE)
  loaded <- DBI::dbGetQuery(con, "SELECT key_id::VARCHAR AS key_id FROM doodles")$key_id
  expect_identical(sort(loaded, method = "radix"), sort(keys, method = "radix"))
  expect_identical(DBI::dbGetQuery(con, "SELECT max(id) AS top FROM doodles")$top, 3000L)
  expect_identical(DBI::dbGetQuery(con, "SELECT count(*) AS n FROM upload_log")$n, 345)
})

test_that("with a timeout the second loader waits for the first and then loads nothing twice", {
  dir <- withr::local_tempdir()
  db <- file.path(dir, "store.duckdb")
  zip <- sample_zip()
  first <- holder(dir, db, zip)
  # The first process lets the file go only once the second is about to wait for it.
  waiting <- file.path(dir, "waiting")
  second <- callr::r_bg(connect_and_load, list(db = db, zip = zip, timeout = 600, signal = waiting), supervise = TRUE)
  withr::defer(if (second$is_alive()) second$kill())
  wait_for_file(waiting, second)
  file.create(file.path(dir, "release"))
  first$wait()
  second$wait()
  expect_identical(unique(first$get_result()), "loaded")
  waited <- second$get_result()
  expect_null(waited$class)
  expect_identical(unique(waited$status), "skipped")
  expect_identical(waited$rows, 3000)

  # A timeout that passes is the same error, saying how long it waited.
  unlink(file.path(dir, c("open", "done", "release")))
  third <- holder(dir, db)
  expect_error(DBI::dbConnect(doodles_duckdb(), dbdir = db, timeout = 0.3), "waited 0.3 s", class = "doodles_error_locked")
  file.create(file.path(dir, "release"))
  third$wait()
  expect_error(DBI::dbConnect(doodles_duckdb(), dbdir = db, timeout = -1), class = "doodles_error_argument")
})

test_that("readers with read_only = TRUE share the file while nothing writes", {
  dir <- withr::local_tempdir()
  db <- file.path(dir, "store.duckdb")
  con <- local_store(db)
  load_doodles(con, sample_zip(), progress = FALSE)
  DBI::dbDisconnect(con)

  count <- function(con) DBI::dbGetQuery(con, "SELECT count(*) AS n FROM doodles")$n
  first <- holder(dir, db, read_only = TRUE)
  wait_for_file(file.path(dir, "done"), first)
  here <- DBI::dbConnect(doodles_duckdb(), dbdir = db, read_only = TRUE)
  withr::defer(DBI::dbDisconnect(here))
  expect_identical(count(here), 3000)
  expect_identical(try_in_child(db, NULL, read_only = TRUE)$rows, 3000)
  # A writer is refused while they read.
  expect_true("doodles_error_locked" %in% try_in_child(db, sample_zip())$class)
  file.create(file.path(dir, "release"))
  first$wait()
  expect_identical(first$get_result(), 3000)
})
