# The shards of a multi-worker training (train_generator(workers, worker)) and the argument checks
# of the multi-worker functions; the training itself is in test-scripts-workers.R.

test_that("workers' shards are disjoint, cover the ids each epoch and form one process' batches", {
  rows <- one_class_per_row(50)
  con <- sample_sqlite(rows)
  ids <- rows$id[1:48]
  single <- train_generator(con, ids, batch_size = 8, scale = 0.125, seed = 3)
  shards <- lapply(0:1, function(w) {
    train_generator(con, ids, batch_size = 4, scale = 0.125, seed = 3, workers = 2, worker = w)
  })
  expect_identical(attr(shards[[1]], "steps_per_epoch"), 6L)
  expect_identical(attr(shards[[2]], "workers"), 2L)
  expect_identical(attr(shards[[2]], "worker"), 1L)
  epochs <- list()
  for (epoch in 1:2) {
    seen <- list(integer(), integer())
    for (step in 1:6) {
      global <- batch_ids(single())
      parts <- lapply(shards, function(it) batch_ids(it()))
      # The global batch of one process with batch 16 is worker 0's part, then worker 1's.
      expect_identical(c(parts[[1]], parts[[2]]), global)
      for (w in 1:2) seen[[w]] <- c(seen[[w]], parts[[w]])
    }
    expect_length(intersect(seen[[1]], seen[[2]]), 0L)
    expect_setequal(c(seen[[1]], seen[[2]]), ids)
    epochs[[epoch]] <- seen[[1]]
  }
  expect_false(identical(epochs[[1]], epochs[[2]]))
})

test_that("shards need a seed, a worker index among the workers and a global batch of ids", {
  con <- sample_sqlite(one_class_per_row(20))
  expect_error(train_generator(con, 1:20, batch_size = 4, workers = 2, worker = 0),
               class = "doodles_error_argument", regexp = "a `seed` is needed")
  expect_error(train_generator(con, 1:20, batch_size = 4, seed = 1, workers = 2, worker = 2),
               "worker")
  expect_error(train_generator(con, 1:7, batch_size = 4, seed = 1, workers = 2, worker = 0),
               "samples_index")
})

test_that("training_strategy() checks the workers' addresses and index before TensorFlow", {
  expect_error(training_strategy(workers = "a:1,b:2"), class = "doodles_error_argument",
               regexp = "`worker_index` is needed")
  expect_error(training_strategy(workers = c("a:1", "b:2"), worker_index = 2),
               "`worker_index` is 2, but there are 2 workers (indices 0 to 1)", fixed = TRUE)
  expect_error(training_strategy(workers = "a:1,b", worker_index = 0),
               "Worker addresses must be host:port, not 'b'", fixed = TRUE)
  expect_error(training_strategy(workers = "a:1,a:1", worker_index = 0),
               "Worker address 'a:1' is given twice", fixed = TRUE)
  expect_error(training_strategy(worker_index = 0), "`worker_index` needs `workers`")
})

test_that("check_workers_agree() has nothing to check for one process", {
  expect_true(check_workers_agree(list(n_workers = 1L), database = "x"))
  expect_error(check_workers_agree(list(n_workers = 1L), "unnamed"))
})

test_that("database_fingerprint() tells databases apart by their doodles and labels", {
  zip <- sample_file("train_simplified.zip")
  fingerprints <- lapply(1:2, function(i) {
    con <- DBI::dbConnect(doodles_duckdb())
    withr::defer(DBI::dbDisconnect(con))
    load_doodles(con, zip)
    if (i == 2) DBI::dbExecute(con, "UPDATE doodles SET drawing = '[[[0],[0]]]' WHERE id = 5")
    fingerprint <- database_fingerprint(con)
    list(fingerprint, index_doodles(con))
  })
  a <- fingerprints[[1]][[1]]
  b <- fingerprints[[2]][[1]]
  expect_identical(a$rows, 3000)
  expect_identical(a$labels, b$labels)
  expect_false(identical(a$hash, b$hash))
  expect_match(format(a), "^3,000 rows, doodles hash [0-9a-f]{16}, labels hash [0-9a-f]{16}$")
})
