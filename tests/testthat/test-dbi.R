# DBItest, the DBI conformance suite, against the doodles driver. Every test it runs is part of
# our tests; the skipped ones are listed below with the reason.

dbitest_skips <- c(
  # The package is doodles and its driver constructor doodles_duckdb(); it does not re-export DBI.
  "package_name", "reexport",
  # BIGINT and other 64-bit integers come back as doubles (as in duckdb-r's default); there is no
  # bigint = "integer64" / "character" / "integer" option, so 64-bit values beyond 2^53 lose digits.
  "connect_bigint_integer", "connect_bigint_character", "connect_bigint_integer64",
  "data_64_bit_numeric_warning", "data_64_bit_lossless",
  "roundtrip_64_bit_character", "append_roundtrip_64_bit_character",
  # Named placeholders ($name) are not supported: values are bound by position.
  "bind_unnamed_param_named_placeholders",
  # Not checked: dbBind(res, list()) on a statement without placeholders is accepted; factors are
  # bound as character without a warning; field.types with an existing table gives another error.
  "bind_empty", "bind_factor", "write_table_error",
  # Binding a POSIXct against DBItest's TIMESTAMP literal comparison fails in DuckDB's cast.
  "bind_timestamp", "bind_timestamp_lt"
)

# current_date / current_time need DuckDB's icu extension: built into the prebuilt library the
# package links by default, absent from the bundled source build (DOODLES_DUCKDB=bundled).
icu_loaded <- local({
  con <- DBI::dbConnect(doodles_duckdb())
  on.exit(DBI::dbDisconnect(con))
  "icu" %in% DBI::dbGetQuery(con, "SELECT extension_name FROM duckdb_extensions() WHERE loaded")$extension_name
})
if (!icu_loaded) {
  dbitest_skips <- c(dbitest_skips, "data_date_current", "data_time_current",
                     "data_date_current_typed", "data_timestamp_current",
                     "data_timestamp_current_typed")
}

if (requireNamespace("DBItest", quietly = TRUE)) {
  DBItest::make_context(
    doodles_duckdb(),
    list(dbdir = ":memory:"),
    tweaks = DBItest::tweaks(
      dbitest_version = "1.7.3",
      constructor_name = "doodles_duckdb",
      placeholder_pattern = c("?", "$1"),
      date_cast = function(x) paste0("DATE '", x, "'"),
      time_cast = function(x) paste0("TIME '", x, "'"),
      timestamp_cast = function(x) paste0("TIMESTAMP '", x, "'")
    ),
    name = "doodles"
  )
  DBItest::test_all(skip = unname(dbitest_skips))
} else {
  test_that("DBItest's conformance suite", skip("DBItest is not installed (tools/setup.sh installs r-cran-dbitest)"))
}

test_that("dbAppendTable() keeps the schema of an Id", {
  con <- local_store()
  DBI::dbExecute(con, "CREATE SCHEMA s")
  DBI::dbExecute(con, "CREATE TABLE s.t (x INTEGER)")
  DBI::dbExecute(con, "CREATE TABLE t (x INTEGER)")
  DBI::dbAppendTable(con, DBI::Id(schema = "s", table = "t"), data.frame(x = 1:2))
  expect_identical(DBI::dbGetQuery(con, "SELECT x FROM s.t ORDER BY x")$x, 1:2)
  expect_equal(DBI::dbGetQuery(con, "SELECT count(*) AS n FROM main.t")$n, 0)
})

test_that("the DBI classes are methods' own: no function of the package masks one of methods or DBI", {
  ns <- asNamespace("doodles")
  masked <- intersect(ls(ns, all.names = TRUE), c(getNamespaceExports("methods"), getNamespaceExports("DBI")))
  expect_identical(masked[vapply(masked, function(name) is.function(get(name, envir = ns)), NA)], character())
  for (class in c("doodles_duckdb_driver", "doodles_duckdb_connection", "doodles_duckdb_result")) {
    expect_identical(methods::getClass(class)@package, "doodles", label = class)
  }
})
