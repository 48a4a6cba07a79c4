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

test_that("an ensemble averages its models' probabilities, each drawn for its own input", {
  skip_if_no_keras()
  test <- utils::read.csv(system.file("extdata", "test_simplified.csv", package = "doodles"),
                          colClasses = c(key_id = "character"))[1:40, ]
  keras_module()$utils$set_random_seed(11L)
  gray <- get_model("mlp", input_shape = c(16, 16), num_classes = 6, units = 5,
                    input_dtype = "uint8")
  colour <- get_model("lenet", input_shape = c(32, 32), color = TRUE, num_classes = 6)
  expect_identical(model_input(gray)[c("height", "channels", "format", "scale", "color")],
                   list(height = 16L, channels = 1L, format = "uint8", scale = 1 / 16,
                        color = FALSE))
  expect_identical(model_input(colour)[c("height", "channels", "format", "color")],
                   list(height = 32L, channels = 3L, format = "float32", color = TRUE))
  # Each model alone, on drawings rendered as its input takes them.
  p_gray <- predict_probabilities(gray, test)
  expect_identical(attr(p_gray, "key_id"), test$key_id)
  tg <- test_generator(test, batch_size = 16, scale = 1 / 16, format = "uint8")
  expect_equal(unclass(p_gray)[, ], predict_probabilities(gray, tg)[, ], tolerance = 1e-6)
  p_colour <- predict_probabilities(colour, test, batch_size = 7)
  expect_identical(dim(p_colour), c(40L, 6L))
  # A model with itself is the model; weights are used as given (scaled to sum to 1).
  expect_equal(predict_probabilities(list(gray, gray), test)[, ], p_gray[, ], tolerance = 1e-6)
  blend <- predict_probabilities(list(gray, colour), test, weights = c(3, 1))
  expect_equal(blend[, ], (3 * p_gray[, ] + p_colour[, ]) / 4, tolerance = 1e-6)
  expect_equal(rowSums(blend), rep(1, 40), tolerance = 1e-5)
  top3 <- predict_top3(list(gray, colour), test, words = letters[1:6], weights = c(3, 1))
  expect_identical(top3$key_id, test$key_id)
  expect_identical(top3$word1, letters[max.col(blend, ties.method = "first")])
  # Balanced top-1 classes: 40 drawings over 6 classes, 6 or 7 each.
  balanced <- predict_top3(list(gray, colour), test, words = letters[1:6], balance = TRUE)
  expect_true(all(table(factor(balanced$word1, letters[1:6])) %in% 6:7))

  expect_error(predict_probabilities(list(gray, colour), tg), "An ensemble predicts drawings",
               class = "doodles_error_argument")
  expect_error(predict_probabilities(list(gray, colour), test, weights = c(1, -1)),
               class = "doodles_error_argument")
  expect_error(predict_probabilities(list(gray, colour), test, weights = c(0, 0)),
               "must not all be 0", class = "doodles_error_argument")
  expect_error(predict_probabilities(list(gray, "model.keras"), test),
               "must be a Python Keras model", class = "doodles_error_argument")
  expect_error(predict_probabilities(gray, test, tta = "vflip"), class = "doodles_error_argument")
})

test_that("mirrored test-time augmentation averages the plain and the mirrored drawings' predictions", {
  skip_if_no_keras()
  test <- utils::read.csv(system.file("extdata", "test_simplified.csv", package = "doodles"),
                          colClasses = c(key_id = "character"))[1:30, ]
  keras_module()$utils$set_random_seed(12L)
  model <- get_model("lenet", input_shape = c(32, 32), num_classes = 5, input_dtype = "uint8")
  make <- function(mirror) {
    test_generator(test, batch_size = 8, scale = 0.125, format = "uint8", mirror = mirror)
  }
  plain <- predict_probabilities(model, make(FALSE))
  mirrored <- predict_probabilities(model, make(TRUE))
  # The two differ (the drawings are not symmetric), and TTA is their mean, by every road.
  expect_gt(max(abs(plain - mirrored)), 1e-4)
  expected <- (plain[, ] + mirrored[, ]) / 2
  expect_equal(predict_probabilities(model, test, tta = "hflip", batch_size = 8)[, ], expected,
               tolerance = 1e-6)
  expect_equal(predict_probabilities(model, make(FALSE), tta = "hflip")[, ], expected,
               tolerance = 1e-6)
  # R arrays: a generator is walked once; its `mirrored` attribute makes the mirrored one.
  array_road <- function() test_generator(test, batch_size = 8, scale = 0.125)
  float_model <- get_model("lenet", input_shape = c(32, 32), num_classes = 5)
  p_array <- predict_probabilities(float_model, array_road(), tta = "hflip")
  expect_equal(p_array[, ], (predict_probabilities(float_model, array_road())[, ] +
                               predict_probabilities(float_model, attr(array_road(), "mirrored")())[, ]) / 2,
               tolerance = 1e-6)
  top3 <- predict_top3(model, test, words = letters[1:5], tta = "hflip")
  expect_identical(top3$word1, letters[max.col(expected, ties.method = "first")])
  expect_error(predict_probabilities(model, function() NULL, tta = "hflip"),
               "needs a generator of test_generator", class = "doodles_error_argument")
})
