# Runs the testthat suite against the installed package and ends with one line of totals,
# `testthat: N passed, N failed, N skipped`, which CI reads; exits non-zero on any failure or error.
results <- testthat::test_dir(
  "tests/testthat",
  package = "doodles",
  load_package = "installed",
  reporter = testthat::ProgressReporter$new(show_praise = FALSE),
  stop_on_failure = FALSE
)
df <- as.data.frame(results)
failed <- sum(df$failed) + sum(df$error)
skipped <- sum(df$skipped)
passed <- sum(df$nb) - sum(df$failed) - sum(df$skipped) - sum(df$warning)
cat(sprintf("testthat: %d passed, %d failed, %d skipped\n", passed, failed, skipped))
quit(status = if (failed > 0) 1L else 0L)
