# Helpers of the test-draw* files: the real sample shipped with the package, an independent
# reading of its strokes and the golden images.

# The sample's drawings: 3,000 from the 345 class files of train_simplified.zip (in file order)
# and the 750 of test_simplified.csv. Read once per session.
raster_sample <- local({
  cache <- NULL
  function() {
    if (is.null(cache)) {
      dir <- tempfile("doodles-sample-")
      on.exit(unlink(dir, recursive = TRUE))
      files <- sort(utils::unzip(system.file("extdata", "train_simplified.zip", package = "doodles"), exdir = dir))
      read <- function(file) utils::read.csv(file, colClasses = "character")$drawing
      cache <<- list(
        train = unlist(lapply(files, read), use.names = FALSE),
        test = read(system.file("extdata", "test_simplified.csv", package = "doodles"))
      )
    }
    cache
  }
})

# The strokes of a drawing as list(list(x, y), ...), read with regular expressions, not with the
# package's parser.
strokes_of <- function(drawing) {
  strokes <- regmatches(drawing, gregexpr("\\[\\s*\\[[^][]*\\]\\s*,\\s*\\[[^][]*\\]\\s*\\]", drawing))[[1]]
  lapply(strokes, function(stroke) {
    arrays <- regmatches(stroke, gregexpr("\\[[^][]*\\]", stroke))[[1]]
    lapply(arrays, function(a) as.numeric(strsplit(gsub("[][[:space:]]", "", a), ",")[[1]]))
  })
}

# Drawings of the golden images: the first four of test_simplified.csv, and the file names of the
# images for each setting.
golden_drawings <- function() raster_sample()$test[1:4]

golden_settings <- list(
  list(file = "gray-1.png", scale = 1, color = FALSE, antialias = FALSE),
  list(file = "gray-0.5.png", scale = 0.5, color = FALSE, antialias = FALSE),
  list(file = "hue-1.png", scale = 1, color = TRUE, antialias = FALSE),
  list(file = "hue-0.5.png", scale = 0.5, color = TRUE, antialias = FALSE),
  list(file = "gray-0.5-antialias.png", scale = 0.5, color = FALSE, antialias = TRUE)
)

# The drawings of a batch side by side, as a (side, n * side, channels) image for png::writePNG.
side_by_side <- function(batch) {
  d <- dim(batch)
  image <- aperm(batch, c(2, 3, 1, 4))
  dim(image) <- c(d[2], d[3] * d[1], d[4])
  image
}

golden_image <- function(setting) {
  side_by_side(draw_doodles(golden_drawings(), scale = setting$scale, color = setting$color,
                            antialias = setting$antialias, threads = 2))
}
