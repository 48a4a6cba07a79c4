# draw_doodles() and draw_doodle(): shapes, values, encodings, threads, bad input (which pixels a
# stroke inks is tested in Rust: raster/src/draw.rs and raster/tests/real_drawings.rs).

test_that("the side is round(256 * scale) for arrays of every shape", {
  drawings <- raster_sample()$test[1:3]
  for (scale in c(0.25, 0.3, 0.5, 1)) {
    side <- as.integer(round(256 * scale))
    expect_identical(dim(draw_doodles(drawings, scale = scale)), c(3L, side, side, 1L))
    expect_identical(dim(draw_doodles(drawings, scale = scale, color = TRUE)), c(3L, side, side, 3L))
    expect_identical(dim(draw_doodle(drawings[1], scale = scale)), c(side, side, 1L))
  }
  expect_identical(dim(draw_doodles(character(), scale = 0.5)), c(0L, 128L, 128L, 1L))
  expect_identical(dim(draw_doodles(drawings, encoding = "stack", scale = 0.25)), c(3L, 64L, 64L, 3L))
  expect_identical(dim(draw_doodles(drawings, encoding = "order", scale = 0.25)), c(3L, 64L, 64L, 1L))
})

test_that("a line is black ink on a white canvas, nothing but 0 and 1", {
  # Which pixels a line inks is raster/src/draw.rs' test of the same drawing; here, the values R gets.
  image <- draw_doodle("[[[10, 20], [100, 100]]]")
  expect_identical(sort(unique(as.vector(image))), c(0, 1))
  expect_identical(image[101, 15, 1], 0)
  expect_identical(image[50, 50, 1], 1)
})

test_that("colour gives stroke k of n the hue 360 k / n at S = 1, V = 220/255", {
  v <- 220 / 255
  image <- draw_doodle("[[[10], [10]], [[100], [100]], [[200], [200]]]", color = TRUE)
  expect_equal(image[11, 11, ], c(v, 0, 0))
  expect_equal(image[101, 101, ], c(0, v, 0))
  expect_equal(image[201, 201, ], c(0, 0, v))
  expect_identical(image[50, 50, ], c(1, 1, 1))
  # Later strokes cover earlier ones.
  crossing <- draw_doodle("[[[0, 255], [100, 100]], [[100, 100], [0, 255]]]", color = TRUE)
  expect_equal(crossing[101, 101, ], c(0, v, v))
  # 200 strokes, 200 colours (the article's integer hue step 180 / 200 = 0 gave one).
  x <- 10 * (0:199 %% 20) + 5
  y <- 10 * (0:199 %/% 20) + 5
  many <- sprintf("[%s]", paste(sprintf("[[%d], [%d]]", x, y), collapse = ", "))
  colours <- draw_doodle(many, color = TRUE)
  dots <- t(mapply(function(x, y) colours[y + 1, x + 1, ], x, y))
  expect_identical(nrow(unique(dots)), 200L)
})

test_that("order, point and stack encodings hold the documented values", {
  drawing <- "[[[10, 100, 200], [10, 10, 10]], [[10], [200]]]"
  order <- draw_doodle(drawing, encoding = "order")
  expect_identical(c(order[11, 50, 1], order[11, 150, 1], order[201, 11, 1], order[100, 100, 1]), c(1, 1, 0.5, 0))
  point <- draw_doodle(drawing, encoding = "point")
  expect_identical(c(point[11, 50, 1], point[11, 150, 1], point[201, 11, 1]), c(1, 0.5, 1))
  stack <- draw_doodle(drawing, encoding = "stack")
  expect_identical(stack[11, 150, ], c(1, 1, 0.5))
  expect_identical(stack[201, 11, ], c(1, 0.5, 1))
  expect_identical(stack[100, 100, ], c(0, 0, 0))
})

test_that("antialiased lines are soft and cover at least half where hard lines ink", {
  drawings <- raster_sample()$test[1:50]
  # Hard lines of the antialiased radius at scale 0.5: (3.9 / 2 + 0.65) / 2 = (3 / 2 + 1.1) / 2.
  hard <- draw_doodles(drawings, scale = 0.5, line_width = 3.9)
  soft <- draw_doodles(drawings, scale = 0.5, antialias = TRUE)
  expect_true(any(soft > 0 & soft < 1))
  # Coverage >= 0.5 (up to its rounding to 1/255 at exact ties) where the centre is within r.
  expect_true(all(soft[hard == 0] <= 0.5 + 1 / 255))
  expect_true(all(soft[hard == 1] >= 0.49))
  expect_true(all(soft >= 0 & soft <= 1))
})

test_that("one thread and two give identical batches", {
  drawings <- raster_sample()$test
  for (color in c(FALSE, TRUE)) {
    one <- draw_doodles(drawings, scale = 0.5, color = color, threads = 1)
    expect_identical(draw_doodles(drawings, scale = 0.5, color = color, threads = 2), one)
  }
  soft <- draw_doodles(drawings, scale = 0.3, antialias = TRUE, encoding = "stack", threads = 1)
  expect_identical(draw_doodles(drawings, scale = 0.3, antialias = TRUE, encoding = "stack", threads = 2), soft)
})

test_that("all 3,750 drawings of the sample parse and draw, each with ink", {
  sample <- raster_sample()
  drawings <- c(sample$train, sample$test)
  expect_length(drawings, 3750)
  batch <- draw_doodles(drawings, scale = 0.25)
  expect_true(all(apply(batch < 1, 1, any)))
})

test_that("bad drawings raise doodles_error naming their 1-based index and the problem", {
  good <- "[[[1, 2], [3, 4]]]"
  cases <- list(
    list(drawing = "{\"x\": [1]}", problem = "expected a JSON array of strokes"),
    list(drawing = "[[1, 2], [3, 4]]", problem = "expected an array of numbers as x of stroke 1"),
    list(drawing = "[[[1, 2]]]", problem = "stroke 1 has only one array"),
    list(drawing = "[[[1, 2], [3, 4], [5, 6]]]", problem = "stroke 1 has more than two arrays"),
    list(drawing = "[[[1, 2], [3, 4]], [[1, 2, 3], [4, 5]]]", problem = "stroke 2: x has 3 values but y has 2"),
    list(drawing = "[[[1, \"2\"], [3, 4]]]", problem = "expected a number as x value 2 of stroke 1"),
    list(drawing = "[[[1, 2], [3, null]]]", problem = "expected a number as y value 2 of stroke 1"),
    list(drawing = NA_character_, problem = "NA, expected a JSON array of strokes")
  )
  for (case in cases) {
    condition <- expect_error(draw_doodles(c(good, good, case$drawing, good), scale = 0.25), class = "doodles_error")
    expect_s3_class(condition, "doodles_error_drawing")
    expect_identical(condition$index, 3)
    expect_match(conditionMessage(condition), "^drawing 3: ")
    expect_match(conditionMessage(condition), case$problem, fixed = TRUE)
  }
  # The first bad one is reported, whatever the threads.
  many <- rep(good, 500)
  many[c(321, 123)] <- "[1"
  for (threads in 1:2) {
    expect_identical(expect_error(draw_doodles(many, threads = threads), class = "doodles_error")$index, 123)
  }
  expect_error(draw_doodle(NA_character_), "drawing 1: NA", class = "doodles_error")
})

test_that("arguments are checked", {
  expect_error(draw_doodles(1:3))
  expect_error(draw_doodles("[]", scale = -1))
  expect_error(draw_doodles("[]", scale = 0.001), "image side", class = "doodles_error_argument")
  expect_error(draw_doodles("[]", encoding = "grey"))
  expect_error(draw_doodles("[]", color = TRUE, encoding = "order"), class = "doodles_error_argument")
  expect_error(draw_doodles("[]", threads = 0))
  expect_error(draw_doodle(c("[]", "[]")))
})

test_that("doodles_threads() reads the option, then the environment, then the cores", {
  withr::with_options(list(doodles.threads = 3), expect_identical(doodles_threads(), 3L))
  withr::with_options(list(doodles.threads = NULL), {
    withr::with_envvar(c(DOODLES_THREADS = "5"), expect_identical(doodles_threads(), 5L))
    withr::with_envvar(c(DOODLES_THREADS = ""), {
      cores <- doodles_threads()
      expect_true(is.integer(cores) && cores >= 1)
    })
    withr::with_envvar(c(DOODLES_THREADS = "two"), expect_error(doodles_threads(), "DOODLES_THREADS", class = "doodles_error"))
  })
  withr::with_options(list(doodles.threads = 0), expect_error(doodles_threads(), "doodles.threads", class = "doodles_error"))
})

test_that("a threads argument above the cap is refused before any thread starts", {
  drawing <- "[[[0, 255], [0, 255]]]"
  expect_error(draw_doodles(drawing, threads = 1000), "threads", class = "doodles_error_argument")
  expect_error(test_generator(data.frame(drawing = drawing), threads = 257),
               class = "doodles_error_argument")
  con <- DBI::dbConnect(doodles_duckdb())
  withr::defer(DBI::dbDisconnect(con))
  expect_error(load_doodles(con, sample_zip(), threads = 1e6), class = "doodles_error_argument")
  expect_identical(dim(draw_doodles(drawing, scale = 1 / 32, threads = 256)), c(1L, 8L, 8L, 1L))
})
