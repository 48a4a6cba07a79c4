# doodles_options() is the one list of what the package reads from options() and the environment.

test_that("every option and environment variable the package's code reads is listed", {
  listed <- doodles_options()
  ns <- asNamespace("doodles")
  code <- unlist(lapply(ls(ns, all.names = TRUE), function(name) {
    value <- get(name, envir = ns)
    if (is.function(value)) deparse(value) else character()
  }))
  read <- unlist(regmatches(code, gregexpr('(getOption|Sys\\.getenv|doodles_option)\\("[A-Za-z_.]+"', code)))
  names <- unique(sub('^[^"]*"([^"]+)"$', "\\1", read))
  expect_true(all(c("doodles.threads", "DOODLES_THREADS", "doodles.load_memory") %in% names))
  expect_setequal(setdiff(names, listed$name), character())
})

test_that("doodles_options() gives each default and the value set now", {
  withr::local_options(doodles.load_memory = "64MB", doodles.load_checkpoint = NULL)
  withr::local_envvar(DOODLES_THREADS = "3")
  listed <- doodles_options()
  row <- function(name) listed[listed$name == name, ]
  expect_identical(unlist(row("doodles.load_memory")[c("default", "value")], use.names = FALSE), c("96MB", "64MB"))
  expect_identical(row("doodles.load_checkpoint")$value, NA_character_)
  expect_identical(row("doodles.load_transaction_rows")$default, "1000000")
  expect_identical(row("DOODLES_THREADS")$value, "3")
  expect_identical(doodles:::doodles_option("doodles.load_checkpoint"), "128MB")
  expect_error(doodles:::doodles_option("doodles.nothing"), class = "doodles_error_internal")
})
