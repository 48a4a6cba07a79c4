# The rasterizer against geometry computed here, in R, from strokes read with regular
# expressions: on every real drawing of the sample, a pixel is inked when its centre is within the
# radius r of a segment and blank when it is farther (within 1e-6 either way, for ties), and, where
# r >= sqrt(0.5), every vertex's pixel is inked. r = max((line_width / 2 + e) * f, 0.5), f = side /
# 256, e = 1 at f >= 1 and 0.65 below (the OpenCV look, see ?draw_doodles).

# Segments of `drawings` in pixel coordinates at `side`: one row per segment (a one-point stroke is
# a segment of length 0), with the 1-based drawing number.
pixel_segments <- function(drawings, side) {
  f <- side / 256
  rows <- lapply(seq_along(drawings), function(i) {
    do.call(rbind, lapply(strokes_of(drawings[[i]]), function(stroke) {
      x <- (stroke[[1]] + 0.5) * f
      y <- (stroke[[2]] + 0.5) * f
      m <- length(x)
      if (m == 0) return(NULL)
      to <- if (m == 1) 1 else 2:m
      from <- if (m == 1) 1 else 1:(m - 1)
      cbind(drawing = i, x0 = x[from], y0 = y[from], x1 = x[to], y1 = y[to])
    }))
  })
  as.data.frame(do.call(rbind, rows))
}

# Checks a gray batch of `drawings` at `side` against the geometry; returns the number of pixels
# checked near the strokes.
check_geometry <- function(drawings, side, line_width = 3) {
  n <- length(drawings)
  batch <- draw_doodles(drawings, scale = side / 256, line_width = line_width)
  expect_identical(dim(batch), as.integer(c(n, side, side, 1)))
  expect_true(all(batch == 0 | batch == 1))
  f <- side / 256
  radius <- max((line_width / 2 + if (f >= 1) 1 else 0.65) * f, 0.5)
  s <- pixel_segments(drawings, side)
  # Candidate pixels: each segment's bounding box widened by the radius (farther ones are blank).
  column_from <- pmax(floor(pmin(s$x0, s$x1) - radius), 0)
  column_to <- pmin(floor(pmax(s$x0, s$x1) + radius), side - 1)
  row_from <- pmax(floor(pmin(s$y0, s$y1) - radius), 0)
  row_to <- pmin(floor(pmax(s$y0, s$y1) + radius), side - 1)
  rows <- pmax(row_to - row_from + 1, 0)
  count <- pmax(column_to - column_from + 1, 0) * rows
  segment <- rep(seq_len(nrow(s)), count)
  k <- sequence(count) - 1
  column <- column_from[segment] + k %/% rows[segment]
  row <- row_from[segment] + k %% rows[segment]
  # Distance from each candidate centre to its segment.
  dx <- s$x1[segment] - s$x0[segment]
  dy <- s$y1[segment] - s$y0[segment]
  qx <- column + 0.5 - s$x0[segment]
  qy <- row + 0.5 - s$y0[segment]
  length2 <- dx^2 + dy^2
  t <- ifelse(length2 > 0, pmin(pmax((qx * dx + qy * dy) / length2, 0), 1), 0)
  distance <- sqrt((qx - t * dx)^2 + (qy - t * dy)^2)
  # Positions in the array: drawing + n * (row + side * column), 1-based.
  position <- s$drawing[segment] + n * (row + side * column)
  may <- unique(position[distance <= radius + 1e-6])
  must <- unique(position[distance <= radius - 1e-6])
  inked <- which(batch == 0)
  expect_true(all(inked %in% may))
  expect_true(all(must %in% inked))
  vertex_column <- floor(c(s$x0, s$x1))
  vertex_row <- floor(c(s$y0, s$y1))
  inside <- vertex_column >= 0 & vertex_column < side & vertex_row >= 0 & vertex_row < side
  vertices <- (c(s$drawing, s$drawing) + n * (vertex_row + side * vertex_column))[inside]
  if (radius >= sqrt(0.5)) expect_true(all(vertices %in% inked))
  length(may)
}

test_that("every sample drawing is inked exactly within the radius, vertices included (scale 0.5)", {
  sample <- raster_sample()
  drawings <- c(sample$train, sample$test)
  for (chunk in split(drawings, ceiling(seq_along(drawings) / 500))) {
    expect_gt(check_geometry(chunk, 128), 0)
  }
})

test_that("the geometry holds for wide lines", {
  # Sides 256 and 77 are raster/tests/real_drawings.rs' check of the same drawings.
  drawings <- raster_sample()$test
  expect_gt(check_geometry(drawings[1:100], 128, line_width = 9), 0)
})
