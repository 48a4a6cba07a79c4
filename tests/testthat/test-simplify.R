# simplify_doodles(): raw strokes to the dataset's simplified form.

# The textbook algorithm, one stroke at a time and recursively, to check the vectorised passes.
reference_simplify <- function(strokes, epsilon = 2) {
  x <- unlist(lapply(strokes, `[[`, "x"))
  y <- unlist(lapply(strokes, `[[`, "y"))
  extent <- max(max(x) - min(x), max(y) - min(y))
  if (extent == 0) extent <- 255
  rdp <- function(px, py) {
    n <- length(px)
    if (n < 3) return(seq_len(n))
    dx <- px[n] - px[1]
    dy <- py[n] - py[1]
    inner <- 2:(n - 1)
    d <- if (dx == 0 && dy == 0) {
      sqrt((px[inner] - px[1])^2 + (py[inner] - py[1])^2)
    } else {
      abs((px[inner] - px[1]) * dy - (py[inner] - py[1]) * dx) / sqrt(dx^2 + dy^2)
    }
    if (max(d) <= epsilon) return(c(1L, n))
    k <- inner[which.max(d)]
    c(rdp(px[1:k], py[1:k]), k - 1L + rdp(px[k:n], py[k:n])[-1])
  }
  parts <- vapply(strokes, function(s) {
    sx <- (s$x - min(x)) * 255 / extent
    sy <- (s$y - min(y)) * 255 / extent
    keep <- rdp(sx, sy)
    sprintf("[[%s], [%s]]", paste(round(sx[keep]), collapse = ", "),
            paste(round(sy[keep]), collapse = ", "))
  }, "")
  paste0("[", paste(parts, collapse = ", "), "]")
}

parse_strokes <- function(json) {
  lapply(jsonlite::parse_json(json), function(s) list(x = unlist(s[[1]]), y = unlist(s[[2]])))
}

test_that("a drawing is aligned to the top-left, scaled to 0..255 and its lines simplified", {
  # A square of side 200 at (100, 50) on a canvas, with points every 50 pixels along its sides.
  side <- c(0, 50, 100, 150, 200)
  square <- list(x = c(side, rep(200, 4), rev(side)[-1], rep(0, 4)) + 100,
                 y = c(rep(0, 5), side[-1], rep(200, 4), rev(side)[-1]) + 50)
  expect_identical(simplify_doodles(list(list(square))),
                   "[[[0, 255, 255, 0, 0], [0, 0, 255, 255, 0]]]")
  # The aspect ratio is kept: the longer side spans 0..255.
  wide <- list(list(x = c(10, 110, 110), y = c(10, 10, 30)), list(x = 60, y = 20))
  expect_identical(simplify_doodles(list(wide)),
                   "[[[0, 255, 255], [0, 0, 51]], [[128], [26]]]")
  # The JSON form (with the raw data's times), a matrix per stroke and lists give the same.
  json <- "[[[10, 110, 110], [10, 10, 30], [0, 16, 40]], [[60], [20], [70]]]"
  expect_identical(simplify_doodles(json), simplify_doodles(list(wide)))
  matrices <- lapply(wide, function(s) cbind(s$x, s$y))
  expect_identical(simplify_doodles(list(matrices)), simplify_doodles(list(wide)))
  expect_identical(simplify_doodles(c(json, "[]", "[[[5, 5], [9, 9]]]")),
                   c(simplify_doodles(json), "[]", "[[[0, 0], [0, 0]]]"))
  expect_identical(simplify_doodles(character()), character())
})

test_that("a point is kept when it lies farther than epsilon from the line of its neighbours", {
  # On a drawing 255 wide, so that the coordinates are not scaled.
  bump <- function(height) list(list(x = c(0, 100, 255), y = c(0, height, 0)))
  expect_identical(simplify_doodles(list(bump(2))), "[[[0, 255], [0, 0]]]")
  expect_identical(simplify_doodles(list(bump(2.5))), "[[[0, 100, 255], [0, 2, 0]]]")
  expect_identical(simplify_doodles(list(bump(2.5)), epsilon = 3), "[[[0, 255], [0, 0]]]")
  expect_identical(simplify_doodles(list(bump(1)), epsilon = 0), "[[[0, 100, 255], [0, 1, 0]]]")
  # A closed stroke: its points are first measured from its start, where it ends.
  loop <- list(list(x = c(0, 255, 255, 1, 0), y = c(0, 0, 255, 1, 0)))
  expect_identical(simplify_doodles(list(loop)), "[[[0, 255, 255, 0], [0, 0, 255, 0]]]")
})

test_that("the vectorised passes simplify as the recursive algorithm, on raw-like real drawings", {
  # The sample's drawings made raw again: resampled at about 1-pixel spacing along the strokes,
  # jittered by up to a pixel, on a 600 x 400 canvas.
  drawings <- sample_train()$drawing[seq(1, 3000, by = 5)]
  raw <- withr::with_seed(3, lapply(drawings, function(d) {
    lapply(parse_strokes(d), function(s) {
      n <- length(s$x)
      if (n > 1) {
        steps <- pmax(1, ceiling(sqrt(diff(s$x)^2 + diff(s$y)^2)))
        at <- c(rep(seq_len(n - 1), steps) + unlist(lapply(steps, function(k) (seq_len(k) - 1) / k)), n)
        s <- list(x = stats::approx(seq_len(n), s$x, at)$y, y = stats::approx(seq_len(n), s$y, at)$y)
      }
      list(x = 40 + 2.1 * s$x + stats::runif(length(s$x), -1, 1),
           y = 30 + 1.4 * s$y + stats::runif(length(s$x), -1, 1))
    })
  }))
  expect_gt(sum(rapply(raw, length, how = "unlist")), 2 * 600 * 100)
  simplified <- simplify_doodles(raw)
  expect_identical(simplified, vapply(raw, reference_simplify, ""))
  expect_identical(simplify_doodles(raw, epsilon = 5), vapply(raw, reference_simplify, "", 5))
  # What is left is close to the dataset's drawing: a few points more or less per drawing.
  points <- function(json) vapply(json, function(d) length(unlist(parse_strokes(d))) / 2, 1)
  expect_lt(stats::median(abs(points(simplified) - points(drawings))), 5)
})

test_that("simplifying the sample's simplified drawings again changes little", {
  drawings <- sample_train()$drawing
  again <- simplify_doodles(drawings)
  before <- lapply(drawings, parse_strokes)
  after <- lapply(again, parse_strokes)
  # Every stroke is still there with its first and last point; where the drawing already spans
  # from 0 to 255 (70% of them), the points left are the drawing's own.
  expect_identical(lengths(after), lengths(before))
  ends <- function(strokes) lapply(strokes, function(s) c(s$x[c(1, length(s$x))], s$y[c(1, length(s$y))]))
  spans <- vapply(before, function(s) {
    x <- unlist(lapply(s, `[[`, "x"))
    y <- unlist(lapply(s, `[[`, "y"))
    min(x) == 0 && min(y) == 0 && max(x, y) == 255
  }, NA)
  expect_gt(mean(spans), 0.65)
  expect_identical(lapply(after[spans], ends), lapply(before[spans], ends))
  subset <- mapply(function(b, a) all(mapply(function(sb, sa) {
    all(paste(sa$x, sa$y) %in% paste(sb$x, sb$y))
  }, b, a)), before[spans], after[spans])
  expect_true(all(subset))
  # The points removed are those rounding put within 2 of the line of their neighbours: 3.5% of
  # them, at most 2 in 78% of the drawings.
  n_before <- vapply(before, function(s) length(unlist(s)) / 2, 1)
  n_after <- vapply(after, function(s) length(unlist(s)) / 2, 1)
  expect_gt(sum(n_after) / sum(n_before), 0.96)
  expect_gt(mean(n_before - n_after <= 2), 0.75)
  # And the pictures the model sees are nearly the same.
  images_before <- draw_doodles(drawings, scale = 0.25)
  images_after <- draw_doodles(again, scale = 0.25)
  expect_lt(mean(images_before != images_after), 0.02)
})

test_that("a drawing that cannot be read is named by its position", {
  expect_error(simplify_doodles(c("[]", "[[[1, 2], [3]]]")),
               "Drawing 2 cannot be simplified: stroke 1 has 2 x and 1 y values",
               class = "doodles_error_input")
  err <- tryCatch(simplify_doodles(c("[]", "[]", "nope")), error = identity)
  expect_s3_class(err, "doodles_error_input")
  expect_identical(err$index, 3L)
  expect_match(conditionMessage(err), "Drawing 3 cannot be simplified: it is not valid JSON")
  expect_error(simplify_doodles(NA_character_), "Drawing 1 .*it is NA", class = "doodles_error_input")
  expect_error(simplify_doodles("[[[], []]]"), "stroke 1 has no points", class = "doodles_error_input")
  expect_error(simplify_doodles("[[[1, \"a\"], [1, 2]]]"), "stroke 1 has a coordinate that is not a number",
               class = "doodles_error_input")
  expect_error(simplify_doodles("{\"x\": 1}"), "stroke 1 is not an array of x and y arrays",
               class = "doodles_error_input")
  expect_error(simplify_doodles(list(list(list(x = c(1, Inf), y = c(1, 2))))),
               "stroke 1 has a coordinate that is not a finite number", class = "doodles_error_input")
  expect_error(simplify_doodles(list(list(list(x = 1)))), "stroke 1 has no numeric x and y",
               class = "doodles_error_input")
  expect_error(simplify_doodles(list("[]")), "Drawing 1 .*not a list of strokes",
               class = "doodles_error_input")
  expect_error(simplify_doodles("[]", epsilon = -1), "epsilon")
})
