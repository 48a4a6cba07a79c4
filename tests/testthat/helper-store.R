# Shared by the store tests: connections that close themselves, and files of the package.

local_store <- function(dbdir = ":memory:", env = parent.frame()) {
  con <- DBI::dbConnect(doodles_duckdb(), dbdir = dbdir)
  withr::defer(if (DBI::dbIsValid(con)) DBI::dbDisconnect(con), envir = env)
  con
}

sample_zip <- function() system.file("extdata", "train_simplified.zip", package = "doodles")
sample_test_csv <- function() system.file("extdata", "test_simplified.csv", package = "doodles")

# The training CSVs of a zip, read by R itself (utils::unzip to a temporary folder).
read_zip_csvs <- function(zip) {
  dir <- withr::local_tempdir()
  utils::unzip(zip, exdir = dir)
  files <- sort(list.files(dir, pattern = "\\.csv$", full.names = TRUE, recursive = TRUE), method = "radix")
  rows <- lapply(files, function(f) {
    utils::read.csv(f, colClasses = "character", encoding = "UTF-8", na.strings = character())
  })
  names(rows) <- basename(files)
  rows
}

md5_of_lines <- function(lines) {
  file <- withr::local_tempfile()
  writeLines(enc2utf8(sort(lines, method = "radix")), file, useBytes = TRUE)
  unname(tools::md5sum(file))
}

train_header <- "countrycode,drawing,key_id,recognized,timestamp,word"
good_row <- function(key = 1, word = "cat") {
  sprintf('US,"[[[0, 10, 20], [0, 10, 5]]]",%s,True,2017-03-01 10:00:00.123456,%s', key, word)
}

# Timestamps as whole microseconds since the epoch (exact, unlike formatting fractional seconds).
micros <- function(x) sprintf("%.0f", round(as.double(x) * 1e6))
