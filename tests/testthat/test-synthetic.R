# The synthetic data maker writes the Kaggle layout, with distinct, valid drawings per class.

test_that("synthetic files have the Kaggle layout and load", {
  dir <- withr::local_tempdir()
  files <- make_synthetic_doodles(dir, n = 103, classes = 16, n_test = 20, seed = 3)
  expect_identical(basename(unlist(files)), c("train_simplified.zip", "test_simplified.csv", "test_answers.csv"))
  entries <- utils::unzip(files$train, list = TRUE)$Name
  expect_length(entries, 16)
  expect_true("circle.csv" %in% entries)
  expect_true("circle 2.csv" %in% entries)
  csvs <- read_zip_csvs(files$train)
  expect_identical(names(csvs[[1]]), strsplit(train_header, ",")[[1]])
  expect_identical(sum(vapply(csvs, nrow, integer(1))), 103L)
  expect_identical(sort(vapply(csvs, nrow, integer(1)), decreasing = TRUE)[c(1, 16)], c(7L, 6L), ignore_attr = TRUE)
  test <- utils::read.csv(files$test, colClasses = "character")
  expect_identical(names(test), c("key_id", "countrycode", "drawing"))
  answers <- utils::read.csv(files$answers, colClasses = "character")
  expect_identical(answers$key_id, test$key_id)
  expect_true(all(answers$word %in% gsub(" ", "_", sub("\\.csv$", "", entries))))

  con <- local_store()
  load_doodles(con, files$train, progress = FALSE)
  load_test(con, files$test, progress = FALSE)
  expect_identical(DBI::dbGetQuery(con, "SELECT count(*)::INTEGER AS n FROM doodles")$n, 103L)
  expect_identical(DBI::dbGetQuery(con, "SELECT count(*)::INTEGER AS n FROM labels")$n, 16L)
  expect_identical(DBI::dbGetQuery(con, "SELECT count(*)::INTEGER AS n FROM test")$n, 20L)
})

test_that("the same seed gives the same files, another seed others", {
  a <- make_synthetic_doodles(withr::local_tempdir(), n = 50, classes = 5, n_test = 5, seed = 1)
  b <- make_synthetic_doodles(withr::local_tempdir(), n = 50, classes = 5, n_test = 5, seed = 1)
  c <- make_synthetic_doodles(withr::local_tempdir(), n = 50, classes = 5, n_test = 5, seed = 2)
  expect_identical(unname(tools::md5sum(a$test)), unname(tools::md5sum(b$test)))
  expect_false(identical(unname(tools::md5sum(a$test)), unname(tools::md5sum(c$test))))
})

test_that("classes differ in shape: nearest class mean classifies them", {
  dir <- withr::local_tempdir()
  files <- make_synthetic_doodles(dir, n = 400, classes = 4, n_test = 0, seed = 5)
  con <- local_store()
  load_doodles(con, files$train, progress = FALSE)
  batch <- doodle_batch(con, 1:400, scale = 0.125)
  means <- t(sapply(0:3, function(k) colMeans(matrix(batch$x[batch$y == k, , , 1], nrow = sum(batch$y == k)))))
  # A nearest-class-mean classifier already separates them well: well above chance.
  nearest <- apply(matrix(batch$x[, , , 1], nrow = 400), 1, function(v) which.min(colSums((t(means) - v)^2)) - 1L)
  expect_gt(mean(nearest == batch$y), 0.8)
})
