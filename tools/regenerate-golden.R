# Regenerates the golden images of tests/testthat/test-draw-golden.R from the installed package.
# Run on purpose only, after a deliberate change of the rasterizer, and look at the new images
# before committing them: `Rscript tools/regenerate-golden.R`.
library(doodles)
source("tests/testthat/helper-draw.R")
for (setting in golden_settings) {
  path <- file.path("tests/testthat/golden", setting$file)
  png::writePNG(golden_image(setting), path)
  cat("wrote", path, "\n")
}
