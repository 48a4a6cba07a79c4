# DBItest, the DBI conformance suite, against the doodles driver. Every test it runs is part of
# our tests; the skipped ones are listed below with the reason.

dbitest_skips <- c(
  placeholder = "placeholder"
)

if (requireNamespace("DBItest", quietly = TRUE)) {
  DBItest::make_context(
    doodles_duckdb(),
    list(dbdir = ":memory:"),
    tweaks = DBItest::tweaks(
      dbitest_version = "1.7.3",
      placeholder_pattern = c("?", "$1"),
      date_cast = function(x) paste0("DATE '", x, "'"),
      time_cast = function(x) paste0("TIME '", x, "'"),
      timestamp_cast = function(x) paste0("TIMESTAMP '", x, "'")
    ),
    name = "doodles"
  )
  DBItest::test_all(skip = unname(dbitest_skips))
}
