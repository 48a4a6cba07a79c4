# How close draw_doodles() comes to the article's picture: OpenCV's cv::line (thickness 3, LINE_4
# or LINE_AA) on a 256 x 256 canvas, resized by `scale` (INTER_LINEAR), drawn by
# inst/python/opencv_reference.py. Used by the test that holds the default look to it and by
# inst/bench/compare-opencv.R, which prints the figures the README quotes.

# Whether OpenCV for Python is importable in the package's Python environment: TRUE, or FALSE
# with attribute `reason`.
opencv_available <- function() {
  ok <- keras_available()
  if (!isTRUE(ok)) return(ok)
  use_keras_env()
  if (!reticulate::py_module_available("cv2")) {
    return(structure(FALSE, reason = paste("OpenCV for Python (opencv-python-headless) is not",
                                           "installed in the Python environment")))
  }
  TRUE
}

# Agreement of draw_doodles(drawings, scale, color, antialias, line_width) with OpenCV's picture of the same
# drawings: both binarized at 0.5 per channel (ink where a value is under 0.5), the ink's
# intersection over union (all drawings pooled, and per drawing), the ratio of inked values (ours
# / OpenCV's) and the mean absolute difference of the values.
opencv_agreement <- function(drawings, scale, color = FALSE, antialias = FALSE, line_width = 3,
                             chunk = 250L) {
  ok <- opencv_available()
  if (!isTRUE(ok)) abort_doodles(attr(ok, "reason"), kind = "dependency")
  reference <- reticulate::import_from_path("opencv_reference",
                                            path = system.file("python", package = "doodles"))
  # In chunks: 3,750 colour images at 256 x 256 are 6 GB of doubles each way.
  per_chunk <- lapply(split(drawings, ceiling(seq_along(drawings) / chunk)), function(part) {
    theirs <- reference$draw_batch(part, scale, color = color, antialias = antialias)
    ours <- draw_doodles(part, scale = scale, color = color, antialias = antialias,
                         line_width = line_width)
    ink_ours <- ours < 0.5
    ink_theirs <- theirs < 0.5
    per_drawing <- function(x) rowSums(matrix(x, nrow = length(part)))
    data.frame(intersection = per_drawing(ink_ours & ink_theirs),
               union = per_drawing(ink_ours | ink_theirs), ours = per_drawing(ink_ours),
               theirs = per_drawing(ink_theirs), abs_diff = per_drawing(abs(ours - theirs)))
  })
  counts <- do.call(rbind, per_chunk)
  iou <- ifelse(counts$union == 0, 1, counts$intersection / counts$union)
  values <- length(drawings) * round(256 * scale)^2 * (if (color) 3 else 1)
  data.frame(
    scale = scale, color = color, antialias = antialias, line_width = line_width,
    drawings = length(drawings),
    iou = sum(counts$intersection) / sum(counts$union), iou_p05 = unname(stats::quantile(iou, 0.05)),
    ink_ratio = sum(counts$ours) / sum(counts$theirs),
    ink_per_image = sum(counts$ours) / length(drawings),
    opencv_ink_per_image = sum(counts$theirs) / length(drawings),
    mean_abs_diff = sum(counts$abs_diff) / values
  )
}
