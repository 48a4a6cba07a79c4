# Bad input: an error naming file and line, or rejected rows with their reason; never half a file.

write_csv_lines <- function(dir, name, rows, header = train_header) {
  path <- file.path(dir, name)
  writeLines(c(header, rows), path, useBytes = TRUE)
  path
}

bad_rows <- list(
  fields = list(row = 'US,"[[[0, 1], [0, 1]]]",3,True,2017-03-01 10:00:00', reason = "expected 6 fields, found 5"),
  json = list(row = 'US,"[[[0, 1], [0, 1]]",3,True,2017-03-01 10:00:00,cat', reason = "invalid drawing"),
  strokes = list(row = 'US,"[[[0, 1, 2], [0, 1]]]",3,True,2017-03-01 10:00:00,cat', reason = "invalid drawing"),
  timestamp = list(row = 'US,"[[[0, 1], [0, 1]]]",3,True,2017-02-30 10:00:00,cat', reason = "invalid timestamp"),
  key_id = list(row = 'US,"[[[0, 1], [0, 1]]]",x3,True,2017-03-01 10:00:00,cat', reason = "invalid key_id"),
  utf8 = list(row = 'US,"[[[0, 1], [0, 1]]]",3,True,2017-03-01 10:00:00,c\xffat', reason = "invalid UTF-8 in field word")
)

for (case in names(bad_rows)) {
  test_that(paste("a bad row stops the load naming file and line:", case), {
    dir <- withr::local_tempdir()
    write_csv_lines(dir, "a-good.csv", c(good_row(1), good_row(2)))
    write_csv_lines(dir, "b-bad.csv", c(good_row(3), bad_rows[[case]]$row, good_row(5)))
    con <- local_store()
    err <- expect_error(load_doodles(con, dir, progress = FALSE), class = "doodles_error_input")
    expect_match(conditionMessage(err), "b-bad.csv, line 3", fixed = TRUE)
    expect_match(conditionMessage(err), bad_rows[[case]]$reason, fixed = TRUE)
    expect_identical(err$line, 3)
    # The good file before it is loaded; nothing of the bad file is.
    expect_identical(DBI::dbGetQuery(con, "SELECT key_id FROM doodles ORDER BY key_id")$key_id, c(1, 2))
    expect_identical(DBI::dbGetQuery(con, "SELECT file_name FROM upload_log")$file_name, "a-good.csv")
  })

  test_that(paste("with on_error = 'skip' a bad row goes to rejects:", case), {
    dir <- withr::local_tempdir()
    write_csv_lines(dir, "b-bad.csv", c(good_row(3), bad_rows[[case]]$row, good_row(5)))
    con <- local_store()
    outcome <- load_doodles(con, dir, on_error = "skip", progress = FALSE)
    expect_identical(outcome$rows, 2)
    expect_identical(outcome$rejected, 1)
    expect_identical(DBI::dbGetQuery(con, "SELECT key_id FROM doodles ORDER BY key_id")$key_id, c(3, 5))
    expect_identical(DBI::dbGetQuery(con, "SELECT id FROM doodles ORDER BY id")$id, 1:2)
    rejects <- DBI::dbGetQuery(con, "SELECT * FROM rejects")
    expect_identical(rejects$file_name, "b-bad.csv")
    expect_identical(rejects$line, 3)
    expect_match(rejects$reason, bad_rows[[case]]$reason, fixed = TRUE)
    log <- DBI::dbGetQuery(con, "SELECT rows, rejected FROM upload_log")
    expect_identical(c(log$rows, log$rejected), c(2, 1))
  })
}

test_that("a wrong header is an error on line 1", {
  dir <- withr::local_tempdir()
  write_csv_lines(dir, "x.csv", good_row(1), header = "countrycode,drawing,key_id")
  con <- local_store()
  expect_error(load_doodles(con, dir, progress = FALSE), "x.csv, line 1: header", class = "doodles_error_input")
})

test_that("a changed file with the same name is an error, not a silent skip", {
  dir <- withr::local_tempdir()
  path <- write_csv_lines(dir, "cat.csv", c(good_row(1), good_row(2)))
  con <- local_store()
  load_doodles(con, dir, progress = FALSE)
  write_csv_lines(dir, "cat.csv", c(good_row(1), good_row(2), good_row(3)))
  err <- expect_error(load_doodles(con, dir, progress = FALSE), class = "doodles_error_changed_file")
  expect_match(conditionMessage(err), "cat.csv")
  expect_identical(DBI::dbGetQuery(con, "SELECT count(*)::INTEGER AS n FROM doodles")$n, 2L)
})

test_that("a truncated zip is an error", {
  zip <- withr::local_tempfile(fileext = ".zip")
  bytes <- readBin(sample_zip(), "raw", file.size(sample_zip()))
  writeBin(bytes[seq_len(length(bytes) %/% 2)], zip)
  con <- local_store()
  expect_error(load_doodles(con, zip, progress = FALSE), "truncated or corrupt", class = "doodles_error_zip")
})

test_that("a corrupt zip entry is an error naming it, and none of it is loaded", {
  dir <- withr::local_tempdir()
  write_csv_lines(dir, "a.csv", vapply(1:2000, good_row, character(1)))
  write_csv_lines(dir, "b.csv", vapply(3001:5000, good_row, character(1), word = "dog"))
  zip <- file.path(dir, "train.zip")
  withr::with_dir(dir, utils::zip(zip, c("a.csv", "b.csv"), flags = "-q9"))
  bytes <- readBin(zip, "raw", file.size(zip))
  # Damage the compressed data in the middle of the second entry (its local header comes after
  # the first entry's data).
  second <- grepRaw("b.csv", bytes, fixed = TRUE)[1]
  end <- grepRaw(as.raw(c(0x50, 0x4b, 0x01, 0x02)), bytes, fixed = TRUE)[1]
  middle <- (second + end) %/% 2
  bytes[middle + 0:15] <- as.raw(0x55)
  writeBin(bytes, zip)
  con <- local_store()
  err <- expect_error(load_doodles(con, zip, progress = FALSE), class = "doodles_error_zip")
  expect_match(conditionMessage(err), "b.csv", fixed = TRUE)
  expect_identical(DBI::dbGetQuery(con, "SELECT DISTINCT word FROM doodles")$word, "cat")
  expect_identical(DBI::dbGetQuery(con, "SELECT count(*)::INTEGER AS n FROM doodles")$n, 2000L)
})

test_that("an on_error that is neither 'stop' nor 'skip' is an argument error, before anything is read", {
  con <- local_store()
  expect_error(load_doodles(con, sample_zip(), on_error = "ignore"), "on_error.*stop.*skip",
               class = "doodles_error_argument")
  expect_false(DBI::dbExistsTable(con, "doodles"))
})
