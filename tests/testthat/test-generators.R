# train_generator() and test_generator() over a generic DBI connection (RSQLite) holding the real
# sample; the doodles (DuckDB) connection is compared with it in test-generators-doodles.R.

test_that("a training batch holds the drawings of its ids, one-hot encoded", {
  rows <- one_class_per_row(48)
  con <- sample_sqlite(rows)
  it <- train_generator(con, rows$id, batch_size = 8, scale = 0.125, seed = 1, threads = 1)
  expect_equal(attr(it, "steps_per_epoch"), 6)
  expect_equal(attr(it, "num_classes"), 48)
  expect_equal(attr(it, "image_shape"), c(32L, 32L, 1L))
  batch <- it()
  expect_type(batch, "list")
  expect_length(batch, 2)
  expect_null(names(batch))
  expect_equal(dim(batch[[1]]), c(8L, 32L, 32L, 1L))
  expect_equal(dim(batch[[2]]), c(8L, 48L))
  expect_true(all(batch[[2]] %in% c(0, 1)))
  expect_equal(rowSums(batch[[2]]), rep(1, 8))
  ids <- batch_ids(batch)
  expect_equal(batch[[1]], draw_doodles(rows$drawing[ids], scale = 0.125, threads = 1))
})

test_that("colour batches have three channels", {
  rows <- one_class_per_row(16)
  con <- sample_sqlite(rows)
  it <- train_generator(con, rows$id, batch_size = 4, scale = 0.25, color = TRUE, seed = 2,
                        threads = 1)
  batch <- it()
  expect_equal(dim(batch[[1]]), c(4L, 64L, 64L, 3L))
  expect_equal(batch[[1]], draw_doodles(rows$drawing[batch_ids(batch)], scale = 0.25,
                                        color = TRUE, threads = 1))
})

test_that("drawing options reach draw_doodles()", {
  rows <- one_class_per_row(8)
  con <- sample_sqlite(rows)
  thin <- train_generator(con, rows$id, batch_size = 8, scale = 0.25, seed = 1, threads = 1,
                          line_width = 1, antialias = TRUE)
  batch <- thin()
  expect_equal(batch[[1]], draw_doodles(rows$drawing[batch_ids(batch)], scale = 0.25,
                                        line_width = 1, antialias = TRUE, threads = 1))
  expect_false(isTRUE(all.equal(batch[[1]], draw_doodles(rows$drawing[batch_ids(batch)],
                                                         scale = 0.25, threads = 1))))
  expect_error(train_generator(con, rows$id, batch_size = 8, linewidth = 1),
               "Unknown drawing options", class = "doodles_error_argument")
})

test_that("every id comes exactly once per epoch and epochs are reshuffled", {
  rows <- one_class_per_row(48)
  con <- sample_sqlite(rows)
  it <- train_generator(con, rows$id, batch_size = 8, scale = 1 / 32, seed = 3, threads = 1)
  epoch1 <- unlist(lapply(1:6, function(i) batch_ids(it())))
  epoch2 <- unlist(lapply(1:6, function(i) batch_ids(it())))
  expect_equal(sort(epoch1), 1:48)
  expect_equal(sort(epoch2), 1:48)
  expect_false(identical(epoch1, epoch2))
})

test_that("ids that do not fill a batch wait for a later epoch", {
  rows <- one_class_per_row(30)
  con <- sample_sqlite(rows)
  it <- train_generator(con, rows$id, batch_size = 8, scale = 1 / 32, seed = 4, threads = 1)
  expect_equal(attr(it, "steps_per_epoch"), 3)
  epochs <- lapply(1:4, function(e) unlist(lapply(1:3, function(i) batch_ids(it()))))
  for (ids in epochs) {
    expect_length(ids, 24)
    expect_false(anyDuplicated(ids) > 0)
  }
  expect_equal(sort(unique(unlist(epochs))), 1:30)
})

test_that("the same seed gives the same batches, without touching the session's RNG", {
  rows <- one_class_per_row(24)
  con <- sample_sqlite(rows)
  run <- function(seed) {
    it <- train_generator(con, rows$id, batch_size = 6, scale = 1 / 32, seed = seed, threads = 1)
    lapply(1:8, function(i) it())
  }
  set.seed(99)
  expected_draw <- runif(1)
  set.seed(99)
  a <- run(7)
  expect_equal(runif(1), expected_draw)
  expect_identical(run(7), a)
  expect_false(identical(lapply(run(8), batch_ids), lapply(a, batch_ids)))
})

test_that("imagenet_preproc maps [0, 1] to [-1, 1]", {
  rows <- one_class_per_row(8)
  con <- sample_sqlite(rows)
  plain <- train_generator(con, rows$id, batch_size = 8, scale = 0.125, seed = 5, threads = 1)()
  pre <- train_generator(con, rows$id, batch_size = 8, scale = 0.125, seed = 5,
                         imagenet_preproc = TRUE, threads = 1)()
  expect_equal(pre[[1]], plain[[1]] * 2 - 1)
  expect_equal(range(pre[[1]]), c(-1, 1))
  expect_equal(pre[[2]], plain[[2]])
})

test_that("num_classes comes from the labels table, else from max(label_int) + 1", {
  con <- sample_sqlite()
  ids <- sample_train()$id
  expect_equal(attr(train_generator(con, ids, threads = 1), "num_classes"), 345)
  DBI::dbRemoveTable(con, "labels")
  DBI::dbExecute(con, "DELETE FROM doodles WHERE label_int > 99")
  expect_equal(attr(train_generator(con, 1:100, threads = 1), "num_classes"), 100)
})

test_that("side features are read per batch, in the order of the batch", {
  rows <- one_class_per_row(40)
  rows$countrycode <- rep(c("US", "GB", "DE", NA), 10)
  rows$recognized <- rep(c(TRUE, FALSE), 20)
  con <- sample_sqlite(rows)
  it <- train_generator(con, rows$id, batch_size = 10, scale = 1 / 32, seed = 6, threads = 1,
                        features = c("recognized", "n_strokes", "countrycode"))
  expect_equal(attr(it, "n_features"), 2 + 3)
  batch <- it()
  expect_length(batch, 2)
  expect_length(batch[[1]], 2)
  x <- batch[[1]][[1]]
  features <- batch[[1]][[2]]
  ids <- batch_ids(batch)
  expect_equal(dim(x), c(10L, 8L, 8L, 1L))
  expect_equal(dim(features), c(10L, 5L))
  expect_equal(features[, 1], as.numeric(rows$recognized[ids]))
  # A stroke opens with "[[" (the first one with "[[[").
  strokes <- lengths(regmatches(rows$drawing[ids], gregexpr("[[", rows$drawing[ids], fixed = TRUE)))
  expect_equal(features[, 2], as.numeric(strokes))
  expected_country <- t(vapply(rows$countrycode[ids], function(code) {
    as.numeric(c("DE", "GB", "US") %in% code)
  }, numeric(3)))
  expect_equal(unname(features[, 3:5]), unname(expected_country))
})

test_that("bad arguments are refused with clear messages", {
  rows <- one_class_per_row(16)
  con <- sample_sqlite(rows)
  expect_error(train_generator("db", rows$id), "DBIConnection")
  expect_error(train_generator(con, rows$id, batch_size = 0), "batch_size")
  expect_error(train_generator(con, c(1, 1, 2), batch_size = 2), "duplicated")
  expect_error(train_generator(con, 1:4, batch_size = 8), "samples_index")
  expect_error(train_generator(con, rows$id, batch_size = 4, scale = 20), "scale")
  expect_error(train_generator(con, rows$id, batch_size = 4, color = NA), "color")
  expect_error(train_generator(con, rows$id, batch_size = 4, seed = -1), "seed")
  expect_error(train_generator(con, rows$id, batch_size = 4, features = "shoe_size"),
               "shoe_size", class = "doodles_error_argument")
  missing_ids <- train_generator(con, c(1:7, 1000L), batch_size = 8, threads = 1)
  expect_error(missing_ids(), "not in table doodles", class = "doodles_error_argument")
  too_few_classes <- train_generator(con, rows$id, num_classes = 4, batch_size = 16, threads = 1)
  expect_error(too_few_classes(), "outside 0..3", class = "doodles_error_data")
  closed <- DBI::dbConnect(RSQLite::SQLite(), ":memory:")
  DBI::dbDisconnect(closed)
  expect_error(train_generator(closed, 1:4, batch_size = 2, num_classes = 2), "closed")
})

test_that("the closure meets the R keras generator contract", {
  # keras::fit_generator() and keras3::fit() call a function of no arguments returning
  # list(x, y) of numeric arrays; neither package is installed here, so the contract is checked.
  rows <- one_class_per_row(16)
  con <- sample_sqlite(rows)
  it <- train_generator(con, rows$id, batch_size = 4, scale = 1 / 32, seed = 1, threads = 1)
  expect_length(formals(it), 0)
  for (i in 1:10) {
    batch <- it()
    expect_true(is.double(batch[[1]]) && is.double(batch[[2]]))
    expect_length(dim(batch[[1]]), 4)
    expect_length(dim(batch[[2]]), 2)
  }
})

test_that("test_generator walks a data frame in order, last partial batch included", {
  test <- sample_test()[1:20, ]
  it <- test_generator(test, batch_size = 8, scale = 0.125, threads = 1)
  expect_equal(attr(it, "steps"), 3)
  expect_equal(attr(it, "key_id"), test$key_id)
  batches <- list(it(), it(), it())
  expect_null(it())
  expect_equal(vapply(batches, function(b) dim(b[[1]])[1], 1L), c(8L, 8L, 4L))
  expect_true(all(lengths(batches) == 1))
  expected <- draw_doodles(test$drawing, scale = 0.125, threads = 1)
  expect_equal(batches[[3]][[1]], expected[17:20, , , , drop = FALSE])
  expect_equal(batches[[1]][[1]], expected[1:8, , , , drop = FALSE])
})

test_that("test_generator walks the test table of a connection by id", {
  con <- sample_sqlite()
  test <- sample_test()
  it <- test_generator(con, batch_size = 256, scale = 1 / 32, imagenet_preproc = TRUE,
                       threads = 1)
  expect_equal(attr(it, "steps"), 3)
  expect_equal(attr(it, "key_id"), test$key_id)
  sizes <- integer()
  while (!is.null(batch <- it())) sizes <- c(sizes, dim(batch[[1]])[1])
  expect_equal(sizes, c(256L, 256L, 238L))
  expect_null(it())
  last <- test_generator(con, batch_size = 700, scale = 1 / 32, threads = 1)
  last()
  expect_equal(last()[[1]], draw_doodles(test$drawing[701:750], scale = 1 / 32, threads = 1))
})

test_that("test_generator gives side features like train_generator", {
  con <- sample_sqlite()
  test <- sample_test()[1:5, ]
  it <- test_generator(test, batch_size = 5, scale = 1 / 32, features = c("n_strokes", "countrycode"),
                       con = con, threads = 1)
  from_table <- test_generator(con, batch_size = 5, scale = 1 / 32,
                               features = c("n_strokes", "countrycode"), threads = 1)
  batch <- it()
  expect_equal(batch, from_table())
  countries <- sort(unique(sample_train()$countrycode), method = "radix")
  countries <- countries[!is.na(countries) & nzchar(countries)]
  expect_equal(attr(it, "n_features"), 1 + length(countries))
  expect_equal(batch[[1]][[2]][1, 1], 7) # the first test drawing has 7 strokes
  expect_equal(unname(which(batch[[1]][[2]][1, -1] == 1)), match("GB", countries))
})

test_that("test_generator refuses bad input", {
  expect_error(test_generator(data.frame(x = 1)), "drawing")
  expect_error(test_generator(list(drawing = "[]")), "data.frame")
  empty <- DBI::dbConnect(RSQLite::SQLite(), ":memory:")
  on.exit(DBI::dbDisconnect(empty))
  expect_error(test_generator(empty), "no `test` table", class = "doodles_error_argument")
})

test_that("the stroke count is the parser's on every road, whatever the JSON's spacing", {
  # Valid JSON the rasterizer reads, with spaces where the dataset has none: 2, 1 and 3 strokes.
  drawings <- c("[ [ [0, 255], [0, 255] ] , [ [10, 20], [30, 40] ] ]",
                "[[[0,255],[0,255]]]",
                "[[[0],[0]],\n [[5, 6], [7, 8]], [[9],[9]]]")
  expect_identical(stroke_counts(drawings), c(2L, 1L, 3L))
  rows <- one_class_per_row(3)
  rows$drawing <- drawings
  lite <- sample_sqlite(rows)
  from_table <- train_generator(lite, rows$id, batch_size = 3, scale = 1 / 32, threads = 1,
                                features = "n_strokes", seed = 1)()
  expect_equal(from_table[[1]][[2]][, 1], c(2, 1, 3)[batch_ids(from_table)])
  frame <- test_generator(data.frame(drawing = drawings), batch_size = 3, scale = 1 / 32,
                          features = "n_strokes", con = lite, threads = 1)()
  expect_equal(frame[[1]][[2]][, 1], c(2, 1, 3))
  err <- expect_error(stroke_counts(c("[[[0],[0]]]", "[[[0],[0]]")), class = "doodles_error_drawing")
  expect_match(conditionMessage(err), "drawing 2")
})
