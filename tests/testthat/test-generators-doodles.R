# The doodles (DuckDB) connection: ids go to Rust and batches come back without drawing strings
# passing through R; they must equal the generic SQL path's batches.

# The real sample in a doodles database, and the same rows (same ids) in RSQLite.
doodles_pair <- function(env = parent.frame()) {
  duck <- DBI::dbConnect(doodles_duckdb(), dbdir = ":memory:")
  withr::defer(DBI::dbDisconnect(duck), envir = env)
  load_doodles(duck, sample_file("train_simplified.zip"))
  load_test(duck, sample_file("test_simplified.csv"))
  n <- DBI::dbGetQuery(duck, "SELECT count(*) AS n FROM doodles")$n
  lite <- DBI::dbConnect(RSQLite::SQLite(), ":memory:")
  withr::defer(DBI::dbDisconnect(lite), envir = env)
  rows <- DBI::dbGetQuery(duck, paste("SELECT id, drawing, label_int, countrycode, recognized",
                                      "FROM doodles ORDER BY id"))
  DBI::dbWriteTable(lite, "doodles", rows)
  DBI::dbWriteTable(lite, "labels", DBI::dbGetQuery(duck, "SELECT * FROM labels"))
  DBI::dbWriteTable(lite, "test", DBI::dbGetQuery(duck, "SELECT * FROM test ORDER BY id"))
  list(duck = duck, lite = lite, ids = rows$id)
}

test_that("doodles and RSQLite connections give identical batches, with or without prefetch", {
  db <- doodles_pair()
  expect_equal(length(db$ids), 3000)
  for (color in c(FALSE, TRUE)) {
    make <- function(con, prefetch) {
      train_generator(con, db$ids, batch_size = 64, scale = 0.25, color = color, seed = 11,
                      prefetch = prefetch, threads = 2)
    }
    lite <- make(db$lite, FALSE)
    prefetched <- make(db$duck, TRUE)
    direct <- make(db$duck, FALSE)
    expect_equal(attr(prefetched, "num_classes"), 345)
    # 47 steps per epoch: the loop crosses an epoch boundary (and its reshuffle).
    for (i in 1:50) {
      expected <- lite()
      expect_identical(prefetched(), expected)
      expect_identical(direct(), expected)
    }
  }
})

test_that("side features and test batches agree between the two connections", {
  db <- doodles_pair()
  features <- c("countrycode", "recognized", "n_strokes")
  duck <- train_generator(db$duck, db$ids, batch_size = 32, scale = 0.125, seed = 3,
                          features = features, threads = 2)
  lite <- train_generator(db$lite, db$ids, batch_size = 32, scale = 0.125, seed = 3,
                          features = features, threads = 2)
  expect_equal(attr(duck, "n_features"), attr(lite, "n_features"))
  for (i in 1:3) expect_equal(duck(), lite())
  duck_test <- test_generator(db$duck, batch_size = 300, scale = 0.125, threads = 2)
  lite_test <- test_generator(db$lite, batch_size = 300, scale = 0.125, threads = 2)
  expect_equal(as.character(attr(duck_test, "key_id")), as.character(attr(lite_test, "key_id")))
  for (i in 1:4) expect_equal(duck_test(), lite_test())
})
