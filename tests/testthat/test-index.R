# The stroke index's binary records and its checks when a process opens it: every drawing of the
# real sample renders from the index exactly as from its JSON, drawings bytes cannot hold are
# kept as text, and a file that does not match the database is rebuilt, never served.

# Every drawing of the real sample (training and test files) as the rows of one `doodles` table.
local_sample_drawings_store <- function(dbdir = ":memory:", drawings = sample_drawings(), env = parent.frame()) {
  con <- local_store(dbdir, env = env)
  DBI::dbWriteTable(con, "doodles", data.frame(
    id = seq_along(drawings), label_int = seq_along(drawings) %% 7L, word = paste0("w", seq_along(drawings) %% 7L),
    drawing = drawings,
    stringsAsFactors = FALSE
  ))
  con
}

sample_drawings <- function() {
  train <- unlist(lapply(read_zip_csvs(sample_zip()), `[[`, "drawing"), use.names = FALSE)
  test <- utils::read.csv(sample_test_csv(), colClasses = "character")$drawing
  c(train, test)
}

# Runs `sql` on the database file `db` in another R process, which then ends without drawing a
# batch.
execute_in_another_process <- function(db, sql) {
  callr::r(function(db, sql) {
    con <- DBI::dbConnect(doodles::doodles_duckdb(), dbdir = db)
    DBI::dbExecute(con, sql)
    DBI::dbDisconnect(con)
  }, args = list(db, sql))
}

# A database file in `dir` loaded with the sample (its index built), closed again.
sample_store_file <- function(dir) {
  db <- file.path(dir, "store.duckdb")
  con <- DBI::dbConnect(doodles_duckdb(), dbdir = db)
  load_doodles(con, sample_zip(), progress = FALSE)
  index_doodles(con)
  DBI::dbDisconnect(con)
  db
}

local_store_read_only <- function(db, env = parent.frame()) {
  con <- DBI::dbConnect(doodles_duckdb(), dbdir = db, read_only = TRUE)
  withr::defer(if (DBI::dbIsValid(con)) DBI::dbDisconnect(con), envir = env)
  con
}

# The inode of a file: a new one means the file was written anew.
inode_of <- function(path) system2("stat", c("-c", "%i", shQuote(path)), stdout = TRUE)

test_that("every drawing of the real sample renders from the index as from its JSON, in every encoding", {
  drawings <- sample_drawings()
  expect_gt(length(drawings), 3000)
  con <- local_sample_drawings_store(drawings = drawings)
  info <- index_doodles(con)
  # The dataset's drawings are all held as bytes: a byte per coordinate, no JSON parsed per batch.
  expect_identical(info$compact_rows, as.double(length(drawings)))
  expect_lt(info$bytes, sum(nchar(drawings, type = "bytes")) / 3)
  ids <- seq_along(drawings)
  expect_identical(read_doodles(con, ids)$drawing, drawings)
  for (encoding in c("gray", "hue", "order", "point", "stack")) {
    from_index <- doodle_batch(con, ids, scale = 0.25, encoding = encoding)$x
    expect_identical(from_index, draw_doodles(drawings, scale = 0.25, encoding = encoding), label = encoding)
  }
  nhwc <- doodle_batch(con, ids[1:64], scale = 0.5, antialias = TRUE, format = "uint8")$x
  expect_identical(as.array(nhwc), as.array(draw_doodles(drawings[1:64], scale = 0.5, antialias = TRUE,
                                                         format = "uint8")))
})

test_that("drawings bytes cannot hold exactly are kept as their text, never drawn differently", {
  held_as_text <- c(
    fraction = "[[[0.5, 10.25], [3, 4]]]",
    beyond_255 = "[[[0, 300], [3, 1024]]]",
    negative = "[[[-4, 10], [3, 4]]]",
    negative_zero = "[[[-0, 10], [3, 4]]]",
    written_as_decimal = "[[[1.0, 10], [3, 4]]]",
    other_spacing = "[[[1,10],[3,4]]]",
    trailing_space = "[[[1, 10], [3, 4]]] "
  )
  drawings <- c(sample_drawings()[1:20], held_as_text)
  con <- local_sample_drawings_store(drawings = unname(drawings))
  info <- index_doodles(con)
  expect_identical(info$compact_rows, 20)
  ids <- seq_along(drawings)
  expect_identical(read_doodles(con, ids)$drawing, unname(drawings))
  expect_identical(doodle_batch(con, ids, scale = 0.5)$x, draw_doodles(unname(drawings), scale = 0.5))
  expect_identical(doodle_batch(con, ids, scale = 1, color = TRUE)$x,
                   draw_doodles(unname(drawings), scale = 1, color = TRUE))
  # Text that is no drawing is kept too, and fails when drawn as draw_doodles() fails.
  DBI::dbExecute(con, "INSERT INTO doodles VALUES (28, 0, 'w0', '[[[1, 2], [3]]]')")
  expect_identical(read_doodles(con, 28)$drawing, "[[[1, 2], [3]]]")
  expect_error(doodle_batch(con, c(1, 28)), "stroke 1: x has 2 values but y has 1", class = "doodles_error_drawing")
})

test_that("a process opening the index checks it quickly and keeps it when it matches", {
  db <- sample_store_file(withr::local_tempdir())
  index <- paste0(db, ".strokes")
  con <- local_store(db)
  expected <- draw_doodles(read_doodles(con, 1:100)$drawing, scale = 0.25)
  DBI::dbDisconnect(con)
  built <- inode_of(index)
  # Reading through another process leaves the file as it is.
  batch <- callr::r(function(db) {
    con <- DBI::dbConnect(doodles::doodles_duckdb(), dbdir = db)
    on.exit(DBI::dbDisconnect(con))
    doodles::doodle_batch(con, 1:100, scale = 0.25)$x
  }, args = list(db))
  expect_identical(batch, expected)
  expect_identical(inode_of(index), built)
  # A statement that may write marks the file out of date on disk (byte 97) before it runs; the
  # next process then checks every row, finds them unchanged, keeps the file and marks it clean.
  dirty_byte <- function() readBin(index, "raw", 128)[97]
  expect_identical(dirty_byte(), as.raw(0))
  execute_in_another_process(db, "CREATE TABLE notes (x INTEGER)")
  expect_identical(dirty_byte(), as.raw(1))
  con <- local_store(db)
  expect_identical(doodle_batch(con, 1:100, scale = 0.25)$x, expected)
  expect_identical(dirty_byte(), as.raw(0))
  expect_identical(inode_of(index), built)
  # rebuild = TRUE writes it anew.
  con <- local_store(db)
  index_doodles(con, rebuild = TRUE)
  expect_false(identical(inode_of(index), built))
  expect_identical(doodle_batch(con, 1:100, scale = 0.25)$x, expected)
  expect_error(index_doodles(con, rebuild = NA), class = "doodles_error_argument")
  DBI::dbDisconnect(con)
  # A read-only connection checks the index too (it cannot assign labels or ids).
  reader <- local_store_read_only(db)
  expect_identical(index_doodles(reader)$rows, 3000)
})

test_that("a truncated file, another database's file and a change made through the package are caught", {
  dir <- withr::local_tempdir()
  db <- sample_store_file(dir)
  index <- paste0(db, ".strokes")
  con <- local_store(db)
  original <- read_doodles(con, 1:3000)
  DBI::dbDisconnect(con)

  # Truncated: the file is shorter than its header says.
  size <- file.size(index)
  bytes <- readBin(index, "raw", size)
  writeBin(bytes[seq_len(size - 4096)], index)
  con <- local_store(db)
  expect_identical(read_doodles(con, 1:3000), original)
  expect_identical(file.size(index), size)
  DBI::dbDisconnect(con)

  # One byte of the last drawing damaged: its block's checksum fails.
  bytes <- readBin(index, "raw", size)
  last_record <- size - 4L - 100L
  bytes[last_record] <- xor(bytes[last_record], as.raw(0x01))
  writeBin(bytes, index)
  con <- local_store(db)
  expect_identical(read_doodles(con, 1:3000), original)
  DBI::dbDisconnect(con)

  # Another database's file, with the same rows from the same zip but another load.
  other_db <- file.path(dir, "other.duckdb")
  other <- local_store(other_db)
  load_doodles(other, sample_zip(), progress = FALSE)
  DBI::dbExecute(other, "UPDATE doodles SET drawing = '[[[9], [9]]]' WHERE id = 7")
  index_doodles(other)
  DBI::dbDisconnect(other)
  file.copy(paste0(other_db, ".strokes"), index, overwrite = TRUE)
  con <- local_store(db)
  expect_identical(read_doodles(con, 7)$drawing, original$drawing[7])
  DBI::dbDisconnect(con)

  # A change made through the package by a process that ends without drawing a batch: it marked
  # the file, so the next process checks every row. (One row of 3000: a sample would miss it.)
  execute_in_another_process(db, "UPDATE doodles SET drawing = '[[[1, 2], [3, 4]]]' WHERE id = 1234")
  con <- local_store(db)
  changed <- original
  changed$drawing[1234] <- "[[[1, 2], [3, 4]]]"
  expect_identical(read_doodles(con, 1:3000), changed)
  expect_identical(doodle_batch(con, 1234, scale = 0.25)$x, draw_doodles("[[[1, 2], [3, 4]]]", scale = 0.25))
  DBI::dbDisconnect(con)
  # Once checked, the file is marked clean again: the next process keeps it.
  checked <- inode_of(index)
  con <- local_store(db)
  expect_identical(read_doodles(con, 1234)$drawing, changed$drawing[1234])
  expect_identical(inode_of(index), checked)
})

test_that("an index that can be neither read nor rebuilt is doodles_error_index, from every caller", {
  dir <- withr::local_tempdir()
  db <- file.path(dir, "store.duckdb")
  con <- local_store(db)
  load_doodles(con, sample_zip(), progress = FALSE)
  # A folder where the index file goes: it cannot be opened, and the rebuilt file cannot take its
  # place.
  index <- paste0(db, ".strokes")
  unlink(index)
  dir.create(index)
  writeLines("not an index", file.path(index, "x"))
  for (call in list(quote(index_doodles(con)), quote(database_fingerprint(con)))) {
    err <- expect_error(eval(call), class = "doodles_error_index")
    expect_match(conditionMessage(err), "cannot write the stroke index", fixed = TRUE)
    expect_false(inherits(err, "doodles_error_internal"))
  }
  # Ids that are not dense: the index cannot be built from the table.
  unlink(index, recursive = TRUE)
  DBI::dbExecute(con, "UPDATE doodles SET id = 5000 WHERE id = 5")
  err <- expect_error(database_fingerprint(con), class = "doodles_error_index")
  expect_match(conditionMessage(err), "not dense", fixed = TRUE)
})
