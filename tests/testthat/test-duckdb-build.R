# Which DuckDB the package was built with (tools/duckdb.sh decides): DuckDB 1.5.6 either way, with
# the icu extension in the prebuilt library; and the checksum check of the prebuilt download fails
# closed.

test_that("the installed package runs DuckDB 1.5.6, the library it was linked with", {
  con <- local_store()
  expect_equal(DBI::dbGetQuery(con, "SELECT version() AS v")$v, "v1.5.6")
  libs <- system.file("libs", package = "doodles")
  if (file.exists(file.path(libs, "libduckdb.so"))) {
    # The prebuilt library travels with the package: built in are icu (time zones, current_date)
    # and json, and nothing is fetched at run time.
    loaded <- DBI::dbGetQuery(con, paste(
      "SELECT extension_name FROM duckdb_extensions() WHERE loaded ORDER BY extension_name"
    ))$extension_name
    expect_true(all(c("icu", "json", "parquet") %in% loaded), info = paste(loaded, collapse = ", "))
    expect_s3_class(DBI::dbGetQuery(con, "SELECT current_date AS d")$d, "Date")
  }
})

duckdb_script <- function() {
  script <- testthat::test_path("..", "..", "tools", "duckdb.sh")
  if (!file.exists(script)) skip("tools/duckdb.sh is only in a source checkout")
  normalizePath(script)
}

# Runs tools/duckdb.sh with `npm` replaced by a script that writes `tarball` (a damaged package),
# and an empty cache.
run_with_fake_npm <- function(tarball_bytes, env = character()) {
  bin <- withr::local_tempdir()
  cache <- withr::local_tempdir()
  payload <- file.path(bin, "payload.tgz")
  writeBin(tarball_bytes, payload)
  writeLines(c("#!/bin/sh", sprintf("cp '%s' duckdb-node-bindings-fake.tgz", payload),
               "echo duckdb-node-bindings-fake.tgz"), file.path(bin, "npm"))
  Sys.chmod(file.path(bin, "npm"), "755")
  result <- processx::run("sh", duckdb_script(), error_on_status = FALSE, env = c(
    "current", PATH = paste(bin, Sys.getenv("PATH"), sep = ":"), DOODLES_CACHE = cache,
    DUCKDB_LIB_DIR = "", DOODLES_DUCKDB = "", env
  ))
  result$cache_files <- list.files(cache, recursive = TRUE)
  result
}

test_that("a damaged prebuilt DuckDB download is refused, never cached or linked", {
  skip_on_os(c("windows", "mac"))
  damaged <- run_with_fake_npm(as.raw(sample(0:255, 4096, replace = TRUE)))
  expect_equal(damaged$status, 1)
  expect_match(damaged$stderr, "refusing @duckdb/node-bindings-linux-")
  expect_match(damaged$stderr, "DOODLES_DUCKDB=bundled")
  expect_equal(damaged$stdout, "")
  expect_length(damaged$cache_files, 0)
})

test_that("the DuckDB choice follows DUCKDB_LIB_DIR and DOODLES_DUCKDB", {
  skip_on_os(c("windows", "mac"))
  bundled <- processx::run("sh", duckdb_script(), error_on_status = FALSE,
                           env = c("current", DUCKDB_LIB_DIR = "", DOODLES_DUCKDB = "bundled"))
  expect_equal(bundled$status, 0)
  expect_equal(bundled$stdout, "")
  expect_match(bundled$stderr, "compiling the bundled DuckDB")
  own <- withr::local_tempdir()
  file.create(file.path(own, "libduckdb.so"))
  named <- processx::run("sh", duckdb_script(), error_on_status = FALSE,
                         env = c("current", DUCKDB_LIB_DIR = own))
  expect_equal(trimws(named$stdout), own)
  empty <- withr::local_tempdir()
  missing <- processx::run("sh", duckdb_script(), error_on_status = FALSE,
                           env = c("current", DUCKDB_LIB_DIR = empty))
  expect_equal(missing$status, 1)
  expect_match(missing$stderr, "holds no libduckdb.so")
  wrong <- processx::run("sh", duckdb_script(), error_on_status = FALSE,
                         env = c("current", DUCKDB_LIB_DIR = "", DOODLES_DUCKDB = "fast"))
  expect_equal(wrong$status, 1)
  # Without npm the build falls back to the bundled sources, saying why and how long.
  tools <- withr::local_tempdir()
  for (tool in c("sh", "uname", "grep", "cut", "sha256sum", "dirname")) {
    file.symlink(Sys.which(tool), file.path(tools, tool))
  }
  no_npm <- processx::run(file.path(tools, "sh"), duckdb_script(), error_on_status = FALSE,
                          env = c("current", PATH = tools, DOODLES_CACHE = withr::local_tempdir(),
                                  DUCKDB_LIB_DIR = "", DOODLES_DUCKDB = ""))
  expect_equal(no_npm$status, 0)
  expect_equal(no_npm$stdout, "")
  expect_match(no_npm$stderr, "npm is not installed.*about 40 minutes")
})
