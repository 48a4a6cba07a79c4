# Rasterizing: JSON strokes to image arrays (the article's cpp_process_json_str and
# cpp_process_json_vector), by the Rust crate doodles-raster.

#' Rasterize doodles into image arrays
#'
#' `draw_doodles()` turns drawings (Quick, Draw! JSON stroke arrays) into one 4-D array
#' `(n, side, side, channels)` of doubles in \[0, 1\], ready for Keras (reticulate hands it to NumPy
#' without reordering); `draw_doodle()` draws one into `(side, side, channels)`. The drawings are
#' drawn in parallel straight into the memory of the returned array.
#'
#' @section Geometry:
#' The 256 x 256 canvas of the dataset is mapped onto `side = round(256 * scale)` pixels: a point
#' `(x, y)` lands at `((x + 0.5) * f, (y + 0.5) * f)` with `f = side / 256`, and pixel `(i, j)`
#' covers `[i, i + 1) x [j, j + 1)`. A stroke is the set of points within the radius
#' `radius = max((line_width / 2 + e) * f, 0.5)` pixels of its segments (a one-point stroke is a dot).
#' Without `antialias`, a pixel is inked when its centre lies within the radius; with it, its
#' coverage is `clamp(radius + 0.5 - d, 0, 1)` for a centre at distance `d`, combined by maximum.
#' Coordinates outside the canvas are drawn and cut at its edge. Values are exact multiples of
#' 1/255 of the coverage.
#'
#' `line_width` is the article's OpenCV thickness: the picture is that of `cv::line(thickness =
#' line_width, LINE_4)` (or `LINE_AA` with `antialias`) on the 256 x 256 canvas, resized to `side`
#' with `INTER_LINEAR`, drawn straight at the target size (faster: no 4x larger canvas, no
#' resize). OpenCV inks the pixels within `(thickness + 1) / 2` of a segment, 5 pixels across for
#' thickness 3, so `e` is 1 at `scale >= 1`, 1.1 with `antialias` (LINE_AA's soft rim), and 0.65
#' for hard lines at `scale < 1`, where OpenCV's resized image mixes ink and paper half and half
#' along the edges and those pixels read as paper. With the default `line_width = 3`, lines are
#' 5 pixels wide at scale 1, about 2 at 0.5 and 1 at 0.25. On every drawing of the real sample,
#' binarized at 0.5, the ink overlaps OpenCV's with an intersection over union of 0.93 to 0.97
#' and its amount is within 4% at scales 0.25, 0.5 and 1, gray or colour, hard or antialiased
#' (`inst/bench/compare-opencv.R`; the vignette shows the widths).
#'
#' @section Encodings:
#' A pixel not touched by ink has the background value; an inked pixel with coverage `a` has
#' `(1 - a) * background + a * ink`, with the ink of the stroke (or segment) drawn last there.
#' Strokes `k = 0, ..., n - 1`; a stroke of `m` points has `s = max(m - 1, 1)` segments
#' `j = 0, ..., s - 1`.
#' - `"gray"`: 1 channel, background 1 (white), ink 0 (black): the article's.
#' - `"hue"` (`color = TRUE`): 3 channels R, G, B, background 1; stroke `k` in the HSV colour of hue
#'   `360 * k / n` degrees, saturation 1, value 220/255 (the article's, without its integer hue
#'   step that gave many-stroke drawings one colour).
#' - `"order"`: 1 channel, background 0, stroke `k` has ink `(n - k) / n`: earlier strokes are
#'   brighter (the first is 1, the last `1 / n`).
#' - `"point"`: 1 channel, background 0, segment `j` of its stroke has ink `(s - j) / s`: bright
#'   where each stroke starts, fading along it.
#' - `"stack"`: 3 channels, background 0: ink (1 where anything is drawn), `"order"`, `"point"`.
#'
#' @section Mirrored drawings:
#' With `mirror`, a drawing is drawn horizontally mirrored within its own extent: the exact mirror
#' image, pixel for pixel, of the drawing drawn plainly with the same options, in every encoding
#' and format. With `e` the last pixel column the plain drawing inks (any coverage, the same
#' column in every encoding; the drawing's right edge, its largest x plus the line's reach, at
#' this scale), columns `1` to `e + 1` of the plain image are reversed (R's 1-based `[i, y, x, c]`:
#' `mirrored[i, y, x, c] == plain[i, y, e + 2 - x, c]` for `x <= e + 1`) and the columns after
#' them, blank, stay blank. The dataset's simplified drawings start at x = 0, so their ink reaches
#' the first column: mirrored, it still spans the first `e + 1` columns, aligned to the left as
#' the training drawings are (not mirrored across the whole canvas, which would push small
#' drawings to the right). A drawing with no ink stays blank. It costs next to nothing: the
#' inked pixels are written at their mirrored places as the drawing is moved into the batch.
#' This is what test-time augmentation ([test_generator()]'s attribute `mirrored`) and
#' `train_generator(augment = "hflip")` draw.
#'
#' @section Memory:
#' A batch of 1024 drawings at scale 0.5 is 134 MB of doubles. The array is allocated by R and
#' written once; the pages of the fresh block are asked for as transparent huge pages, which costs
#' nothing afterwards. Setting option `doodles.keep_freed_memory = TRUE` (or environment variable
#' `DOODLES_KEEP_FREED_MEMORY=true`) before the package loads also makes glibc keep freed blocks
#' up to 1 GiB for reuse, which is faster again but makes the process keep its peak memory until it
#' ends.
#'
#' In a loop, each new array is R's to collect: with the previous batch still referenced, R's
#' garbage collector runs full collections, often as long as drawing the batch. An R started with
#' environment variable `R_GC_MEM_GROW=3` (see [base::Memory]) grows its heap sooner and
#' collects far less; `format = "float32"` or `"uint8"` batches from the generators reuse their
#' memory instead.
#'
#' @param x A character vector of drawings (for `draw_doodle()`, one string), each a JSON array of
#'   strokes `[[x1, x2, ...], [y1, y2, ...]]` in the dataset's 0-255 coordinates.
#' @param scale Image side `round(256 * scale)` pixels (0.5: 128 x 128).
#' @param color `TRUE` for 3 channels with a hue per stroke (`encoding = "hue"`), `FALSE` for
#'   gray.
#' @param line_width Line width: the thickness OpenCV's `cv::line()` would draw with on the
#'   256-pixel canvas (the article's 3); see Geometry.
#' @param antialias `FALSE` for hard lines (the article's), `TRUE` for smooth ones.
#' @param encoding What the channels hold: one of `"gray"`, `"hue"`, `"order"`, `"point"`,
#'   `"stack"` (see Encodings); by default set by `color`.
#' @param threads Number of worker threads.
#' @param format What to return: `"array"`, an R array of doubles; or, for Keras, a numpy array
#'   `(n, side, side, channels)` in C order (NHWC) that Rust wrote in place, handed to Python
#'   without a copy: `"float32"` (the same values) or `"uint8"` (`round(255 * value)`, 4 times
#'   smaller; for models that rescale on the device, see `input_dtype` in [get_model()]). The
#'   Keras forms need the Python environment ([use_keras_env()]).
#' @param imagenet_preproc With `format = "float32"`, map the values from \[0, 1\] to \[-1, 1\]
#'   (`2 * value - 1`) as ImageNet-trained applications expect.
#' @param mirror `TRUE` to draw every drawing horizontally mirrored within its own extent (see
#'   Mirrored drawings), `FALSE` (the default) for none, or one `TRUE`/`FALSE` per drawing.
#' @param ... Arguments passed on to `draw_doodles()`.
#' @return `draw_doodles()`: an array `(length(x), side, side, channels)` (a numpy array for the
#'   Keras formats); `draw_doodle()`: an array `(side, side, channels)`. Index `[i, y, x, c]`: row
#'   `y` from the top, column `x` from the left.
#'   A drawing that is not valid (invalid JSON, not an array of strokes, a stroke that is not two
#'   arrays of numbers of equal length, `NA`, `""`) raises an error of class `doodles_error`
#'   whose message and field `index` give its 1-based position.
#' @examples
#' cat <- "[[[10, 60, 110], [200, 40, 200]], [[30, 90], [140, 140]]]"
#' img <- draw_doodle(cat, scale = 0.25)
#' dim(img)
#' batch <- draw_doodles(c(cat, "[]"), scale = 0.5, color = TRUE)
#' dim(batch)
#' range(batch[2, , , ]) # the empty drawing is a white canvas
#' \dontrun{
#' keras_batch <- draw_doodles(c(cat, "[]"), scale = 0.5, format = "uint8")
#' keras_batch$shape # (2, 128, 128, 1), dtype uint8
#' }
#' @export
draw_doodles <- function(x, scale = 1, color = FALSE, line_width = 3, antialias = FALSE,
                         encoding = if (color) "hue" else "gray", threads = doodles_threads(),
                         format = "array", imagenet_preproc = FALSE, mirror = FALSE) {
  assert_character(x)
  threads <- check_drawing_options(scale, color, line_width, antialias, encoding, threads)
  check_format(format, imagenet_preproc)
  check_mirror(mirror, length(x))
  batch <- raster_draw(x, scale, encoding, line_width, antialias, threads, format, imagenet_preproc,
                       mirror)
  batch_in_format(batch, format, imagenet_preproc)
}

# The drawing options of draw_doodles() and doodle_batch(), checked the same way for both;
# returns `threads` as an integer.
check_drawing_options <- function(scale, color, line_width, antialias, encoding, threads,
                                  call = rlang::caller_env()) {
  rlang::local_error_call(call)
  limits <- raster_limits()
  check_scale(scale, call = call)
  assert_flag(color)
  assert_number(line_width, lower = 0, upper = limits$max_line_width, finite = TRUE)
  assert_flag(antialias)
  if (!checkmate::test_choice(encoding, limits$encodings)) {
    abort_doodles(
      sprintf("`encoding` must be one of %s, not %s",
              paste0('"', limits$encodings, '"', collapse = ", "), deparse1(encoding)),
      kind = "argument", call = call
    )
  }
  if (color && encoding != "hue") {
    abort_doodles(
      sprintf("`color = TRUE` means `encoding = \"hue\"`, not \"%s\"; set one of them", encoding),
      kind = "argument", call = call
    )
  }
  check_threads_arg(threads, call = call)
}

# `mirror`: one flag, or one per drawing (of `n`).
check_mirror <- function(mirror, n, call = rlang::caller_env()) {
  if (!is.logical(mirror) || anyNA(mirror) || !length(mirror) %in% unique(c(1L, n))) {
    abort_doodles(sprintf("`mirror` must be TRUE or FALSE, or one of them per drawing (%d), not %s",
                          n, deparse1(mirror, nlines = 1L)), kind = "argument", call = call)
  }
  invisible(mirror)
}

# `scale` within the limits the rasterizer defines (raster_limits()).
check_scale <- function(scale, call = rlang::caller_env()) {
  assert_number(scale, finite = TRUE, call = call)
  limits <- raster_limits()
  if (scale < limits$min_scale || scale > limits$max_scale) {
    abort_doodles(sprintf("`scale` must be %g to %g (an image side of 1 to %d pixels), not %g",
                          limits$min_scale, limits$max_scale, limits$max_side, scale),
                  kind = "argument", call = call)
  }
}

#' @rdname draw_doodles
#' @export
draw_doodle <- function(x, ...) {
  assert_string(x, na.ok = TRUE)
  image <- draw_doodles(x, ...)
  dim(image) <- dim(image)[-1]
  image
}
