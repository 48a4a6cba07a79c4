# Loading the Kaggle files into the store, one file (and one transaction) at a time, so that a
# load can be stopped at any moment and started again.

#' Load Quick, Draw! drawings into the store
#'
#' `load_doodles()` loads the training drawings: Kaggle's `train_simplified.zip` (read in place,
#' never unpacked), a folder of its per-class CSV files, or the dataset's simplified `.ndjson`
#' files (a folder or one file), into the table `doodles(countrycode, drawing, key_id,
#' recognized, timestamp, word, label_int, id)`. `load_test()` loads `test_simplified.csv` into
#' `test(key_id, countrycode, drawing, id)`.
#'
#' Each file is loaded in the same transaction as its entry in `upload_log` (file name, rows,
#' rejected rows, size, CRC-32), so an interrupted load (even `kill -9`) started again skips the
#' files already loaded and ends with every row exactly once. Files share a transaction until it
#' holds `getOption("doodles.load_transaction_rows", 1e6)` rows (DuckDB then writes whole row
#' groups once, straight to the database file, instead of through its write-ahead log); an
#' interrupted load loses at most that many rows of work. A file whose name was loaded before with other contents is an
#' error (class `doodles_error_changed_file`), not skipped.
#'
#' Every row is checked: number of fields, stroke JSON the rasterizer accepts, key_id,
#' recognized, timestamp (`YYYY-MM-DD HH:MM:SS[.ffffff][ UTC]`), UTF-8. With `on_error = "stop"`
#' the first bad row stops the load with an error of class `doodles_error_input` naming the file
#' and line (that file is not loaded at all; the files before it are); with `on_error = "skip"` bad rows go to the table
#' `rejects(target, file_name, line, reason, raw)` and the rest of the file is loaded. A
#' truncated or corrupt zip is an error of class `doodles_error_zip`. A full disk (or a file
#' size limit, `ulimit -f`) is an error of class `doodles_error_disk_full` naming the file being
#' loaded: the files not yet committed are rolled back, the ones committed before stay intact,
#' and the same load run again once there is space skips those and loads the rest. One process
#' at a time can load into a database file (see [doodles_duckdb()]).
#'
#' After the files, `load_doodles()` (re)builds `labels(label_int, word)`: `label_int` is the
#' 0-based rank of `word` in byte order (the order of `sort(words, method = "radix")`: capitals
#' before lower case) and is set in `doodles`. Ids are dense, 1..N, given in load order as rows
#' arrive and never changed by later loads (they are renumbered, keeping their order, only if
#' rows were deleted). Running it again on the same files changes nothing.
#'
#' During the load DuckDB's `threads` is set to half of `threads` (at least 1: checking rows and
#' storing them take about the same CPU) and `preserve_insertion_order` to false (rows are
#' inserted in parallel; ids keep the load order). While loading into a database file, DuckDB's
#' `memory_limit` is lowered to
#' `getOption("doodles.load_memory", "96MB")` (DuckDB then evicts loaded data to disk instead of
#' keeping it all in memory), and its `checkpoint_threshold` is raised to
#' `getOption("doodles.load_checkpoint", "128MB")` (fewer checkpoints, a faster load); all four
#' are restored afterwards.
#'
#' @param con A connection from `DBI::dbConnect(doodles_duckdb(), ...)`.
#' @param path A zip file, a folder, or a `.csv` / `.ndjson` file.
#' @param on_error `"stop"` or `"skip"` (see Details).
#' @param progress Show a progress bar (files, rows, rows/s). By default, option
#'   `doodles.progress`, else environment variable `DOODLES_PROGRESS`, else only in interactive
#'   sessions (see [doodles_options()]).
#' @param threads Threads that check rows in parallel.
#' @return A data frame, invisibly: one row per file with `file`, `status` (`"loaded"` or
#'   `"skipped"`), `rows` and `rejected`.
#' @examples
#' con <- DBI::dbConnect(doodles_duckdb())
#' load_doodles(con, system.file("extdata", "train_simplified.zip", package = "doodles"))
#' DBI::dbGetQuery(con, "SELECT count(*) AS n, count(DISTINCT word) AS words FROM doodles")
#' load_test(con, system.file("extdata", "test_simplified.csv", package = "doodles"))
#' DBI::dbDisconnect(con)
#' @export
load_doodles <- function(con, path, on_error = c("stop", "skip"), progress = doodles_progress(),
                         threads = doodles_threads()) {
  invisible(load_files(con, path, "train", on_error, progress, threads))
}

#' @rdname load_doodles
#' @export
load_test <- function(con, path, on_error = c("stop", "skip"), progress = doodles_progress(),
                      threads = doodles_threads()) {
  invisible(load_files(con, path, "test", on_error, progress, threads))
}

#' Build or check the stroke index
#'
#' Random batches ([doodle_batch()], [read_doodles()]) read drawings from the stroke index, a
#' memory-mapped copy of `doodles(id, label_int, drawing)` kept next to the database file
#' (`<dbdir>.strokes`), so that their cost does not grow with the table and no JSON is parsed per
#' batch: each drawing is stored as one byte per coordinate, or as its text when bytes cannot
#' hold it exactly (coordinates outside 0..255 or fractional, other spacing than the dataset's,
#' text that is not a drawing); `read_doodles()` gives back the table's text byte for byte. It is
#' derived data, checked against the table and rebuilt when it does not match:
#'
#' * **When a process first uses it** (a quick check, milliseconds at 50 million rows): the file's
#'   length and header checksum, the checksums of a few of its 1 MiB blocks, the row count and
#'   largest id of `doodles`, a hash of `upload_log` (which loads made the database), and 32 rows
#'   spread over the ids compared byte for byte with the table. A truncated or damaged file, a
#'   file from another database, or a load made since, is caught here.
#' * **After any statement made through this package that may have written** (anything but
#'   `SELECT`, `SHOW`, `DESCRIBE`, ... on a doodles connection, including `dbExecute()`,
#'   `dbWriteTable()` and the loaders): also the XOR of DuckDB's `hash(id, label_int, drawing)`
#'   over all rows, so that no change to the table through this package is ever served stale.
#'   Such a statement first marks the index file as out of date on disk, so that a session that
#'   ends before the check leaves the full check (and every block's checksum) to the next one.
#'
#' A write by another DuckDB client (the `duckdb` package, the DuckDB command line) does not mark
#' the file: the quick check sees it only if it changes the row count, the largest id,
#' `upload_log` or one of the sampled rows. After such a write, run
#' `index_doodles(con, rebuild = TRUE)`.
#'
#' `index_doodles()` does this now (e.g. after a load, before timing batches), assigning labels
#' and ids first if needed. On a database file it runs within DuckDB's `memory_limit` of
#' `getOption("doodles.index_memory", "160MB")` (restored afterwards).
#'
#' @inheritParams load_doodles
#' @param rebuild If `TRUE`, the index is built anew from the table whatever the checks say.
#' @return A list, invisibly: `rows`, `compact_rows` (rows held as bytes rather than text),
#'   `bytes` (the index's size), `path` (`NULL` for an in-memory database) and `hash` (the XOR
#'   above, 16 hex digits).
#' @export
index_doodles <- function(con, rebuild = FALSE) {
  check_store_connection(con)
  assert_flag(rebuild)
  # Reading the whole table, DuckDB's buffer pool would grow to its default limit (80% of RAM).
  # The build pins more at once than a load: 96MB (the load's limit) ran out of memory at 2M rows.
  if (con@dbdir != ":memory:" && !con@read_only) {
    restore <- set_duckdb_settings(con, c(memory_limit = doodles_option("doodles.index_memory")))
    on.exit(set_duckdb_settings(con, restore), add = TRUE)
  }
  store_finalize(con@ptr, TRUE, rebuild)
  invisible(store_index_info(con@ptr))
}

#' A fingerprint of a database's doodles
#'
#' Two databases with the same fingerprint hold the same doodles (`id`, `label_int` and
#' `drawing` of every row) and the same classes, whichever file or machine they are on: the
#' workers of a multi-worker training check with it that their copies agree (see
#' [check_workers_agree()]). It is the stroke index's own fingerprint ([index_doodles()]: row
#' count and the XOR of DuckDB's `hash(id, label_int, drawing)` over all rows, computed when the
#' index was built and trusted as far as the index's checks go) and a hash of the `labels` table.
#' Works on read-only connections.
#'
#' @inheritParams load_doodles
#' @return A list: `rows`, `hash` (of the doodles, 16 hex digits) and `labels` (a hash of the
#'   `labels` table, or `NA` without one), with a `format()` method giving one line.
#' @export
#' @examples
#' con <- DBI::dbConnect(doodles_duckdb())
#' load_doodles(con, system.file("extdata", "train_simplified.zip", package = "doodles"))
#' format(database_fingerprint(con))
#' DBI::dbDisconnect(con)
database_fingerprint <- function(con) {
  check_store_connection(con)
  if (!DBI::dbExistsTable(con, "doodles")) {
    abort_doodles("The database has no `doodles` table.", kind = "argument")
  }
  index <- store_index_info(con@ptr)
  labels <- if (DBI::dbExistsTable(con, "labels")) {
    rows <- DBI::dbGetQuery(con, "SELECT label_int, word FROM labels ORDER BY label_int")
    rlang::hash(paste(rows$label_int, rows$word, sep = "\t", collapse = "\n"))
  } else {
    NA_character_
  }
  structure(list(rows = index$rows, hash = index$hash, labels = labels),
            class = "doodles_fingerprint")
}

#' @export
format.doodles_fingerprint <- function(x, ...) {
  parts <- fingerprint_parts(x)
  sprintf("%s rows, doodles hash %s, labels hash %s", parts[["rows"]], parts[["doodles hash"]],
          parts[["labels hash"]])
}

# A fingerprint's parts as shown: rows, the drawings' hash, the labels' hash (16 digits each).
fingerprint_parts <- function(x) {
  c(rows = format(x$rows, big.mark = ",", scientific = FALSE), `doodles hash` = x$hash,
    `labels hash` = substr(x$labels, 1, 16))
}

#' @export
print.doodles_fingerprint <- function(x, ...) {
  cat(format(x), "\n", sep = "")
  invisible(x)
}

check_store_connection <- function(con, call = rlang::caller_env()) {
  if (!methods::is(con, "doodles_duckdb_connection")) {
    abort_doodles("con must be a connection from DBI::dbConnect(doodles_duckdb(), ...)", kind = "argument", call = call)
  }
  check_valid(con, call = call)
}

load_files <- function(con, path, target, on_error, progress, threads, call = rlang::caller_env()) {
  # Errors raised here (checks, the Rust calls) are load_doodles()' or load_test()'.
  rlang::local_error_call(call)
  check_store_connection(con, call = call)
  assert_string(path)
  on_error <- arg_choice(on_error, c("stop", "skip"))
  assert_flag(progress)
  threads <- check_threads_arg(threads, call = call)
  if (!file.exists(path)) abort_doodles(sprintf("%s does not exist", path), kind = "argument", call = call)
  path <- normalizePath(path)
  transaction_rows <- doodles_option("doodles.load_transaction_rows")
  sources <- store_loader(path, target, on_error == "skip", threads, transaction_rows)
  store_ensure_schema(con@ptr)
  # Rows reach DuckDB through a table function that its threads read in parallel; DuckDB
  # inserts in parallel only when it need not keep the rows' order (ids are given explicitly).
  # Checking rows and storing them (compression) take about the same CPU: DuckDB gets half the
  # threads. On 2 cores one DuckDB thread was faster than two (1.1 s of 12 for 2M rows) and
  # peaked at 400 MB instead of 760 MB.
  settings <- c(preserve_insertion_order = "false", threads = max(1L, threads %/% 2L))
  # DuckDB's buffer pool would otherwise keep everything loaded in memory (its default limit is
  # 80% of RAM); a file database can evict to disk, so the load runs within a small limit. The
  # pool fills up to it as the table grows: with 256MB a 10M-row load peaked at 471 MB, with
  # 160MB at 379 MB; 2M rows of real drawing sizes peaked at 434 MB with 160MB, 350 MB with 96MB
  # (as fast; 64MB was 20% slower).
  # DuckDB checkpoints whenever its WAL passes checkpoint_threshold (16MB by default), and each
  # checkpoint recompresses the table's last, growing row group; 128MB checkpoints less often.
  if (con@dbdir != ":memory:") {
    settings <- c(settings,
                  memory_limit = doodles_option("doodles.load_memory"),
                  checkpoint_threshold = doodles_option("doodles.load_checkpoint"))
  }
  restore <- set_duckdb_settings(con, settings)
  on.exit(set_duckdb_settings(con, restore), add = TRUE)
  # Commits the files loaded so far when the loop is interrupted between two files.
  on.exit(store_load_finish(con@ptr, sources$handle), add = TRUE, after = FALSE)
  n <- length(sources$name)
  outcome <- data.frame(file = sources$name, status = rep(NA_character_, n), rows = rep(0, n), rejected = rep(0, n))
  rows_done <- 0
  started <- Sys.time()
  rate <- function() rows_done / max(as.double(Sys.time() - started, units = "secs"), 1e-3)
  if (progress && n > 0) {
    bar <- cli::cli_progress_bar(
      "Loading", total = n, clear = FALSE,
      format = "{cli::pb_bar} {cli::pb_current}/{cli::pb_total} files | {format(rows_done, big.mark = ',')} rows | {format(round(rate()), big.mark = ',')} rows/s | {cli::pb_eta}"
    )
  }
  for (i in seq_len(n)) {
    done <- store_load_next(con@ptr, sources$handle)
    outcome$status[i] <- done$status
    outcome$rows[i] <- done$rows
    outcome$rejected[i] <- done$rejected
    if (done$status == "loaded") rows_done <- rows_done + done$rows
    if (progress) cli::cli_progress_update(id = bar)
  }
  if (progress && n > 0) cli::cli_progress_done(id = bar)
  # Labels and ids, within the load's memory limit too: with DuckDB's default (80% of RAM) the
  # UPDATE of label_int over 50M rows peaked at 6.7 GB; with 160MB, 25M rows at 312 MB.
  if (target == "train") {
    store_load_finish(con@ptr, sources$handle)
    store_finalize(con@ptr, FALSE, FALSE)
  }
  outcome
}

# Sets DuckDB settings (a named character vector); returns their values before, to restore them.
set_duckdb_settings <- function(con, settings) {
  sql <- paste0("SELECT ", paste0("current_setting('", names(settings), "')::VARCHAR AS ", names(settings), collapse = ", "))
  before <- unlist(dbGetQuery(con, sql))
  for (name in names(settings)) dbExecute(con, paste0("SET ", name, " = '", settings[[name]], "'"))
  invisible(before)
}
