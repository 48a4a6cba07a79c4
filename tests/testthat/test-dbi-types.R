# DuckDB types to R types and back, through queries, prepared statements and tables.

test_that("DuckDB types map to R types, NULL to NA", {
  con <- local_store()
  got <- DBI::dbGetQuery(con, "
    SELECT 1::INTEGER AS i, 2::SMALLINT AS s, 3000000000::BIGINT AS b, 1.5::DOUBLE AS d,
           2.25::DECIMAL(5, 2) AS dec, 'zebra' AS t, TRUE AS flag,
           TIMESTAMP '2017-03-11 14:47:44.052420' AS ts, DATE '2020-02-29' AS day,
           NULL::INTEGER AS ni, NULL::VARCHAR AS nt, NULL::BOOLEAN AS nb, NULL::TIMESTAMP AS nts")
  expect_identical(got$i, 1L)
  expect_identical(got$s, 2L)
  expect_identical(got$b, 3e9)
  expect_identical(got$d, 1.5)
  expect_identical(got$dec, 2.25)
  expect_identical(got$t, "zebra")
  expect_identical(got$flag, TRUE)
  expect_s3_class(got$ts, "POSIXct")
  expect_identical(attr(got$ts, "tzone"), "UTC")
  expect_equal(as.double(got$ts), as.double(as.POSIXct("2017-03-11 14:47:44.052420", tz = "UTC")), tolerance = 1e-7)
  expect_identical(micros(got$ts), "1489243664052420")
  expect_identical(got$day, as.Date("2020-02-29"))
  expect_identical(got$ni, NA_integer_)
  expect_identical(got$nt, NA_character_)
  expect_identical(got$nb, NA)
  expect_identical(as.double(got$nts), NA_real_)
})

test_that("R values round-trip through a table and bound parameters", {
  con <- local_store()
  df <- data.frame(
    i = c(1L, NA, -5L), d = c(0.5, NA, 1e300), t = c("a", NA, "\u00e9t\u00e9"),
    b = c(TRUE, NA, FALSE),
    ts = as.POSIXct(c("2017-01-01 00:00:01", NA, "1969-12-31 23:59:59.5"), tz = "UTC"),
    day = as.Date(c("2017-01-01", NA, "1900-03-01")),
    stringsAsFactors = FALSE
  )
  DBI::dbWriteTable(con, "kinds", df)
  back <- DBI::dbReadTable(con, "kinds")
  expect_identical(back, df)
  got <- DBI::dbGetQuery(con, "SELECT t FROM kinds WHERE i = ? AND b = ?", params = list(-5L, FALSE))
  expect_identical(got$t, "\u00e9t\u00e9")
  got <- DBI::dbGetQuery(con, "SELECT count(*)::INTEGER AS n FROM kinds WHERE ts < ?",
                         params = list(as.POSIXct("2000-01-01", tz = "UTC")))
  expect_identical(got$n, 1L)
})

test_that("one database handle per normalised path; another process holding it is an error", {
  skip_if_not_installed("callr")
  dir <- withr::local_tempdir()
  db <- file.path(dir, "shared.duckdb")
  con1 <- local_store(db)
  DBI::dbExecute(con1, "CREATE TABLE seen (x INTEGER)")
  DBI::dbExecute(con1, "INSERT INTO seen VALUES (7)")
  # Another spelling of the same file reaches the same database, not a second handle (which
  # DuckDB would refuse within one process).
  dir.create(file.path(dir, "sub"))
  con2 <- local_store(file.path(dir, "sub", "..", "shared.duckdb"))
  expect_identical(DBI::dbGetQuery(con2, "SELECT x FROM seen")$x, 7L)
  DBI::dbDisconnect(con1)
  DBI::dbDisconnect(con2)

  holder <- callr::r_bg(function(db) {
    con <- DBI::dbConnect(doodles::doodles_duckdb(), dbdir = db)
    cat("open\n")
    Sys.sleep(60)
  }, args = list(db), stdout = "|")
  withr::defer(holder$kill())
  holder$poll_io(20000)
  expect_match(holder$read_output(), "open")
  err <- expect_error(DBI::dbConnect(doodles_duckdb(), dbdir = db), class = "doodles_error_locked")
  expect_match(conditionMessage(err), "in use by another process")
})

test_that("in-memory databases belong to their driver", {
  drv <- doodles_duckdb()
  a <- DBI::dbConnect(drv)
  b <- DBI::dbConnect(drv)
  other <- DBI::dbConnect(doodles_duckdb())
  withr::defer({
    DBI::dbDisconnect(a)
    DBI::dbDisconnect(b)
    DBI::dbDisconnect(other)
  })
  DBI::dbWriteTable(a, "t", data.frame(x = 1:3))
  expect_identical(DBI::dbReadTable(b, "t")$x, 1:3)
  expect_false(DBI::dbExistsTable(other, "t"))
})
