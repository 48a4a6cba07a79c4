# A load that runs out of disk: a real small file system (a tmpfs, when root may mount one) or,
# else, a file size limit (ulimit -f) on the loading process. The load stops with a classed error,
# and the database opens afterwards with every committed file intact and resumes.

# A folder of `copies` renamed copies of the sample's CSV files (so that the load is big enough).
sample_copies <- function(copies, env = parent.frame()) {
  unzipped <- withr::local_tempdir(.local_envir = env)
  utils::unzip(sample_zip(), exdir = unzipped)
  files <- list.files(unzipped, pattern = "\\.csv$", full.names = TRUE, recursive = TRUE)
  input <- withr::local_tempdir(.local_envir = env)
  for (k in seq_len(copies)) {
    stopifnot(file.copy(files, file.path(input, sub("\\.csv$", sprintf("-%d.csv", k), basename(files)))))
  }
  input
}

# A folder on a tmpfs of `megabytes`, with a function that makes it larger; NULL without root.
local_tmpfs <- function(megabytes, env = parent.frame()) {
  dir <- withr::local_tempdir(.local_envir = env)
  if (!identical(unname(Sys.info()[["effective_user"]]), "root")) return(NULL)
  mount <- function(...) system2("mount", c(...), stdout = FALSE, stderr = FALSE) == 0
  if (!mount("-t", "tmpfs", "-o", sprintf("size=%dm", megabytes), "tmpfs", dir)) return(NULL)
  withr::defer(system2("umount", c("-l", dir)), envir = env)
  list(dir = dir, grow = function(to) stopifnot(mount("-o", sprintf("remount,size=%dm", to), dir)))
}

test_that("a full disk stops a load with doodles_error_disk_full; committed files stay and the load resumes", {
  skip_on_os("windows")
  input <- sample_copies(4)
  fs <- local_tmpfs(3)
  # Without a tmpfs, the loading process may write no file larger than 3 MB: the same failure
  # (EFBIG instead of ENOSPC), with SIGXFSZ ignored so that the write fails instead of the process.
  limit <- if (is.null(fs)) "trap '' XFSZ; ulimit -f 3072;" else ""
  dir <- if (is.null(fs)) withr::local_tempdir() else fs$dir
  db <- file.path(dir, "store.duckdb")

  script <- withr::local_tempfile(fileext = ".R")
  writeLines(c(
    "args <- commandArgs(TRUE)",
    "options(doodles.load_transaction_rows = 1000)",
    "con <- DBI::dbConnect(doodles::doodles_duckdb(), dbdir = args[1])",
    "e <- tryCatch({doodles::load_doodles(con, args[2], progress = FALSE); NULL}, error = identity)",
    "saveRDS(list(class = class(e), message = conditionMessage(e), file = e$file), args[3])",
    # Closing checkpoints, which the full disk refuses too: the files must survive that as well.
    "try(DBI::dbDisconnect(con))"
  ), script)
  outcome <- withr::local_tempfile(fileext = ".rds")
  rscript <- file.path(R.home("bin"), "Rscript")
  run <- processx::run("sh", c("-c", paste(limit, "exec \"$0\" --vanilla \"$@\""), rscript, script, db, input, outcome),
                       env = c("current", R_LIBS = paste(.libPaths(), collapse = .Platform$path.sep)),
                       error_on_status = FALSE)
  expect_true(file.exists(outcome), info = run$stderr)
  failed <- readRDS(outcome)
  expect_identical(failed$class[1:2], c("doodles_error_disk_full", "doodles_error"))
  expect_match(failed$message, "the disk of the database is full", fixed = TRUE)
  expect_match(failed$message, if (is.null(fs)) "File too large" else "No space left on device", fixed = TRUE)
  expect_identical(dirname(failed$file), normalizePath(input))
  expect_match(failed$message, basename(failed$file), fixed = TRUE)

  if (!is.null(fs)) fs$grow(64)
  con <- local_store(db)
  log <- DBI::dbGetQuery(con, "SELECT file_name, rows, first_id FROM upload_log ORDER BY first_id")
  files <- list.files(input, pattern = "\\.csv$")
  # Some files were committed before the disk filled, and not the one it filled on.
  expect_gt(nrow(log), 0)
  expect_lt(nrow(log), length(files))
  expect_false(basename(failed$file) %in% log$file_name)
  # Every committed file is there whole, in its ids (one file after the other), and nothing else.
  rows <- DBI::dbGetQuery(con, "SELECT id, key_id::VARCHAR AS key_id FROM doodles ORDER BY id")
  expect_identical(rows$id, seq_len(nrow(rows)))
  expect_identical(log$first_id, as.integer(cumsum(c(1, log$rows[-nrow(log)]))))
  key_ids <- function(file) utils::read.csv(file.path(input, file), colClasses = "character")$key_id
  expect_identical(rows$key_id, unlist(lapply(log$file_name, key_ids), use.names = FALSE))

  # Run again with space, the load skips the committed files and loads the others, once.
  out <- load_doodles(con, input, progress = FALSE)
  expect_identical(out$status == "skipped", basename(out$file) %in% log$file_name)
  all_keys <- unlist(lapply(sort(files, method = "radix"), key_ids), use.names = FALSE)
  loaded <- DBI::dbGetQuery(con, "SELECT key_id::VARCHAR AS key_id FROM doodles")$key_id
  expect_identical(sort(loaded, method = "radix"), sort(all_keys, method = "radix"))
  expect_identical(DBI::dbGetQuery(con, "SELECT max(id) AS top FROM doodles")$top, length(all_keys))
})
