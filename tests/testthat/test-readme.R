# Every R block of the README (```r) runs as written, in a fresh R session in an empty folder,
# with the R Keras library (keras3, legacy keras) first when the block uses it.

readme_r_blocks <- function(path = test_path("..", "..", "README.md")) {
  lines <- readLines(path)
  starts <- which(lines == "```r")
  lapply(starts, function(start) {
    end <- start + which(lines[-seq_len(start)] == "```")[1]
    list(line = start, code = lines[(start + 1L):(end - 1L)])
  })
}

test_that("the README's R blocks run as written", {
  skip_if_not(file.exists(test_path("..", "..", "README.md")), "no README.md beside the tests")
  blocks <- readme_r_blocks()
  # The block "In R" and the legacy keras block, at least.
  expect_gte(length(blocks), 2L)
  for (block in blocks) {
    code <- block$code
    needs_legacy <- any(grepl("library(keras)", code, fixed = TRUE))
    if (any(grepl("get_model|fit_doodles|use_keras_env", code))) skip_if_no_keras()
    if (needs_legacy) skip_if_no_legacy_keras()
    dir <- withr::local_tempdir()
    script <- file.path(dir, "block.R")
    writeLines(c(code, 'cat("\\nthe block ran\\n")'), script)
    result <- processx::run(file.path(R.home("bin"), "Rscript"), script, wd = dir,
                            error_on_status = FALSE, timeout = 600,
                            env = c("current", R_LIBS = r_keras_libs()))
    expect_identical(result$status, 0L, info = sprintf("README.md line %d:\n%s", block$line,
                                                       paste(utils::tail(strsplit(result$stderr, "\n")[[1]], 15),
                                                             collapse = "\n")))
    expect_match(result$stdout, "the block ran")
    if (needs_legacy) {
      expect_length(readLines(file.path(dir, "submission.csv")), 751L)
    }
  }
})
