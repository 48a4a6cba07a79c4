# The drawing page: a person draws on a canvas, the strokes are simplified and rasterized as the
# training data was, and the trained model names the doodle (Quick, Draw!'s game, on one's own
# model).

#' A web page to draw a doodle and let the trained model name it
#'
#' A Shiny app with a canvas for mouse or touch drawing. Each stroke is recorded as the dataset
#' records it (the points of the pointer, with their times), the drawing is simplified as the
#' dataset's simplified data ([simplify_doodles()]), rasterized as in training (the model gives its
#' input size, its channels and whether it takes bytes, see [keras_input_format()]), and the three
#' likeliest words are shown with their probabilities, after each stroke. Buttons clear the drawing
#' or undo its last stroke. The page also shows the image the model saw and a few training drawings
#' of the likeliest word from the database, and the simplified drawing as JSON.
#'
#' Nothing on the page fails the session: without a model (or a database) the page says how to
#' train one, and a model whose classes do not match the database, a refused stroke (more than
#' `max_points` points in the drawing, or a malformed one) or a drawing that cannot be predicted
#' is named on the page.
#'
#' `Rscript bin/app.R -m model.keras -d db` (installed as `system.file("bin", "app.R", package =
#' "doodles")`) starts it from a shell, with `strict = TRUE`: a mistyped path or a model that does
#' not fit stops it at once, on the terminal, instead of serving a page that says so.
#'
#' @param model A model saved by `train_nn.R` (the path of a `.keras` file) or a Keras model;
#'   `NULL` (or a file that does not exist) shows how to train one.
#' @param db_dir The training database folder (that of `train_nn.R`), for the words and the
#'   example drawings.
#' @param imagenet_preproc For a model that takes float32 input trained with ImageNet weights:
#'   scale the pixels to \[-1, 1\] (models of `train_nn.R` take bytes and rescale them themselves,
#'   as their file says).
#' @param examples Number of training drawings of the likeliest word shown.
#' @param max_points Most recorded points a drawing may have; a stroke that would pass it is
#'   refused with a message.
#' @param strict If `TRUE`, what would keep the page from naming drawings is an error, with the
#'   message the page would show: a `model` path with no file (`doodles_error_argument`), a
#'   missing database folder (`doodles_error_argument`) or an unreadable one (`doodles_error_db`),
#'   no Python Keras (`doodles_error_python`), a file that is no model or a model whose input or
#'   classes do not fit (`doodles_error_model`). Without a `model`, on a database, the page still
#'   opens and says how to train one.
#' @return A Shiny app object: print it (or give it to [shiny::runApp()]) to run it.
#' @export
#' @examples
#' \dontrun{
#' app <- doodle_app("models/lenet_64_1ch_final.keras", db_dir = "db")
#' shiny::runApp(app, port = 8888)
#' }
doodle_app <- function(model = NULL, db_dir = Sys.getenv("DBDIR"), imagenet_preproc = FALSE,
                       examples = 4, max_points = 20000, strict = FALSE) {
  rlang::check_installed(c("shiny", "png"), "for the drawing page")
  if (!is.null(model) && !is_keras_model(model)) assert_string(model)
  assert_string(db_dir, null.ok = TRUE)
  assert_flag(imagenet_preproc)
  assert_count(examples)
  assert_count(max_points, positive = TRUE)
  assert_flag(strict)
  context <- app_context(model, db_dir, imagenet_preproc)
  if (strict && !is.null(context$problem_kind)) {
    abort_doodles(context$problem, kind = context$problem_kind)
  }
  context$examples <- as.integer(examples)
  context$max_points <- as.integer(max_points)
  shiny::addResourcePath("doodles-app", system.file("app", "www", package = "doodles"))
  shiny::shinyApp(app_ui(), app_server(context))
}

# What the page needs from the model and the database, or the one problem that stops predictions
# and the error class it is with `strict` (none for a model not given, which the page is for):
# list(problem, problem_kind, model, words, scale, color, format, imagenet_preproc, db_dir).
app_context <- function(model, db_dir, imagenet_preproc) {
  context <- list(problem = NULL, db_dir = db_dir)
  stop_with <- function(problem, kind) {
    context$problem <- problem
    context$problem_kind <- kind
    context
  }
  db_file <- if (!is.null(db_dir) && nzchar(db_dir) && dir.exists(db_dir)) db_file_in(db_dir)
  if (is.null(db_file) || !file.exists(db_file)) {
    return(stop_with(paste0(
      "No training database", if (!is.null(db_dir) && nzchar(db_dir)) sprintf(" in '%s'", db_dir),
      ". Load the data and train a model in one line: ", train_line(db_dir, data = TRUE),
      ", then open this page with -m ", train_model_file, " -d ", db_arg(db_dir), "."
    ), "argument"))
  }
  words <- tryCatch(app_words(db_dir), error = function(e) e)
  if (inherits(words, "error")) {
    return(stop_with(sprintf("The database in '%s' cannot be read: %s", db_dir,
                             conditionMessage(words)), "db"))
  }
  context$words <- words
  if (is.null(model) || (is.character(model) && !file.exists(model))) {
    return(stop_with(paste0(
      if (is.character(model)) sprintf("No model at '%s' yet. ", model) else "No model yet. ",
      "Train one in one line: ", train_line(db_dir), ", then open this page with -m ",
      train_model_file, " -d ", db_arg(db_dir), "."
    ), if (is.character(model)) "argument"))
  }
  if (is.character(model)) {
    keras <- keras_available()
    if (!isTRUE(keras)) {
      return(stop_with(paste("Python Keras is not available to run the model:",
                             attr(keras, "reason")), "python"))
    }
    file <- model
    model <- tryCatch(keras_module()$saving$load_model(file), error = function(e) e)
    if (inherits(model, "error")) {
      return(stop_with(sprintf("The model '%s' cannot be loaded: %s", file,
                               conditionMessage(model)), "model"))
    }
  }
  input <- app_model_input(model)
  if (is.character(input)) return(stop_with(input, "model"))
  classes <- as.integer(utils::tail(unlist(model$output_shape), 1))
  if (classes != length(words)) {
    return(stop_with(sprintf(paste(
      "The model predicts %d classes but the database in '%s' names %d words: open the page",
      "with the database the model was trained on."), classes, db_dir, length(words)), "model"))
  }
  c(context, list(
    model = model, scale = input$scale, color = input$color, format = input$format,
    # A model that takes bytes rescales them itself.
    imagenet_preproc = imagenet_preproc && input$format == "float32"
  ))
}

train_model_file <- "models/lenet_64_1ch_final.keras"

db_arg <- function(db_dir) if (!is.null(db_dir) && nzchar(db_dir)) db_dir else "db"

# The one line that trains a small model on the sample shipped with the package.
train_line <- function(db_dir, data = FALSE) {
  paste0("Rscript bin/train_nn.R -m lenet -s 0.25 -r 0.9 -e 10 -d ", db_arg(db_dir),
         if (data) " --data train_simplified.zip")
}

app_words <- function(db_dir) {
  # Read-only and only while reading: training (which writes) can go on beside the page.
  con <- DBI::dbConnect(doodles_duckdb(), dbdir = db_file_in(db_dir), read_only = TRUE)
  on.exit(DBI::dbDisconnect(con), add = TRUE)
  class_words(con)
}

# The model's image input (model_input()), or why the page cannot draw for it.
app_model_input <- function(model) {
  if (length(model$inputs) != 1) {
    return("The model takes side inputs besides the image; the page draws the image only.")
  }
  input <- tryCatch(model_input(model), doodles_error_model = function(e) NULL)
  if (is.null(input) || input$height != input$width) {
    return(sprintf("The model's input is (%s), not a square image of 1 or 3 channels.",
                   paste(unlist(model$input_shape), collapse = ", ")))
  }
  input
}

app_ui <- function() {
  shiny::fluidPage(
    title = "doodles: draw and recognize",
    shiny::tags$head(
      shiny::tags$link(rel = "stylesheet", href = "doodles-app/doodle.css"),
      shiny::tags$script(src = "doodles-app/doodle.js")
    ),
    shiny::h2("Draw a doodle"),
    shiny::fluidRow(
      shiny::column(
        6,
        shiny::tags$canvas(id = "doodle_canvas", width = 400, height = 400,
                           class = "doodle-canvas"),
        shiny::div(
          class = "doodle-buttons",
          shiny::actionButton("undo", "Undo last stroke"),
          shiny::actionButton("clear", "Clear")
        ),
        shiny::uiOutput("notice")
      ),
      shiny::column(
        6,
        shiny::h4("The model's guesses"),
        shiny::uiOutput("guesses"),
        shiny::fluidRow(
          shiny::column(4, shiny::h5("What the model saw"), shiny::uiOutput("seen")),
          shiny::column(8, shiny::h5("Training drawings of its guess"),
                        shiny::uiOutput("examples"))
        ),
        shiny::h5("The drawing, simplified as the dataset stores it"),
        shiny::verbatimTextOutput("json")
      )
    )
  )
}

app_server <- function(context) {
  example_cache <- new.env(parent = emptyenv())
  function(input, output, session) {
    strokes <- shiny::reactiveVal(list())
    notice <- shiny::reactiveVal(NULL)
    # The server holds the drawing; the canvas shows what it holds (a refused stroke disappears).
    set_strokes <- function(value) {
      strokes(value)
      session$sendCustomMessage("doodle_strokes", strokes_for_canvas(value))
    }
    shiny::observeEvent(input$stroke, {
      stroke <- read_stroke(input$stroke, context$max_points)
      points <- sum(vapply(strokes(), function(s) length(s$x), 1L))
      if (is.list(stroke) && points + length(stroke$x) > context$max_points) {
        stroke <- sprintf(paste(
          "That stroke was not added: the drawing would have %s points, more than the %s the",
          "page takes. Undo or clear, and draw with fewer points."),
          format(points + length(stroke$x), big.mark = ","),
          format(context$max_points, big.mark = ","))
      }
      if (is.character(stroke)) {
        notice(stroke)
        set_strokes(strokes())
      } else {
        notice(NULL)
        set_strokes(c(strokes(), list(stroke)))
      }
    })
    shiny::observeEvent(input$undo, {
      notice(NULL)
      set_strokes(utils::head(strokes(), -1))
    })
    shiny::observeEvent(input$clear, {
      notice(NULL)
      set_strokes(list())
    })
    guess <- shiny::reactive(guess_doodle(context, strokes()))
    output$notice <- shiny::renderUI({
      if (!is.null(notice())) shiny::div(class = "doodle-notice", notice())
    })
    output$guesses <- shiny::renderUI(guess_ui(guess()))
    output$seen <- shiny::renderUI({
      seen <- guess()$seen
      if (!is.null(seen)) {
        shiny::tags$img(id = "doodle_seen", class = "doodle-seen", src = png_uri(seen),
                        alt = "the image the model saw")
      }
    })
    output$examples <- shiny::renderUI({
      top <- guess()$top
      if (is.null(top) || context$examples == 0) return(NULL)
      word <- top$word[1]
      if (is.null(example_cache[[word]])) {
        example_cache[[word]] <- tryCatch(example_images(context, word), error = function(e) list())
      }
      shiny::div(class = "doodle-examples", lapply(example_cache[[word]], function(image) {
        shiny::tags$img(class = "doodle-example", src = image, alt = word, title = word)
      }))
    })
    output$json <- shiny::renderText(guess()$json)
  }
}

# One stroke sent by the canvas: JSON {"x": [...], "y": [...], "t": [...]}. Returns list(x, y, t) or
# the reason it was refused.
read_stroke <- function(json, max_points) {
  refused <- "That stroke was not added: the page received it malformed."
  # About 30 characters per point; a longer message is refused before it is parsed.
  if (!is.character(json) || length(json) != 1 || is.na(json)) return(refused)
  if (nchar(json) > 64 * max_points) {
    return(sprintf(paste("That stroke was not added: it has more points than the %s the page",
                         "takes. Draw with fewer points."), format(max_points, big.mark = ",")))
  }
  stroke <- tryCatch(jsonlite::parse_json(json, simplifyVector = TRUE), error = function(e) NULL)
  ok <- is.list(stroke) && is.numeric(stroke$x) && is.numeric(stroke$y) &&
    length(stroke$x) == length(stroke$y) && length(stroke$x) > 0 &&
    all(is.finite(stroke$x)) && all(is.finite(stroke$y))
  if (!ok) return(refused)
  list(x = as.double(stroke$x), y = as.double(stroke$y),
       t = if (is.numeric(stroke$t) && length(stroke$t) == length(stroke$x)) as.double(stroke$t))
}

# The strokes as the canvas draws them: a JSON string [[xs, ys], ...] (a string, so that one-point
# strokes stay arrays).
strokes_for_canvas <- function(strokes) {
  as.character(jsonlite::toJSON(lapply(strokes, function(s) list(s$x, s$y)), digits = NA))
}

# What the page shows for a drawing: list(json, top = data.frame(word, probability), seen = the
# image array the model saw, message). Never an error: a failure is the message.
guess_doodle <- function(context, strokes) {
  result <- list(json = "[]", top = NULL, seen = NULL, message = NULL)
  if (length(strokes) > 0) {
    result$json <- tryCatch(simplify_doodles(list(strokes)), error = function(e) e)
    if (inherits(result$json, "error")) {
      return(list(json = "", message = paste("The drawing cannot be simplified:",
                                             conditionMessage(result$json))))
    }
  }
  if (!is.null(context$problem)) {
    result$message <- context$problem
    return(result)
  }
  if (length(strokes) == 0) {
    result$message <- "Draw a doodle: the model names it after each stroke."
    return(result)
  }
  predicted <- tryCatch(predict_drawing(context, result$json), error = function(e) e)
  if (inherits(predicted, "error")) {
    result$message <- paste("The model could not predict this drawing:",
                            conditionMessage(predicted))
    return(result)
  }
  c(result[c("json", "message")], predicted)
}

# The three likeliest words of one drawing, by the path of predict.R (a test_generator() batch in
# the model's format), and the image the model saw.
predict_drawing <- function(context, json) {
  it <- test_generator(data.frame(drawing = json), batch_size = 1, scale = context$scale,
                       color = context$color, imagenet_preproc = context$imagenet_preproc,
                       format = context$format)
  probabilities <- predict_probabilities(context$model, it)
  best <- top_k_columns(probabilities, 3L)[1, ]
  # The same picture in [0, 1], whatever range the model takes it in.
  seen <- draw_doodle(json, scale = context$scale, color = context$color)
  list(top = data.frame(word = context$words[best], probability = probabilities[1, best]),
       seen = seen)
}

guess_ui <- function(guess) {
  if (!is.null(guess$message)) return(shiny::div(class = "doodle-message", guess$message))
  shiny::tags$ol(class = "doodle-guesses", lapply(seq_len(nrow(guess$top)), function(i) {
    percent <- 100 * guess$top$probability[i]
    shiny::tags$li(
      shiny::span(class = "doodle-word", guess$top$word[i]),
      shiny::span(class = "doodle-probability", sprintf("%.1f%%", percent)),
      shiny::div(class = "doodle-bar", style = sprintf("width: %.1f%%", percent))
    )
  }))
}

# A few training drawings of `word`, recognized ones first, as PNG data URIs.
example_images <- function(context, word) {
  con <- DBI::dbConnect(doodles_duckdb(), dbdir = db_file_in(context$db_dir), read_only = TRUE)
  on.exit(DBI::dbDisconnect(con), add = TRUE)
  drawings <- DBI::dbGetQuery(con, paste(
    "SELECT drawing FROM doodles WHERE word = ? ORDER BY recognized IS NOT TRUE, id LIMIT ?"
  ), params = list(word, context$examples))$drawing
  if (length(drawings) == 0) return(list())
  images <- draw_doodles(drawings, scale = 0.5, antialias = TRUE)
  lapply(seq_along(drawings), function(i) png_uri(images[i, , , ]))
}

# An image array (height, width[, channels]) in [0, 1] as a PNG data URI.
png_uri <- function(image) {
  if (length(dim(image)) == 3 && dim(image)[3] == 1) image <- image[, , 1]
  # base64_enc() breaks its lines, which a data URI must not have.
  paste0("data:image/png;base64,", gsub("\n", "", jsonlite::base64_enc(png::writePNG(image))))
}
