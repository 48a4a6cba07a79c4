# Mirrored drawings: the exact mirror image within the drawing's extent (columns 1..e+1 of the
# plain image reversed, e + 1 its last inked column, found here from the plain image), through
# draw_doodles(), the generators' `mirror`, test_generator()'s `mirrored` and `augment = "hflip"`.

backgrounds <- c(gray = 1, hue = 1, order = 0, point = 0, stack = 0)

# The plain batch `plain` (n, side, side, channels) with each drawing's inked columns reversed.
mirror_of <- function(plain, background) {
  out <- plain
  side <- dim(plain)[3]
  for (i in seq_len(dim(plain)[1])) {
    inked <- which(apply(plain[i, , , , drop = FALSE] != background, 3, any))
    if (!length(inked)) next
    last <- max(inked)
    out[i, , , ] <- plain[i, , c(last:1, seq_len(side)[-seq_len(last)]), , drop = FALSE]
  }
  out
}

# Which drawings of `x` are the mirror images (`mirrored`) rather than the plain ones; each must be
# one of the two, and NA where the two are the same.
which_mirrored <- function(x, plain, mirrored) {
  vapply(seq_len(dim(x)[1]), function(i) {
    is_plain <- identical(x[i, , , ], plain[i, , , ])
    is_mirrored <- identical(x[i, , , ], mirrored[i, , , ])
    expect_true(is_plain || is_mirrored)
    if (is_plain && is_mirrored) NA else is_mirrored
  }, logical(1))
}

numpy_to_r <- function(x) reticulate::py_to_r(x)

test_that("draw_doodles(mirror = TRUE) is the exact mirror in every encoding, hard or antialiased", {
  drawings <- sample_test()$drawing[1:40]
  for (scale in c(0.125, 0.3, 0.5)) {
    for (encoding in names(backgrounds)) {
      for (antialias in c(FALSE, TRUE)) {
        args <- list(drawings, scale = scale, encoding = encoding, color = encoding == "hue",
                     antialias = antialias, threads = 2)
        plain <- do.call(draw_doodles, args)
        mirrored <- do.call(draw_doodles, c(args, mirror = TRUE))
        expect_identical(mirrored, mirror_of(plain, backgrounds[[encoding]]))
        # No drawing of the sample is its own mirror image.
        expect_false(any(vapply(1:40, function(i) identical(mirrored[i, , , ], plain[i, , , ]), NA)))
        # One flag per drawing.
        flags <- rep(c(TRUE, FALSE, FALSE), length.out = 40)
        some <- do.call(draw_doodles, c(args, list(mirror = flags)))
        expect_identical(some[flags, , , , drop = FALSE], mirrored[flags, , , , drop = FALSE])
        expect_identical(some[!flags, , , , drop = FALSE], plain[!flags, , , , drop = FALSE])
      }
    }
  }
  # Mirrored twice is the plain image again: the extent is kept.
  plain <- draw_doodles(drawings, scale = 0.25)
  expect_identical(mirror_of(mirror_of(plain, 1), 1), plain)
  # Aligned to the left as the training drawings: both reach the first column.
  mirrored <- draw_doodles(drawings, scale = 0.25, mirror = TRUE)
  expect_true(all(apply(mirrored[, , 1, 1] < 1, 1, any)))
  expect_true(all(apply(plain[, , 1, 1] < 1, 1, any)))
  expect_identical(draw_doodles("[]", scale = 0.25, mirror = TRUE), draw_doodles("[]", scale = 0.25))
  expect_error(draw_doodles(drawings[1:3], mirror = c(TRUE, FALSE)), class = "doodles_error_argument")
  expect_error(draw_doodles(drawings[1:3], mirror = NA), class = "doodles_error_argument")
  expect_error(draw_doodles(drawings[1:3], mirror = "yes"), class = "doodles_error_argument")
})

test_that("the Keras forms of draw_doodles() are mirrored alike", {
  skip_if_no_keras()
  drawings <- sample_test()$drawing[1:30]
  args <- list(drawings, scale = 0.25, encoding = "stack", antialias = TRUE, format = "float32")
  plain <- numpy_to_r(do.call(draw_doodles, args))
  float <- numpy_to_r(do.call(draw_doodles, c(args, mirror = TRUE)))
  expect_identical(float, mirror_of(plain, 0))
  bytes <- numpy_to_r(draw_doodles(drawings, scale = 0.25, format = "uint8", mirror = TRUE))
  gray <- draw_doodles(drawings, scale = 0.25)
  expect_identical(bytes, array(as.integer(round(mirror_of(gray, 1) * 255)), dim(gray)))
})

test_that("generators with mirror = TRUE give mirrored batches on the SQL and doodles roads", {
  con <- local_store()
  load_doodles(con, sample_zip(), progress = FALSE)
  sqlite <- sample_sqlite()
  for (source in list(con, sqlite)) {
    plain <- train_generator(source, 1:600, batch_size = 50, scale = 0.125, seed = 3,
                             antialias = TRUE)
    mirrored <- train_generator(source, 1:600, batch_size = 50, scale = 0.125, seed = 3,
                                antialias = TRUE, mirror = TRUE)
    for (k in 1:3) {
      a <- plain()
      b <- mirrored()
      expect_identical(b[[2]], a[[2]])
      expect_identical(b[[1]], mirror_of(a[[1]], 1))
    }
  }
  # The test generator, and its `mirrored` twin.
  test <- sample_test()[1:70, ]
  it <- test_generator(test, batch_size = 32, scale = 0.25, color = TRUE)
  twin <- attr(it, "mirrored")()
  expect_s3_class(twin, "doodles_test_generator")
  expect_identical(attr(twin, "steps"), attr(it, "steps"))
  for (k in 1:3) {
    expect_identical(twin()[[1]], mirror_of(it()[[1]], 1))
  }
  expect_null(twin())
  # Its own twin draws plainly again.
  again <- attr(twin, "mirrored")()
  expect_identical(again()[[1]], draw_doodles(test$drawing[1:32], scale = 0.25, color = TRUE))
  from_db <- test_generator(sqlite, batch_size = 100, scale = 0.125, mirror = TRUE)
  expect_identical(from_db()[[1]], mirror_of(draw_doodles(sample_test()$drawing[1:100], scale = 0.125), 1))
  expect_error(train_generator(con, 1:600, batch_size = 50, mirror = 1), class = "doodles_error_argument")
})

test_that("the Keras forms on a doodles connection are mirrored: train, test and its twin", {
  skip_if_no_keras()
  con <- local_store()
  load_doodles(con, sample_zip(), progress = FALSE)
  for (format in c("uint8", "float32")) {
    encoding <- if (format == "uint8") "gray" else "order"
    plain <- train_generator(con, 1:600, batch_size = 50, scale = 0.125, seed = 5, format = format,
                             encoding = encoding)
    mirrored <- train_generator(con, 1:600, batch_size = 50, scale = 0.125, seed = 5,
                                format = format, encoding = encoding, mirror = TRUE)
    background <- if (format == "uint8") 255L else 0
    for (k in 1:2) {
      a <- plain()
      b <- mirrored()
      expect_identical(numpy_to_r(b[[2]]), numpy_to_r(a[[2]]))
      expect_identical(numpy_to_r(b[[1]]), mirror_of(numpy_to_r(a[[1]]), background))
    }
  }
  test <- sample_test()[1:70, ]
  it <- test_generator(test, batch_size = 32, scale = 0.25, format = "uint8")
  twin <- attr(it, "mirrored")()
  expect_s3_class(twin, "doodles_batches")
  for (k in 1:3) {
    expect_identical(numpy_to_r(twin()[[1]]), mirror_of(numpy_to_r(it()[[1]]), 255L))
  }
})

test_that("augment = 'hflip' mirrors about half of the drawings, per seed and epoch, on both roads", {
  con <- local_store()
  load_doodles(con, sample_zip(), progress = FALSE)
  ids <- 1:600
  make <- function(format, ...) {
    train_generator(con, ids, batch_size = 100, scale = 0.125, seed = 11, format = format, ...)
  }
  as_r <- function(batch) lapply(batch, function(x) if (inherits(x, "python.builtin.object")) numpy_to_r(x) else x)
  formats <- if (isTRUE(keras_available())) c("array", "uint8") else "array"
  for (format in formats) {
    plain <- make(format)
    mirrored <- make(format, mirror = TRUE)
    flipped <- make(format, augment = "hflip")
    again <- make(format, augment = "hflip")
    picked <- list()
    for (k in 1:12) { # two epochs of 6 batches
      a <- as_r(plain())
      b <- as_r(mirrored())
      f <- as_r(flipped())
      expect_identical(f[[2]], a[[2]]) # labels unchanged, the same order
      expect_identical(as_r(again())[[1]], f[[1]])
      picked[[k]] <- which_mirrored(f[[1]], a[[1]], b[[1]])
    }
    epoch1 <- unlist(picked[1:6])
    epoch2 <- unlist(picked[7:12])
    expect_lt(sum(is.na(epoch1)), 10) # drawings that are their own mirror image at 32 px
    count <- sum(epoch1, na.rm = TRUE)
    expect_gt(count, 0.4 * 600)
    expect_lt(count, 0.6 * 600)
    expect_false(identical(epoch1, epoch2))
    if (format == "array") {
      # Exactly the drawings R's seeded draw picks (per id, aligned with the epoch's order).
      for (epoch in 1:2) {
        plan <- doodles:::epoch_plan(ids, 11, epoch, hflip = TRUE)
        seen <- unlist(picked[(epoch - 1) * 6 + 1:6])
        expect_identical(seen[!is.na(seen)], plan$flip[!is.na(seen)])
        expect_identical(plan$ids, doodles:::shuffle_ids(ids, 11, epoch))
      }
    }
  }
  # SQL road: the drawings R's seeded draw picks, as on the doodles connection's array road.
  sqlite <- sample_sqlite()
  sql <- function(...) train_generator(sqlite, ids, batch_size = 100, scale = 0.125, seed = 11, ...)()
  a <- sql()
  f <- sql(augment = "hflip")
  expect_identical(f[[2]], a[[2]])
  seen <- which_mirrored(f[[1]], a[[1]], sql(mirror = TRUE)[[1]])
  expect_identical(seen[!is.na(seen)], doodles:::epoch_plan(ids, 11, 1, TRUE)$flip[1:100][!is.na(seen)])
  expect_gt(sum(seen, na.rm = TRUE), 30)
  for (bad in list("vflip", c("none", "hflip"), NA, 1, NULL)) {
    expect_error(train_generator(con, ids, batch_size = 100, augment = bad),
                 class = "doodles_error_argument")
  }
  expect_error(train_generator(con, ids, batch_size = 100, augment = "hflip", mirror = TRUE),
               class = "doodles_error_argument")
})

test_that("doodle_batch(mirror =) draws the ids mirrored, all of them or one flag each", {
  con <- local_store()
  load_doodles(con, sample_zip(), progress = FALSE)
  ids <- c(7, 1, 300, 2999)
  drawings <- read_doodles(con, ids)$drawing
  expect_identical(doodle_batch(con, ids, scale = 0.25, mirror = TRUE)$x,
                   draw_doodles(drawings, scale = 0.25, mirror = TRUE))
  flags <- c(TRUE, FALSE, FALSE, TRUE)
  # With the next batch rendered ahead (mirrored as `mirror` says when it is one value).
  batch <- doodle_batch(con, ids, scale = 0.25, mirror = flags, next_ids = rev(ids))
  expect_identical(batch$x, draw_doodles(drawings, scale = 0.25, mirror = flags))
  expect_identical(doodle_batch(con, rev(ids), scale = 0.25)$x,
                   draw_doodles(rev(drawings), scale = 0.25))
  expect_error(doodle_batch(con, ids, mirror = c(TRUE, FALSE)), "one per id",
               class = "doodles_error_argument")
  expect_error(doodle_batch(con, ids, mirror = NA), class = "doodles_error_argument")
})
