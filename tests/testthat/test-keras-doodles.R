# Training end to end from the DuckDB store: synthetic classes from make_synthetic_doodles(),
# batches drawn by Rust with the next one prefetched while Keras trains.

test_that("a CNN trained from a doodles connection learns synthetic classes", {
  skip_if_no_keras()
  dir <- withr::local_tempdir()
  files <- make_synthetic_doodles(dir, n = 1200, classes = 6, n_test = 120, seed = 3)
  con <- DBI::dbConnect(doodles_duckdb(), dbdir = ":memory:")
  on.exit(DBI::dbDisconnect(con), add = TRUE)
  load_doodles(con, files$train)
  load_test(con, files$test)
  keras_module()$utils$set_random_seed(3L)
  it <- train_generator(con, 1:1200, batch_size = 32, scale = 0.125, seed = 1, threads = 2)
  expect_equal(attr(it, "num_classes"), 6)
  model <- get_model("lenet", input_shape = attr(it, "image_shape"), num_classes = 6)
  doodles:::bridge_py()$reset_call_counts()
  history <- fit_doodles(model, it, epochs = 3, verbose = 0)
  # R pulls the first batch itself (to check it against the model), Python the others.
  expect_equal(doodles:::bridge_py()$r_calls, list(main = 3L * 37L - 1L, other = 0L))
  top3 <- predict_top3(model, test_generator(con, batch_size = 64, scale = 0.125, threads = 2),
                       words = con)
  answers <- utils::read.csv(files$answers, colClasses = "character")
  accuracy <- map_at_k(answers, top3, k = 1)
  # Chance is 1/6.
  expect_gt(accuracy, 0.6)
})
