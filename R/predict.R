# Predictions in the competition's terms: the three most probable words per drawing, Kaggle's
# submission file, and MAP@3.

#' Top-3 words per drawing
#'
#' Runs `model` on every batch of `data` (Keras' own `predict()` on a Keras-form generator's
#' dataset; an R function's batches pulled on R's main thread) and
#' returns the three most probable classes of each drawing, best first: the ranking of
#' [predict_probabilities()], optionally balanced ([balance_predictions()]).
#'
#' @inheritParams predict_probabilities
#' @param words The class names in `label_int` order, or a DBI connection whose `labels` table
#'   holds them.
#' @param key_id Identifiers of the drawings; by default the generator's (or the drawings')
#'   `key_id`, else the row numbers.
#' @param balance Whether to balance the predicted classes first ([balance_predictions()]): for a
#'   test set holding about as many drawings of every class, as the competition's did.
#' @return A data frame: `key_id`, `word1`, `word2`, `word3`.
#' @export
#' @examples
#' \dontrun{
#' it <- test_generator(con, batch_size = 256, scale = 0.5)
#' top3 <- predict_top3(model, it, words = con)
#' write_submission(top3, "submission.csv.zip")
#' # Two models of different sizes, mirrored drawings averaged in, balanced:
#' top3 <- predict_top3(list(small, large), con, words = con, tta = "hflip", balance = TRUE)
#' }
predict_top3 <- function(model, data, words, key_id = NULL, steps = NULL, weights = NULL,
                         tta = "none", balance = FALSE, batch_size = 256L) {
  if (inherits(words, "DBIConnection")) words <- class_words(words)
  assert_character(words, any.missing = FALSE, min.len = 1)
  assert_flag(balance)
  probabilities <- predict_probabilities(model, data, steps = steps, weights = weights, tta = tta,
                                         batch_size = batch_size)
  if (ncol(probabilities) > length(words)) {
    abort_doodles(sprintf("The model predicts %d classes but `words` names %d.",
                          ncol(probabilities), length(words)), kind = "argument")
  }
  if (balance) probabilities <- balance_predictions(probabilities)
  key_id <- key_id %||% attr(probabilities, "key_id") %||% seq_len(nrow(probabilities))
  if (length(key_id) != nrow(probabilities)) {
    abort_doodles(sprintf("%d predictions for %d key_id values.", nrow(probabilities),
                          length(key_id)), kind = "argument")
  }
  best <- top_k_columns(probabilities, 3L)
  data.frame(key_id = key_id, word1 = words[best[, 1]], word2 = words[best[, 2]],
             word3 = words[best[, 3]], stringsAsFactors = FALSE)
}

#' Class probabilities per drawing, of one model or an ensemble
#'
#' The softmax output of `model` for every drawing of `data`, one row per drawing. With
#' `tta = "hflip"` (test-time augmentation) each drawing is also predicted mirrored left to right
#' (within its own extent, as [draw_doodles()]' `mirror` draws it) and the two rows of
#' probabilities are averaged. With several models (an ensemble), each predicts the drawings
#' rendered for its own input (size, channels and byte or float type, see [model_input()]) and
#' their probabilities are averaged with `weights`: a blend that can also be made in R from each
#' model's result.
#'
#' @param model A Python Keras model (Keras 3, or Keras 2 from the legacy keras package), or a
#'   list of them (an ensemble, whose `data` must be drawings, not a generator).
#' @param data A generator from [test_generator()] (or any function returning `list(x)` and then
#'   `NULL`), an image array (a list of arrays for a model with side inputs), or the drawings
#'   themselves: a data frame with a `drawing` column (and `key_id`), or a DBI connection with a
#'   `test` table, rendered for each model by [test_generator()] in the form its input takes. A
#'   generator's format must suit the model: `test_generator(..., format =
#'   keras_input_format(model))` is the fastest.
#' @param steps Batches to predict; `NULL` until the generator returns `NULL`.
#' @param weights The models' weights in the average (non-negative, not all 0; scaled to sum to
#'   1); `NULL` weighs them alike.
#' @param tta `"none"`, or `"hflip"`: average each drawing's prediction with its mirror image's
#'   (twice the prediction time).
#' @param batch_size The batch size of the generators made from drawings.
#' @return A numeric matrix, one row per drawing and one column per class, rows summing to 1, with
#'   the drawings' `key_id` as attribute `key_id` when known.
#' @export
#' @examples
#' \dontrun{
#' p <- predict_probabilities(list(lenet, mobilenet), con, weights = c(1, 2), tta = "hflip")
#' top3 <- predict_top3(list(lenet, mobilenet), con, words = con, weights = c(1, 2))
#' }
predict_probabilities <- function(model, data, steps = NULL, weights = NULL, tta = "none",
                                  batch_size = 256L) {
  models <- if (is.list(model) && !inherits(model, "python.builtin.object")) model else list(model)
  assert_list(models, min.len = 1L)
  for (m in models) check_keras_model(m)
  assert_count(steps, positive = TRUE, null.ok = TRUE)
  tta <- arg_choice(tta, c("none", "hflip"))
  assert_count(batch_size, positive = TRUE)
  if (is.null(weights)) weights <- rep(1, length(models))
  assert_numeric(weights, lower = 0, finite = TRUE, any.missing = FALSE, len = length(models))
  if (sum(weights) <= 0) {
    abort_doodles("`weights` must not all be 0.", kind = "argument")
  }
  drawings <- is.data.frame(data) || inherits(data, "DBIConnection")
  if (length(models) > 1L && !drawings) {
    abort_doodles(c("An ensemble predicts drawings, each model at its own input's size.",
                    i = "Pass a data frame with a `drawing` column, or a connection with a `test` table, as `data`."),
                  kind = "argument")
  }
  total <- NULL
  for (i in seq_along(models)) {
    p <- model_probabilities(models[[i]], data, steps, tta, batch_size)
    # Every model's generator walks the drawings in the same order: the first one's key_id.
    if (i == 1L) key_id <- attr(p, "key_id")
    total <- if (is.null(total)) p * weights[[i]] else {
      if (!identical(dim(total), dim(p))) {
        abort_doodles(sprintf("Model %d predicts %d x %d probabilities, model 1 %d x %d.", i,
                              nrow(p), ncol(p), nrow(total), ncol(total)), kind = "argument")
      }
      total + p * weights[[i]]
    }
  }
  probabilities <- total / sum(weights)
  attr(probabilities, "key_id") <- key_id
  probabilities
}

#' What a model's image input takes
#'
#' The size, channels and element type of a Keras model's image input (the input named `"image"`,
#' else the first), and what [test_generator()] and [train_generator()] need to feed it: `scale`
#' (the side over Quick, Draw!'s 256), `color` and `format`.
#'
#' @param model A Python Keras model.
#' @return A list: `height`, `width`, `channels`, `dtype` (`"uint8"`, `"float32"`, ...),
#'   `format` (see [keras_input_format()]), `scale` and `color`.
#' @export
#' @examples
#' \dontrun{
#' input <- model_input(model)
#' it <- test_generator(con, scale = input$scale, color = input$color, format = input$format)
#' }
model_input <- function(model) {
  check_keras_model(model)
  input <- model_image_input(model)
  shape <- vapply(input$shape, function(d) if (is.null(d)) NA_integer_ else as.integer(d), 1L)
  if (length(shape) != 3L || anyNA(shape) || !shape[[3]] %in% c(1L, 3L)) {
    abort_doodles(sprintf("The model's image input has shape (%s), not (height, width, 1 or 3).",
                          paste(shape, collapse = ", ")), kind = "model")
  }
  list(height = shape[[1]], width = shape[[2]], channels = shape[[3]], dtype = input$dtype,
       format = if (input$takes_bytes) "uint8" else "float32", scale = shape[[1]] / 256,
       color = shape[[3]] == 3L)
}

#' Write a Kaggle submission
#'
#' Writes `key_id,word` with the three words separated by spaces, each word's own spaces written as
#' `_` (Kaggle's format for the Quick, Draw! challenge), optionally as a zip archive holding the
#' CSV file.
#'
#' @param predictions A data frame from [predict_top3()] (`key_id`, `word1`, `word2`, `word3`).
#' @param path The file to write; a zip archive when `zip` (the CSV inside is named after `path`
#'   without `.zip`).
#' @param zip Whether to zip the file.
#' @return `path`, invisibly.
#' @export
#' @examples
#' top3 <- data.frame(key_id = 9000003627287624, word1 = "The Eiffel Tower",
#'                    word2 = "castle", word3 = "house")
#' path <- tempfile(fileext = ".csv")
#' write_submission(top3, path)
#' readLines(path)
write_submission <- function(predictions, path, zip = grepl("\\.zip$", path)) {
  assert_data_frame(predictions, min.rows = 1)
  assert_names(names(predictions), must.include = c("key_id", "word1", "word2", "word3"))
  assert_string(path, min.chars = 1)
  assert_flag(zip)
  assert_path_for_output(path, overwrite = TRUE)
  words <- lapply(predictions[c("word1", "word2", "word3")], function(w) gsub(" ", "_", w))
  lines <- paste0(format_key_id(predictions$key_id), ",", do.call(paste, words))
  if (!zip) {
    writeLines(c("key_id,word", lines), path)
    return(invisible(path))
  }
  rlang::check_installed("zip", "to write a zipped submission")
  staging <- tempfile("submission")
  dir.create(staging)
  on.exit(unlink(staging, recursive = TRUE), add = TRUE)
  csv <- file.path(staging, sub("\\.zip$", "", basename(path)))
  if (!grepl("\\.csv$", csv)) csv <- paste0(csv, ".csv")
  writeLines(c("key_id,word", lines), csv)
  if (file.exists(path)) unlink(path)
  zip::zipr(path, csv)
  invisible(path)
}

#' Mean average precision at k
#'
#' The competition's metric: for each drawing, 1/rank of the true word among the `k` predicted ones
#' (0 when absent), averaged over drawings. Words are compared with spaces written as `_`.
#'
#' @param actual The true classes (a vector), or a data frame with `key_id` and `word`.
#' @param predicted The predictions, best first: a matrix or data frame with at least `k` columns of
#'   classes, a character vector of space-separated words (the submission format), or a data frame
#'   with `key_id` and either `word` (submission format) or `word1`...`wordk`. With data frames on
#'   both sides, rows are matched by `key_id`.
#' @param k Number of predictions per drawing.
#' @return A number between 0 and 1.
#' @export
#' @examples
#' map_at_k(c("cat", "dog"), rbind(c("cat", "dog", "cow"), c("cow", "cat", "dog")))
map_at_k <- function(actual, predicted, k = 3) {
  assert_count(k, positive = TRUE)
  if (is.data.frame(actual) && is.data.frame(predicted)) {
    assert_names(names(actual), must.include = c("key_id", "word"))
    assert_names(names(predicted), must.include = "key_id")
    rows <- match(format_key_id(actual$key_id), format_key_id(predicted$key_id))
    if (anyNA(rows)) {
      abort_doodles(sprintf("%d key_id values of `actual` have no prediction (first: %s).",
                            sum(is.na(rows)), actual$key_id[which(is.na(rows))[1]]),
                    kind = "argument")
    }
    predicted <- predicted[rows, , drop = FALSE]
    actual <- actual$word
  }
  predicted <- prediction_matrix(predicted, k)
  assert_atomic_vector(actual, len = nrow(predicted))
  actual <- gsub(" ", "_", as.character(actual))
  predicted[] <- gsub(" ", "_", predicted)
  hits <- predicted[, seq_len(k), drop = FALSE] == actual
  hits[is.na(hits)] <- FALSE
  first_hit <- max.col(hits, ties.method = "first")
  mean(ifelse(rowSums(hits) > 0, 1 / first_hit, 0))
}

prediction_matrix <- function(predicted, k) {
  if (is.data.frame(predicted)) {
    word_columns <- paste0("word", seq_len(k))
    if (all(word_columns %in% names(predicted))) {
      predicted <- predicted[word_columns]
    } else if ("word" %in% names(predicted)) {
      predicted <- predicted$word
    } else {
      predicted <- predicted[setdiff(names(predicted), "key_id")]
    }
  }
  if (is.character(predicted) && is.null(dim(predicted))) {
    parts <- strsplit(predicted, " ", fixed = TRUE)
    predicted <- t(vapply(parts, function(p) p[seq_len(k)], character(k)))
    if (k == 1) predicted <- t(predicted)
  }
  predicted <- as.matrix(predicted)
  if (ncol(predicted) < k) {
    abort_doodles(sprintf("`predicted` has %d columns, fewer than k = %d.", ncol(predicted), k),
                  kind = "argument")
  }
  matrix(as.character(predicted), nrow = nrow(predicted))
}

# One model's probabilities for `data` (drawings through a test generator made for the model's
# input, or a generator or a batch as given), with the generator's `key_id` as attribute; with
# tta = "hflip" averaged with those of the generator's mirrored twin.
model_probabilities <- function(model, data, steps, tta, batch_size, call = rlang::caller_env()) {
  if (is.data.frame(data) || inherits(data, "DBIConnection")) {
    input <- model_input(model)
    data <- test_generator(data, batch_size = batch_size, scale = input$scale,
                           color = input$color, format = input$format)
  }
  probabilities <- generator_probabilities(model, data, steps, call)
  if (tta == "hflip") {
    mirrored <- attr(data, "mirrored")
    if (!is.function(mirrored)) {
      abort_doodles("`tta = \"hflip\"` needs a generator of test_generator() (or the drawings themselves).",
                    kind = "argument", call = call)
    }
    probabilities <- (probabilities + generator_probabilities(model, mirrored(), steps, call)) / 2
  }
  attr(probabilities, "key_id") <- attr(data, "key_id")
  probabilities
}

# The model's class probabilities for `data` (a generator or a batch), one row per drawing.
generator_probabilities <- function(model, data, steps = NULL, call = rlang::caller_env()) {
  if (inherits(data, "doodles_batches")) {
    check_generator_for_model(model, data, call)
    probabilities <- with_producer_errors(model$predict(
      attr(data, "py_object"), steps = if (!is.null(steps)) as.integer(steps), verbose = 0L
    ), call = call)
    return(as.matrix(r_value(probabilities)))
  }
  generator <- if (is.function(data)) {
    # A generator's batches are checked by the form it declares, without drawing one.
    if (!is.null(attr(data, "format"))) check_generator_for_model(model, data, call)
    data
  } else {
    as_argument_error(checkmate::assert(checkmate::check_array(data, min.d = 2),
                                        checkmate::check_list(data)))
    check_batch_for_model(model, data, call)
    one_batch(data)
  }
  probabilities <- bridge_py()$predict_loop(model, generator,
                                            if (is.null(steps)) NULL else as.integer(steps))
  as.matrix(probabilities)
}

# Column indices of the k largest values of each row, largest first (ties: the first column).
top_k_columns <- function(x, k) {
  k <- min(k, ncol(x))
  best <- matrix(0L, nrow(x), k)
  for (j in seq_len(k)) {
    best[, j] <- max.col(x, ties.method = "first")
    x[cbind(seq_len(nrow(x)), best[, j])] <- -Inf
  }
  best
}

class_words <- function(con) {
  if (!DBI::dbExistsTable(con, "labels")) {
    abort_doodles("The database has no `labels` table to name the classes.", kind = "argument")
  }
  DBI::dbGetQuery(con, "SELECT word FROM labels ORDER BY label_int")$word
}

# Key ids are 64-bit integers, often held in doubles: never written in scientific notation.
format_key_id <- function(key_id) {
  if (is.double(key_id)) formatC(key_id, format = "f", digits = 0, big.mark = "")
  else as.character(key_id)
}

one_batch <- function(x) {
  done <- FALSE
  function() {
    if (done) return(NULL)
    done <<- TRUE
    list(x)
  }
}
