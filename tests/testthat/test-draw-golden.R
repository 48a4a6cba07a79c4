# Golden images: four real drawings of the sample at scale 1 and 0.5, gray and colour (and
# antialiased gray), compared pixel by pixel with the PNG files in golden/ (written by
# tools/regenerate-golden.R). PNG holds 8 bits per channel, so values are compared to 1/510.

for (setting in golden_settings) {
  test_that(paste("the golden image", setting$file, "is reproduced pixel by pixel"), {
    expected <- png::readPNG(test_path("golden", setting$file))
    actual <- golden_image(setting)
    side <- round(256 * setting$scale)
    expect_identical(dim(actual), as.integer(c(side, 4 * side, if (setting$color) 3 else 1)))
    expect_identical(length(expected), length(actual))
    expect_lte(max(abs(as.vector(expected) - as.vector(actual))), 1 / 510 + 1e-12)
    # Each of the four drawings has ink.
    ink <- apply(array(actual < 1, c(side, side, 4, dim(actual)[3])), 3, any)
    expect_true(all(ink))
  })
}
