# The command-line helpers the scripts are built from (R/cli.R), in-process.

doc <- "Try the helpers.

Usage:
  try.R --help
  try.R [options]

Options:
  -h --help               Show this message.
  -b --batch-size=<size>  Batch size [default: 32].
  -s --scale=<ratio>      Scale [default: 0.5].
  -c --color              Colour.
  -w --weights=<w>        none or imagenet [default: none].
  --data=<zip>            A zip.
"

run_quietly <- function(args, main = function(opts) opts) {
  out <- NULL
  err <- utils::capture.output(
    out <- utils::capture.output(status <- run_cli(doc, main, args)),
    type = "message"
  )
  list(status = status, out = paste(out, collapse = "\n"), err = paste(err, collapse = "\n"))
}

test_that("run_cli prints the usage for --help and -h and returns 0 without running main", {
  ran <- FALSE
  for (flag in c("--help", "-h")) {
    res <- run_quietly(flag, function(opts) ran <<- TRUE)
    expect_identical(res$status, 0L)
    expect_match(res$out, "Usage:\n  try.R --help", fixed = TRUE)
    expect_match(res$out, "-b --batch-size=<size>  Batch size [default: 32].", fixed = TRUE)
  }
  expect_false(ran)
})

test_that("run_cli passes the parsed options to main and returns 0", {
  seen <- NULL
  res <- run_quietly(c("-b", "64", "-c"), function(opts) seen <<- opts)
  expect_identical(res$status, 0L)
  expect_identical(seen[["--batch-size"]], "64")
  expect_true(seen[["--color"]])
  expect_identical(seen[["--scale"]], "0.5")
  expect_null(seen[["--data"]])
})

test_that("run_cli names an unknown option and returns 1", {
  res <- run_quietly(c("-b", "8", "--bogus=3"))
  expect_identical(res$status, 1L)
  expect_identical(
    res$err,
    "try.R: error: unknown option '--bogus'. Run 'try.R --help' to see the options."
  )
  res <- run_quietly("-x")
  expect_match(res$err, "unknown option '-x'", fixed = TRUE)
})

test_that("run_cli reports an option missing its value and a stray word", {
  res <- run_quietly("--batch-size")
  expect_identical(res$status, 1L)
  expect_match(res$err, "bad arguments '--batch-size'", fixed = TRUE)
  res <- run_quietly("stray")
  expect_match(res$err, "bad arguments 'stray'", fixed = TRUE)
})

test_that("run_cli turns an error in main into one line on stderr and status 1", {
  res <- run_quietly(character(), function(opts) stop("the folder 'db' does not exist", call. = FALSE))
  expect_identical(res$status, 1L)
  expect_identical(res$err, "try.R: error: the folder 'db' does not exist")
  res <- run_quietly(character(), function(opts) cli_option(opts, "batch-size", "count", upper = 16))
  expect_identical(res$err, "try.R: error: option --batch-size must be a whole number <= 16, not '32'")
})

test_that("cli_option converts counts, numbers, flags and choices", {
  opts <- list("--batch-size" = "64", "--scale" = "0.25", "--color" = TRUE,
               "--weights" = "imagenet", "--data" = NULL)
  expect_identical(cli_option(opts, "batch-size", "count", lower = 1), 64L)
  expect_identical(cli_option(opts, "scale", "number", lower = 0, upper = 1), 0.25)
  expect_true(cli_option(opts, "color", "flag"))
  expect_identical(cli_option(opts, "weights", choices = c("none", "imagenet")), "imagenet")
  expect_null(cli_option(opts, "data", optional = TRUE))
})

test_that("cli_option stops with the option, the rule and the value", {
  opts <- list("--batch-size" = "abc", "--scale" = "7", "--weights" = "random", "--data" = NULL,
               "--epochs" = "2.5")
  expect_error(cli_option(opts, "batch-size", "count", lower = 1),
               "option --batch-size must be a whole number >= 1, not 'abc'", fixed = TRUE,
               class = "doodles_error_usage")
  expect_error(cli_option(opts, "epochs", "count", lower = 1),
               "must be a whole number >= 1, not '2.5'", fixed = TRUE)
  expect_error(cli_option(opts, "scale", "number", lower = 0.03125, upper = 4),
               "option --scale must be a number between 0.03125 and 4, not '7'", fixed = TRUE)
  expect_error(cli_option(opts, "weights", choices = c("none", "imagenet")),
               "option --weights must be one of 'none', 'imagenet', not 'random'", fixed = TRUE)
  expect_error(cli_option(opts, "data"), "option --data is required", fixed = TRUE)
  expect_error(cli_option(opts, "model"), "the script has no option --model", fixed = TRUE)
})

test_that("plot_training_log draws loss and accuracy from a CSV log into a PNG", {
  skip_if_not_installed("png")
  dir <- withr::local_tempdir()
  log_file <- file.path(dir, "log.csv")
  utils::write.csv(data.frame(
    epoch = 0:2, learning_rate = c(0.002, 0.002, 0.001), loss = c(5.8, 5.1, 4.7),
    top_k_categorical_accuracy = c(0.02, 0.08, 0.15), val_loss = c(5.7, 5.3, 5.0),
    val_top_k_categorical_accuracy = c(0.03, 0.07, 0.12)
  ), log_file, row.names = FALSE)
  png_file <- file.path(dir, "curve.png")
  log <- plot_training_log(log_file, png_file, width = 600, height = 300)
  expect_identical(log$epoch, 1:3)
  image <- png::readPNG(png_file)
  expect_identical(dim(image)[1:2], c(300L, 600L))
  # Not a blank page: the curves are drawn in the two colours.
  red <- image[, , 1] > 0.7 & image[, , 2] < 0.4 & image[, , 3] < 0.5
  blue <- image[, , 1] < 0.3 & image[, , 2] > 0.3 & image[, , 3] > 0.55
  expect_gt(sum(red[, 1:300]), 50)
  expect_gt(sum(red[, 301:600]), 50)
  expect_gt(sum(blue[, 1:300]), 50)
})

test_that("plot_training_log refuses a file that is not a training log", {
  dir <- withr::local_tempdir()
  bad <- file.path(dir, "bad.csv")
  writeLines("a,b\n1,2", bad)
  expect_error(plot_training_log(bad), "is not a training log", class = "doodles_error_input")
})

test_that("training_callbacks and training_strategy check their arguments before starting Python", {
  expect_error(training_callbacks("", 32, 1), "model_name")
  expect_error(training_callbacks("lenet", 32, 2), "channels")
  expect_error(training_callbacks("lenet", 0, 1), "size")
  expect_error(training_callbacks("lenet", 32, 1, patience_stop = 0), "patience_stop")
  expect_error(training_strategy(-1), "n_gpu")
  expect_error(training_strategy(1.5), "n_gpu")
})

test_that("db_file_in names the database file in a folder", {
  expect_identical(db_file_in("/data/db"), "/data/db/doodles.duckdb")
  expect_error(db_file_in(""), "db_dir")
})

test_that("train_nn.R says which -r the data allows before it loads anything", {
  skip_if_not_installed("processx")
  script <- system.file("bin", "train_nn.R", package = "doodles", mustWork = TRUE)
  work <- withr::local_tempdir()
  db_dir <- file.path(work, "db")
  # Python cannot start: the check needs none.
  env <- c("current", DOODLES_VENV = "/nonexistent/venv", RETICULATE_PYTHON = "/nonexistent/python")
  train_nn <- function(...) {
    processx::run(file.path(R.home("bin"), "Rscript"), c(script, "-d", db_dir, ...),
                  error_on_status = FALSE, wd = work, env = env, timeout = 120)
  }
  # The shipped sample (3,000 rows) with the default -r 0.995 and -b 32.
  res <- train_nn("--data", sample_zip())
  expect_identical(res$status, 1L)
  expect_identical(res$stderr, paste0(
    "train_nn.R: error: -r 0.995 leaves 15 of the 3,000 rows to validate, fewer than one batch ",
    "of 32: pass -r 0.989 or lower, or a smaller -b\n"))
  con <- local_store(db_file_in(db_dir))
  expect_false(DBI::dbExistsTable(con, "doodles"))
  DBI::dbDisconnect(con)
  res <- train_nn("--data", sample_zip(), "-r", "0.001")
  expect_match(res$stderr, "-r 0.001 leaves 3 of the 3,000 rows to train, fewer than one batch of 32: pass -r 0.011 or higher", fixed = TRUE)
  res <- train_nn("--data", sample_zip(), "-b", "2000")
  expect_match(res$stderr, "the data has 3,000 rows, too few for a batch of 2000 to train and one to validate", fixed = TRUE)
  # A database already loaded is checked by its row count.
  con <- local_store(db_file_in(db_dir))
  load_doodles(con, sample_zip(), progress = FALSE)
  DBI::dbDisconnect(con)
  res <- train_nn("-r", "0.999")
  expect_match(res$stderr, "-r 0.999 leaves 3 of the 3,000 rows to validate", fixed = TRUE)
})
