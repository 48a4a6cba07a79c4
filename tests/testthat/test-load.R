# Loading the real sample: every row once, exactly as in the source files.

test_that("the sample zip loads with the source's rows, drawings and labels", {
  con <- local_store()
  outcome <- load_doodles(con, sample_zip(), progress = FALSE)
  source <- read_zip_csvs(sample_zip())
  expect_identical(outcome$file, names(source))
  expect_identical(outcome$status, rep("loaded", length(source)))
  expect_identical(outcome$rows, unname(vapply(source, nrow, double(1)) + 0))

  all_rows <- do.call(rbind, source)
  db <- DBI::dbGetQuery(con, "SELECT * FROM doodles")
  expect_identical(nrow(db), 3000L)
  expect_identical(nrow(db), nrow(all_rows))
  # A checksum of all drawings, and of whole rows, against the source files.
  expect_identical(md5_of_lines(db$drawing), md5_of_lines(all_rows$drawing))
  source_rows <- paste(all_rows$countrycode, all_rows$drawing, all_rows$key_id, all_rows$recognized == "True",
                       micros(as.POSIXct(all_rows$timestamp, tz = "UTC", format = "%Y-%m-%d %H:%M:%OS")),
                       all_rows$word, sep = "|")
  db_rows <- paste(db$countrycode, db$drawing, format(db$key_id, scientific = FALSE, trim = TRUE), db$recognized,
                   micros(db$timestamp), db$word, sep = "|")
  expect_identical(sort(db_rows, method = "radix"), sort(source_rows, method = "radix"))

  # Dense ids in load order, labels by byte order of word.
  expect_identical(sort(db$id), 1:3000)
  words <- sort(unique(all_rows$word), method = "radix")
  labels <- DBI::dbGetQuery(con, "SELECT * FROM labels ORDER BY label_int")
  expect_identical(labels$word, words)
  expect_identical(labels$label_int, seq_along(words) - 1L)
  expect_identical(db$label_int, match(db$word, words) - 1L)
  log <- DBI::dbGetQuery(con, "SELECT file_name, rows, rejected FROM upload_log ORDER BY file_name")
  expect_identical(log$file_name, names(source))
  expect_identical(log$rows, outcome$rows)
})

test_that("loading again is a no-op; the same files from a folder are recognised", {
  con <- local_store()
  load_doodles(con, sample_zip(), progress = FALSE)
  before <- DBI::dbGetQuery(con, "SELECT id, key_id, label_int FROM doodles ORDER BY id")
  again <- load_doodles(con, sample_zip(), progress = FALSE)
  expect_identical(unique(again$status), "skipped")
  dir <- withr::local_tempdir()
  utils::unzip(sample_zip(), exdir = dir)
  from_folder <- load_doodles(con, dir, progress = FALSE)
  expect_identical(unique(from_folder$status), "skipped")
  expect_identical(DBI::dbGetQuery(con, "SELECT id, key_id, label_int FROM doodles ORDER BY id"), before)
})

test_that("label_int is the rank of word over all loads, whatever the files are called", {
  first <- withr::local_tempdir()
  writeLines(c(train_header, good_row(1, "dog"), good_row(2, "cat")), file.path(first, "dog.csv"))
  second <- withr::local_tempdir()
  # A new word sorting between the old ones, in a file named after another word.
  writeLines(c(train_header, good_row(3, "cow"), good_row(4, "ant")), file.path(second, "bird.csv"))
  con <- local_store()
  load_doodles(con, first, progress = FALSE)
  expect_identical(DBI::dbGetQuery(con, "SELECT label_int FROM doodles ORDER BY id")$label_int, c(1L, 0L))
  load_doodles(con, second, progress = FALSE)
  got <- DBI::dbGetQuery(con, "SELECT word, label_int FROM doodles ORDER BY id")
  expect_identical(got$word, c("dog", "cat", "cow", "ant"))
  expect_identical(got$label_int, c(3L, 1L, 2L, 0L))
  expect_identical(DBI::dbGetQuery(con, "SELECT word FROM labels ORDER BY label_int")$word, c("ant", "cat", "cow", "dog"))
})

test_that("the test CSV loads with ids", {
  con <- local_store()
  outcome <- load_test(con, sample_test_csv(), progress = FALSE)
  source <- utils::read.csv(sample_test_csv(), colClasses = "character")
  expect_identical(outcome$rows, nrow(source) + 0)
  test <- DBI::dbGetQuery(con, "SELECT * FROM test ORDER BY id")
  expect_identical(names(test), c("key_id", "countrycode", "drawing", "id"))
  expect_identical(test$drawing, source$drawing)
  expect_identical(format(test$key_id, scientific = FALSE, trim = TRUE), source$key_id)
  expect_identical(test$id, seq_len(nrow(source)))
})

test_that("ndjson files load like the CSVs", {
  dir <- withr::local_tempdir()
  lines <- c(
    '{"word":"cat","countrycode":"US","timestamp":"2017-03-09 00:28:55.19715 UTC","recognized":true,"key_id":"6372658063654912","drawing":[[[1, 2, 3],[4, 5, 6]]]}',
    '{"word":"cat","countrycode":"","timestamp":"2017-03-10 01:00:00 UTC","recognized":false,"key_id":"5","drawing":[[[10],[20]],[[0,255],[255,0]]]}'
  )
  writeLines(lines, file.path(dir, "full_simplified_cat.ndjson"))
  con <- local_store()
  load_doodles(con, dir, progress = FALSE)
  got <- DBI::dbGetQuery(con, "SELECT * FROM doodles ORDER BY id")
  expect_identical(got$drawing, c("[[[1,2,3],[4,5,6]]]", "[[[10],[20]],[[0,255],[255,0]]]"))
  expect_identical(got$countrycode, c("US", NA))
  expect_identical(got$recognized, c(TRUE, FALSE))
  expect_identical(got$key_id, c(6372658063654912, 5))
  expect_identical(micros(got$timestamp), c("1489019335197150", "1489107600000000"))
})

test_that("a load into a file restores DuckDB's settings, whatever checkpoints happen", {
  db <- withr::local_tempfile(fileext = ".duckdb")
  con <- local_store(db)
  setting <- function(name) DBI::dbGetQuery(con, sprintf("SELECT current_setting('%s')::VARCHAR AS v", name))$v
  DBI::dbExecute(con, "SET memory_limit = '1GiB'")
  DBI::dbExecute(con, "SET checkpoint_threshold = '4MiB'")
  settings <- c("memory_limit", "checkpoint_threshold", "preserve_insertion_order", "threads")
  before <- vapply(settings, setting, "")
  expect_identical(before[["preserve_insertion_order"]], "true")
  # (Values in whole MiB: DuckDB shows settings rounded, and they are restored from what it shows.)
  # A threshold below one file's size checkpoints after every file: the rows are the same.
  withr::local_options(doodles.load_checkpoint = "1KB")
  load_doodles(con, sample_zip(), progress = FALSE)
  expect_identical(vapply(settings, setting, ""), before)
  drawings <- DBI::dbGetQuery(con, "SELECT drawing FROM doodles")$drawing
  expect_identical(md5_of_lines(drawings), md5_of_lines(do.call(rbind, read_zip_csvs(sample_zip()))$drawing))
  expect_identical(sort(DBI::dbGetQuery(con, "SELECT id FROM doodles")$id), 1:3000)
})

test_that("the loader's table functions refuse to be called from SQL", {
  con <- local_store()
  expect_error(DBI::dbGetQuery(con, "SELECT * FROM doodles_feed_train(1)"), "called by the loader only", class = "doodles_error")
  expect_true(DBI::dbIsValid(con))
  expect_identical(DBI::dbGetQuery(con, "SELECT 1 AS x")$x, 1L)
})
