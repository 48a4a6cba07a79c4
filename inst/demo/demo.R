# Demo: rasterize the Quick, Draw! drawings shipped with doodles (the 750 of test_simplified.csv)
# and write the first 64 as an 8 x 8 grid of PNG images, in gray and in colour (a hue per stroke).
# Usage: Rscript inst/demo/demo.R [output dir]
library(doodles)
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[1] else file.path(tempdir(), "doodles-demo")
dir.create(out, showWarnings = FALSE, recursive = TRUE)

test <- utils::read.csv(system.file("extdata", "test_simplified.csv", package = "doodles"), colClasses = "character")
seconds <- system.time(all <- draw_doodles(test$drawing, scale = 0.5))[["elapsed"]]
cat(sprintf("rasterized %d drawings at 128 x 128 in %.3f s with %d threads\n",
            nrow(test), seconds, doodles_threads()))

# A (n, side, side, channels) batch as one image of `columns` per row, with a 2-pixel gray border.
grid <- function(batch, columns = 8, border = 2) {
  d <- dim(batch)
  rows <- ceiling(d[1] / columns)
  cell <- d[2] + border
  image <- array(0.6, c(rows * cell + border, columns * cell + border, d[4]))
  for (i in seq_len(d[1])) {
    top <- ((i - 1) %/% columns) * cell + border
    left <- ((i - 1) %% columns) * cell + border
    image[top + seq_len(d[2]), left + seq_len(d[3]), ] <- batch[i, , , , drop = FALSE]
  }
  image
}

first <- test$drawing[1:64]
files <- c(gray = file.path(out, "doodles-gray.png"), colour = file.path(out, "doodles-colour.png"))
png::writePNG(grid(all[1:64, , , , drop = FALSE]), files[["gray"]])
png::writePNG(grid(draw_doodles(first, scale = 0.5, color = TRUE)), files[["colour"]])
cat("wrote", files, sep = "\n  ")
cat("\n")
