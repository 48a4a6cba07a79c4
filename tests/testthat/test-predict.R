# map_at_k(), write_submission() and predict_top3().

test_that("map_at_k scores 1/rank of the true class among the first k", {
  predicted <- rbind(c("a", "b", "c"), c("b", "a", "c"), c("b", "c", "a"), c("b", "c", "d"))
  expect_equal(map_at_k(c("a", "a", "a", "a"), predicted), (1 + 1 / 2 + 1 / 3 + 0) / 4)
  expect_equal(map_at_k(c("a", "a", "a", "a"), predicted, k = 1), 1 / 4)
  expect_equal(map_at_k(1:2, rbind(c(3, 1, 2), c(2, 5, 6))), (1 / 2 + 1) / 2)
  # A word is counted once, at its first rank.
  expect_equal(map_at_k("a", rbind(c("b", "a", "a"))), 1 / 2)
})

test_that("map_at_k reads the submission format and matches rows by key_id", {
  actual <- data.frame(key_id = c("11", "12", "13"), word = c("The_Eiffel_Tower", "cat", "dog"))
  submission <- data.frame(key_id = c("13", "11", "12"),
                           word = c("dog cat cow", "cat The_Eiffel_Tower dog", "cow dog cat"))
  expect_equal(map_at_k(actual, submission), (1 + 1 / 2 + 1 / 3) / 3)
  top3 <- data.frame(key_id = c("12", "13", "11"), word1 = c("cow", "dog", "cat"),
                     word2 = c("dog", "cat", "The Eiffel Tower"), word3 = c("cat", "cow", "dog"))
  expect_equal(map_at_k(actual, top3), (1 + 1 / 2 + 1 / 3) / 3)
  expect_equal(map_at_k(c("The Eiffel Tower", "cat"), c("The_Eiffel_Tower a b", "a b c")), 1 / 2)
  expect_error(map_at_k(actual, top3[1:2, ]), "no prediction", class = "doodles_error_argument")
  # Key ids held in doubles match their character form.
  numeric_ids <- transform(top3, key_id = as.numeric(key_id) + 4889008825958400)
  actual_ids <- transform(actual, key_id = c("4889008825958411", "4889008825958412",
                                             "4889008825958413"))
  expect_equal(map_at_k(actual_ids, numeric_ids), (1 + 1 / 2 + 1 / 3) / 3)
  expect_error(map_at_k("a", rbind(c("a", "b"))), "fewer than k", class = "doodles_error_argument")
  expect_error(map_at_k(c("a", "b"), rbind(c("a", "b", "c"))), "length")
})

test_that("write_submission writes Kaggle's format, spaces in words as _", {
  top3 <- data.frame(key_id = c(9000003627287624, 4889008825958400),
                     word1 = c("The Eiffel Tower", "cat"), word2 = c("castle", "hot dog"),
                     word3 = c("house", "dog"), stringsAsFactors = FALSE)
  path <- withr::local_tempfile(fileext = ".csv")
  expect_equal(write_submission(top3, path), path)
  expect_equal(readLines(path), c("key_id,word",
                                  "9000003627287624,The_Eiffel_Tower castle house",
                                  "4889008825958400,cat hot_dog dog"))
  back <- utils::read.csv(path, colClasses = "character")
  expect_equal(map_at_k(data.frame(key_id = back$key_id, word = c("house", "hot_dog")), back),
               (1 / 3 + 1 / 2) / 2)
})

test_that("a zipped submission holds the CSV file", {
  top3 <- data.frame(key_id = "1", word1 = "a", word2 = "b", word3 = "c")
  dir <- withr::local_tempdir()
  path <- file.path(dir, "submission.csv.zip")
  write_submission(top3, path)
  listing <- utils::unzip(path, list = TRUE)
  expect_equal(listing$Name, "submission.csv")
  utils::unzip(path, exdir = file.path(dir, "out"))
  expect_equal(readLines(file.path(dir, "out", "submission.csv")), c("key_id,word", "1,a b c"))
  write_submission(top3, path) # overwrites
  expect_equal(nrow(utils::unzip(path, list = TRUE)), 1)
  expect_error(write_submission(top3[, 1:3], path), "word3")
})

test_that("predict_top3 returns the three most probable words, best first", {
  skip_if_no_keras()
  keras <- keras_module()
  # A model whose output is softmax(x %*% w): with x one-hot, the ranking is the row of w.
  inputs <- keras$Input(shape = reticulate::tuple(4L))
  dense <- keras$layers$Dense(5L, activation = "softmax", use_bias = FALSE)
  model <- keras$Model(inputs, dense(inputs))
  w <- rbind(c(5, 4, 3, 2, 1), c(1, 2, 3, 4, 5), c(0, 9, 1, 8, 2), c(3, 3, 0, 0, 9))
  dense$set_weights(list(w))
  x <- diag(4)
  words <- c("apple", "hot dog", "cat", "dog", "sun")
  top3 <- predict_top3(model, x, words = words, key_id = c("a", "b", "c", "d"))
  expect_equal(top3, data.frame(key_id = c("a", "b", "c", "d"),
                                word1 = c("apple", "sun", "hot dog", "sun"),
                                word2 = c("hot dog", "dog", "dog", "apple"),
                                word3 = c("cat", "cat", "sun", "hot dog")))
  batches <- list(list(x[1:3, ]), list(x[4, , drop = FALSE]))
  i <- 0
  generator <- structure(function() {
    i <<- i + 1
    if (i > length(batches)) NULL else batches[[i]]
  }, key_id = c("a", "b", "c", "d"))
  expect_equal(predict_top3(model, generator, words), top3)
  expect_error(predict_top3(model, x, words[1:3]), "names 3", class = "doodles_error_argument")
})
