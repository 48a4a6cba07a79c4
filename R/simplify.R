# Simplifying raw strokes (points as a pen or mouse recorded them) the way the Quick, Draw!
# dataset's simplified drawings were made, so that a drawing of one's own is drawn and predicted
# like the training data.

#' Simplify drawings as the Quick, Draw! dataset's simplified data
#'
#' Applies to raw strokes (in any coordinates, e.g. the pixels of a canvas) the steps that made the
#' dataset's simplified drawings from its raw ones: the drawing is aligned to the top-left corner
#' (its smallest x and y become 0), scaled uniformly so that its largest coordinate is 255, and each
#' stroke is simplified by the Ramer-Douglas-Peucker algorithm with tolerance `epsilon` (a point is
#' kept when it lies farther than `epsilon` from the line through the points kept around it);
#' the coordinates are then rounded to integers. The result is the JSON [draw_doodles()] and
#' [load_doodles()] take.
#'
#' The dataset also resampled the strokes at 1-pixel spacing before simplifying; that step is left
#' out, as Ramer-Douglas-Peucker removes nearly all the points it adds and keeping the recorded
#' vertices gives the same picture. The algorithm is not exactly idempotent on the dataset's
#' rounded coordinates: simplifying the simplified sample of `inst/extdata` again keeps 96.5% of
#' its points, the first and last of every stroke and all the points of 29% of the drawings, and
#' 78% of the drawings lose at most 2 points (points that lie within `epsilon` of the line through
#' their neighbours once rounded to integers). All the drawings of `x` are simplified together in
#' vectorised passes (one per level of the algorithm), not one at a time.
#'
#' @param x A character vector of drawings in the dataset's JSON form, `[[[x1, x2, ...], [y1, y2,
#'   ...]], ...]` (a third array per stroke, the raw data's times, is ignored); or a list of
#'   drawings, each a list of strokes, a stroke being a list (or data frame) with numeric `x` and
#'   `y` or a matrix whose first two columns are x and y.
#' @param epsilon The tolerance of Ramer-Douglas-Peucker, in the 0-255 units of the result (the
#'   dataset's is 2).
#' @return A character vector of drawings in the dataset's simplified JSON form, one per element of
#'   `x`; a drawing without strokes gives `"[]"`. A drawing that cannot be read (invalid JSON, a
#'   stroke without points, x and y of different lengths, a coordinate that is not a finite number)
#'   raises an error of class `doodles_error_input` whose message and field `index` give its 1-based
#'   position.
#' @export
#' @examples
#' # A stroke recorded on a 500-pixel canvas, with points every few pixels along two sides.
#' raw <- list(list(list(x = c(100, 150, 200, 250, 300, 300, 300),
#'                       y = c(400, 400, 401, 400, 400, 300, 200))))
#' simplify_doodles(raw)
#' simplify_doodles("[[[10, 20, 30], [5, 5, 6], [0, 16, 33]]]") # raw JSON with times
#' image <- draw_doodle(simplify_doodles(raw), scale = 0.125)
#' sum(image == 0) # the inked pixels of the 32 x 32 picture
simplify_doodles <- function(x, epsilon = 2) {
  call <- environment()
  assert_number(epsilon, lower = 0, finite = TRUE)
  drawings <- if (is.character(x)) {
    lapply(seq_along(x), function(i) parse_drawing(x[[i]], i, call))
  } else {
    assert_list(x)
    lapply(seq_along(x), function(i) drawing_strokes(x[[i]], i, call))
  }
  points <- stack_points(drawings)
  if (nrow(points) == 0) return(rep("[]", length(drawings)))
  # Aligned to the top-left corner, then scaled uniformly to 0..255 (a single point stays at 0).
  points$x <- points$x - drawing_min(points$x, points$drawing)
  points$y <- points$y - drawing_min(points$y, points$drawing)
  extent <- pmax(drawing_max(points$x, points$drawing), drawing_max(points$y, points$drawing))
  extent[extent == 0] <- 255
  points$x <- points$x * 255 / extent
  points$y <- points$y * 255 / extent
  points <- points[rdp_keep(points$x, points$y, points$stroke, epsilon), ]
  strokes_json(round(points$x), round(points$y), points$stroke, points$drawing, length(drawings))
}

# One JSON drawing as a list of strokes list(x, y).
parse_drawing <- function(json, index, call) {
  parsed <- if (is.na(json)) NULL else tryCatch(jsonlite::parse_json(json), error = function(e) e)
  if (is.null(parsed) || inherits(parsed, "error")) {
    bad_drawing(call, index, if (is.na(json)) "it is NA" else "it is not valid JSON")
  }
  if (!is.list(parsed)) bad_drawing(call, index, "it is not an array of strokes")
  lapply(seq_along(parsed), function(k) {
    stroke <- parsed[[k]]
    if (!is.list(stroke) || length(stroke) < 2) {
      bad_drawing(call, index, sprintf("stroke %d is not an array of x and y arrays", k))
    }
    xy <- list(x = coordinates(stroke[[1]]), y = coordinates(stroke[[2]]))
    if (is.null(xy$x) || is.null(xy$y)) {
      bad_drawing(call, index, sprintf("stroke %d has a coordinate that is not a number", k))
    }
    check_stroke(xy, index, k, call)
  })
}

# A JSON array of numbers as a double vector; NULL when it holds anything else.
coordinates <- function(values) {
  if (!is.list(values)) return(NULL)
  if (length(values) == 0) return(double())
  flat <- unlist(values, use.names = FALSE)
  if (!is.numeric(flat) || length(flat) != length(values)) return(NULL)
  as.double(flat)
}

# One drawing given as R objects: a list of strokes, each list(x, y) or a matrix.
drawing_strokes <- function(drawing, index, call) {
  if (!is.list(drawing) || is.data.frame(drawing)) {
    bad_drawing(call, index, "it is not a list of strokes")
  }
  lapply(seq_along(drawing), function(k) {
    stroke <- drawing[[k]]
    xy <- if (is.matrix(stroke) && ncol(stroke) >= 2 && is.numeric(stroke)) {
      list(x = stroke[, 1], y = stroke[, 2])
    } else if (is.list(stroke) && all(c("x", "y") %in% names(stroke)) &&
                 is.numeric(stroke$x) && is.numeric(stroke$y)) {
      list(x = stroke$x, y = stroke$y)
    } else {
      bad_drawing(call, index, sprintf("stroke %d has no numeric x and y", k))
    }
    check_stroke(lapply(xy, as.double), index, k, call)
  })
}

check_stroke <- function(stroke, index, k, call) {
  if (length(stroke$x) != length(stroke$y)) {
    bad_drawing(call, index, sprintf("stroke %d has %d x and %d y values", k, length(stroke$x),
                               length(stroke$y)))
  }
  if (length(stroke$x) == 0) bad_drawing(call, index, sprintf("stroke %d has no points", k))
  if (!all(is.finite(stroke$x)) || !all(is.finite(stroke$y))) {
    bad_drawing(call, index, sprintf("stroke %d has a coordinate that is not a finite number", k))
  }
  stroke
}

bad_drawing <- function(call, index, reason) {
  abort_doodles(sprintf("Drawing %d cannot be simplified: %s.", index, reason), kind = "input",
                index = index, call = call)
}

# All points of all drawings in one data frame; `stroke` numbers the strokes across drawings.
stack_points <- function(drawings) {
  strokes <- unlist(drawings, recursive = FALSE)
  sizes <- vapply(strokes, function(s) length(s$x), 1L)
  stroke_drawing <- rep(seq_along(drawings), lengths(drawings))
  data.frame(
    x = unlist(lapply(strokes, `[[`, "x"), use.names = FALSE),
    y = unlist(lapply(strokes, `[[`, "y"), use.names = FALSE),
    stroke = rep(seq_along(strokes), sizes),
    drawing = rep(stroke_drawing, sizes)
  )
}

# The per-drawing minimum and maximum of `v`, for each of its points (points come by drawing).
drawing_min <- function(v, drawing) per_drawing(v, drawing, min)
drawing_max <- function(v, drawing) per_drawing(v, drawing, max)
per_drawing <- function(v, drawing, f) {
  groups <- split(v, drawing)
  rep(vapply(groups, f, 1), lengths(groups))
}

# Ramer-Douglas-Peucker over all strokes at once: the indices of the points to keep. Each pass
# examines every segment not yet settled (between two kept points of one stroke), finds for each
# its interior point farthest from its line (the first on a tie, as the recursive algorithm does)
# and keeps that point when it is farther than epsilon; the passes stop when no segment splits.
rdp_keep <- function(x, y, stroke, epsilon) {
  n <- length(x)
  first <- !duplicated(stroke)
  last <- !duplicated(stroke, fromLast = TRUE)
  kept <- first | last
  open <- rep(TRUE, n) # open[i]: the segment starting at kept point i may still split
  repeat {
    kept_at <- which(kept)
    # The segment of each interior point: the kept points before and after it.
    segment <- findInterval(seq_len(n), kept_at)
    a <- kept_at[segment]
    b <- kept_at[pmin(segment + 1L, length(kept_at))]
    candidate <- !kept & open[a]
    if (!any(candidate)) break
    i <- which(candidate)
    d <- line_distance(x[i], y[i], x[a[i]], y[a[i]], x[b[i]], y[b[i]])
    by_segment <- order(a[i], -d, i)
    best <- by_segment[!duplicated(a[i][by_segment])]
    split <- d[best] > epsilon
    kept[i[best[split]]] <- TRUE
    open[a[i][best[!split]]] <- FALSE
    open[i[best[split]]] <- TRUE
  }
  which(kept)
}

# Distance from the points p to the lines through a and b (to a when a and b coincide, as at the
# ends of a closed stroke): the perpendicular distance of the classic algorithm, which keeps more of
# the dataset's own points than the distance to the segment does.
line_distance <- function(px, py, ax, ay, bx, by) {
  dx <- bx - ax
  dy <- by - ay
  length <- sqrt(dx^2 + dy^2)
  ifelse(length > 0, abs((px - ax) * dy - (py - ay) * dx) / length,
         sqrt((px - ax)^2 + (py - ay)^2))
}

# The dataset's JSON, as Kaggle's CSV files write it: [[[x, ...], [y, ...]], ...].
strokes_json <- function(x, y, stroke, drawing, n_drawings) {
  xs <- vapply(split(as.integer(x), stroke), paste, "", collapse = ", ")
  ys <- vapply(split(as.integer(y), stroke), paste, "", collapse = ", ")
  stroke_drawing <- drawing[!duplicated(stroke)]
  per_drawing <- split(sprintf("[[%s], [%s]]", xs, ys), factor(stroke_drawing, seq_len(n_drawings)))
  vapply(per_drawing, function(s) paste0("[", paste(s, collapse = ", "), "]"), "",
         USE.NAMES = FALSE)
}
