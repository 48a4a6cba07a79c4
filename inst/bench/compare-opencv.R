# The lines against the article's picture, and what they cost: draw_doodles() next to OpenCV's
# cv::line (thickness 3, LINE_4 or LINE_AA) on the 256 x 256 canvas resized by cv2.resize
# (INTER_LINEAR) (inst/python/opencv_reference.py), on every drawing of the real sample shipped in
# inst/extdata (3,750), at scales 0.25, 0.5 and 1, gray and colour, hard and antialiased. Both
# binarized at 0.5 per channel: the ink's intersection over union (pooled, and the 5th percentile
# per drawing), the amount of ink (ours / OpenCV's), the mean absolute difference of the values.
# Goal (issue 13): IoU >= 0.9 and ink within 5% everywhere. Needs OpenCV for Python in the
# package's Python environment (tools/setup.sh installs it).
#
#   Rscript inst/bench/compare-opencv.R
suppressPackageStartupMessages(library(doodles))
ok <- doodles:::opencv_available()
if (!isTRUE(ok)) stop(attr(ok, "reason"))
dir <- tempfile("sample-")
files <- sort(utils::unzip(system.file("extdata", "train_simplified.zip", package = "doodles"),
                           exdir = dir))
read <- function(file) utils::read.csv(file, colClasses = "character")$drawing
drawings <- c(unlist(lapply(files, read), use.names = FALSE),
              read(system.file("extdata", "test_simplified.csv", package = "doodles")))
rows <- list()
for (scale in c(0.25, 0.5, 1)) for (color in c(FALSE, TRUE)) for (antialias in c(FALSE, TRUE)) {
  rows[[length(rows) + 1]] <- doodles:::opencv_agreement(drawings, scale, color, antialias)
}
figures <- do.call(rbind, rows)
figures$color <- ifelse(figures$color, "colour", "gray")
figures$antialias <- ifelse(figures$antialias, "LINE_AA", "LINE_4")
cat(sprintf("%d drawings, line_width 3 against OpenCV thickness 3:\n", length(drawings)))
print(format(figures[, c("scale", "color", "antialias", "iou", "iou_p05", "ink_ratio",
                         "ink_per_image", "opencv_ink_per_image", "mean_abs_diff")],
             digits = 3), row.names = FALSE)
cat(sprintf("\nworst: IoU %.3f, ink ratio %.3f to %.3f\n", min(figures$iou),
            min(figures$ink_ratio), max(figures$ink_ratio)))
