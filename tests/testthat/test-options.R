# doodles_options() is the one list of what the package reads from options() and the environment.

test_that("every option and environment variable the package's code reads is listed", {
  listed <- doodles_options()
  ns <- asNamespace("doodles")
  code <- unlist(lapply(ls(ns, all.names = TRUE), function(name) {
    value <- get(name, envir = ns)
    if (is.function(value)) deparse(value) else character()
  }))
  read <- unlist(regmatches(code, gregexpr('(getOption|Sys\\.getenv|doodles_option|doodles_env)\\("[A-Za-z_.]+"', code)))
  names <- unique(sub('^[^"]*"([^"]+)"$', "\\1", read))
  expect_true(all(c("doodles.threads", "DOODLES_THREADS", "doodles.load_memory", "doodles.progress") %in% names))
  expect_setequal(setdiff(names, listed$name), character())
  # An entry with a check is read only through doodles_option() or doodles_env(), which apply it.
  checked <- vapply(doodles:::option_table, function(entry) !is.null(entry$check), NA)
  around <- unlist(regmatches(code, gregexpr('(getOption|Sys\\.getenv)\\("[A-Za-z_.]+"', code)))
  around <- unique(sub('^[^"]*"([^"]+)"$', "\\1", around))
  checked_names <- vapply(doodles:::option_table, `[[`, "", "name")[checked]
  expect_true(all(c("doodles.threads", "DOODLES_THREADS", "doodles.collect_after") %in% checked_names))
  expect_identical(intersect(around, checked_names), character())
})

test_that("each option is checked where it is read: a bad value is an argument error naming it", {
  bad <- list(
    doodles.threads = list(1000, 0, 2.5, "4"),
    doodles.progress = list("yes", NA, c(TRUE, FALSE)),
    doodles.load_transaction_rows = list(2.5, -1, 0),
    doodles.load_memory = list("lots", 96, "96 M"),
    doodles.index_memory = list("-1MB"),
    doodles.load_checkpoint = list(""),
    doodles.collect_after = list(-1, "1e9")
  )
  for (name in names(bad)) {
    for (value in bad[[name]]) {
      withr::with_options(stats::setNames(list(value), name), {
        err <- expect_error(doodles:::doodles_option(name), class = "doodles_error_argument")
        expect_match(conditionMessage(err), sprintf("option `%s` must be", name), fixed = TRUE)
      })
    }
  }
  withr::with_options(list(doodles.load_memory = "1.5GiB", doodles.collect_after = Inf), {
    expect_identical(doodles:::doodles_option("doodles.load_memory"), "1.5GiB")
    expect_identical(doodles:::doodles_option("doodles.collect_after"), Inf)
  })
  # Where the package reads them: the loader refuses a transaction size before reading a file.
  con <- local_store()
  withr::with_options(list(doodles.load_transaction_rows = 2.5), {
    err <- expect_error(load_doodles(con, sample_zip(), progress = FALSE), class = "doodles_error_argument")
    expect_match(conditionMessage(err), "option `doodles.load_transaction_rows` must be", fixed = TRUE)
  })
  expect_false(DBI::dbExistsTable(con, "doodles"))
})

test_that("threads are capped at 256, from the option or the environment", {
  withr::with_options(list(doodles.threads = NULL), {
    withr::with_envvar(c(DOODLES_THREADS = "1000"), {
      err <- expect_error(doodles_threads(), class = "doodles_error_argument")
      expect_match(conditionMessage(err),
                   "environment variable `DOODLES_THREADS` must be a whole number of threads from 1 to 256, not '1000'",
                   fixed = TRUE)
    })
    withr::with_envvar(c(DOODLES_THREADS = "256"), expect_identical(doodles_threads(), 256L))
  })
  err <- withr::with_options(list(doodles.threads = 1000), expect_error(doodles_threads(), class = "doodles_error_argument"))
  expect_match(conditionMessage(err), "option `doodles.threads` must be a whole number of threads from 1 to 256, not 1000",
               fixed = TRUE)
  expect_lte(withr::with_options(list(doodles.threads = NULL), withr::with_envvar(c(DOODLES_THREADS = ""), doodles_threads())), 256L)
})

test_that("progress bars follow doodles.progress, then DOODLES_PROGRESS, then the session", {
  progress <- function() doodles:::doodles_progress()
  withr::local_options(doodles.progress = NULL)
  withr::with_envvar(c(DOODLES_PROGRESS = ""), expect_identical(progress(), interactive()))
  withr::with_envvar(c(DOODLES_PROGRESS = "true"), expect_true(progress()))
  withr::with_envvar(c(DOODLES_PROGRESS = "0"), expect_false(progress()))
  withr::with_envvar(c(DOODLES_PROGRESS = "maybe"), {
    err <- expect_error(progress(), class = "doodles_error_argument")
    expect_match(conditionMessage(err), "environment variable `DOODLES_PROGRESS` must be true, false, 1 or 0, not 'maybe'",
                 fixed = TRUE)
  })
  withr::with_envvar(c(DOODLES_PROGRESS = "false"), {
    withr::with_options(list(doodles.progress = TRUE), expect_true(progress()))
  })
  # load_doodles() and load_test() take it as their default: a bar on stderr, or none.
  con <- local_store()
  withr::with_options(list(doodles.progress = TRUE, cli.progress_show_after = 0, cli.dynamic = FALSE), {
    shown <- utils::capture.output(load_doodles(con, sample_zip()), type = "message")
  })
  expect_match(paste(shown, collapse = "\n"), "files | 3,000 rows", fixed = TRUE)
  withr::with_options(list(doodles.progress = FALSE), {
    expect_silent(load_test(con, sample_test_csv()))
  })
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
  expect_error(doodles:::doodles_env("doodles.threads"), class = "doodles_error_internal")
})
