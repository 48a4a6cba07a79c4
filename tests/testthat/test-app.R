# The drawing page's server logic (doodle_app()), through shiny::testServer.

# Collects the messages the server sends the canvas (a mock session drops them).
canvas_messages <- function(session) {
  box <- new.env(parent = emptyenv())
  box$messages <- list()
  session$sendCustomMessage <- function(type, message) {
    box$messages[[length(box$messages) + 1]] <- list(type = type, message = message)
  }
  box
}

last_message <- function(box) box$messages[[length(box$messages)]]

page_text <- function(ui) gsub("\\s+", " ", as.character(ui$html))

test_that("without a model the page says how to train one, and still records strokes", {
  skip_if_not_installed("shiny")
  db_dir <- sample_db_dir()
  drawing <- canvas_strokes(sample_test()$drawing[1])
  app <- doodle_app(model = NULL, db_dir = db_dir)
  shiny::testServer(app, {
    sent <- canvas_messages(session)
    expect_match(page_text(output$guesses), paste0(
      "No model yet. Train one in one line: Rscript bin/train_nn.R -m lenet -s 0.25 -r 0.9 -e 10 -d ",
      db_dir, ", then open this page with -m models/lenet_64_1ch_final.keras -d ", db_dir, "."
    ), fixed = TRUE)
    for (stroke in drawing) session$setInputs(stroke = stroke_message(stroke))
    expect_identical(output$json, simplify_doodles(list(drawing)))
    expect_identical(last_message(sent)$type, "doodle_strokes")
    expect_equal(jsonlite::fromJSON(last_message(sent)$message, simplifyVector = FALSE) |>
                   lapply(function(s) list(x = unlist(s[[1]]), y = unlist(s[[2]]))),
                 drawing)
    session$setInputs(undo = 1)
    expect_identical(output$json, simplify_doodles(list(drawing[-length(drawing)])))
    session$setInputs(clear = 1)
    expect_identical(output$json, "[]")
    expect_identical(last_message(sent)$message, "[]")
    session$setInputs(undo = 2) # nothing to undo
    expect_identical(strokes(), list())
  })
  missing_model <- file.path(withr::local_tempdir(), "none.keras")
  shiny::testServer(doodle_app(missing_model, db_dir), {
    sent <- canvas_messages(session)
    expect_match(page_text(output$guesses), sprintf("No model at '%s' yet. Train one", missing_model),
                 fixed = TRUE)
  })
  no_db <- file.path(withr::local_tempdir(), "db")
  shiny::testServer(doodle_app(NULL, no_db), {
    sent <- canvas_messages(session)
    expect_match(page_text(output$guesses), sprintf(paste0(
      "No training database in '%s'. Load the data and train a model in one line: ",
      "Rscript bin/train_nn.R -m lenet -s 0.25 -r 0.9 -e 10 -d %s --data train_simplified.zip"), no_db, no_db),
      fixed = TRUE)
  })
})

test_that("after each stroke the page shows predict_top3()'s words, the image and examples", {
  skip_if_not_installed("shiny")
  skip_if_no_keras()
  db_dir <- sample_db_dir()
  model_file <- sample_model_file()
  model <- keras_module()$saving$load_model(model_file)
  words <- sort(unique(sample_train()$word), method = "radix")
  drawing <- canvas_strokes(sample_test()$drawing[2])
  shiny::testServer(doodle_app(model_file, db_dir, examples = 3), {
    sent <- canvas_messages(session)
    expect_match(page_text(output$guesses), "Draw a doodle: the model names it after each stroke.",
                 fixed = TRUE)
    expect_null(output$seen$html)
    for (k in seq_along(drawing)) {
      session$setInputs(stroke = stroke_message(drawing[[k]]))
      json <- simplify_doodles(list(drawing[seq_len(k)]))
      expect_identical(output$json, json)
      top3 <- expected_top3(model, json, words)
      shown <- regmatches(page_text(output$guesses),
                          gregexpr('(?<=<span class="doodle-word">)[^<]+', page_text(output$guesses),
                                   perl = TRUE))[[1]]
      expect_identical(shown, top3) # no word of the sample has a character HTML escapes
    }
    # The probabilities shown are the model's, best first.
    probabilities <- as.numeric(regmatches(page_text(output$guesses),
      gregexpr("[0-9.]+(?=%</span>)", page_text(output$guesses), perl = TRUE))[[1]])
    expect_length(probabilities, 3)
    expect_identical(probabilities, sort(probabilities, decreasing = TRUE))
    expect_lte(sum(probabilities), 100.2)
    # The image the model saw: 32 x 32 gray, as the model takes it.
    seen <- sub("^.*src=\"data:image/png;base64,([^\"]+)\".*$", "\\1", page_text(output$seen))
    image <- png::readPNG(jsonlite::base64_dec(seen))
    expect_identical(dim(image), c(32L, 32L))
    expect_equal(image, draw_doodle(output$json, scale = 0.125)[, , 1], tolerance = 1 / 255)
    examples <- gregexpr('class="doodle-example"', page_text(output$examples))[[1]]
    expect_length(examples, 3)
    expect_match(page_text(output$examples), sprintf('title="%s"', top3[1]),
                 fixed = TRUE)
  })
})

test_that("bad input gets a message on the page, never an error", {
  skip_if_not_installed("shiny")
  db_dir <- sample_db_dir()
  stroke <- list(x = c(10, 200, 30), y = c(10, 40, 300))
  shiny::testServer(doodle_app(NULL, db_dir, max_points = 5), {
    sent <- canvas_messages(session)
    session$setInputs(stroke = stroke_message(stroke))
    expect_null(output$notice$html)
    # A stroke that takes the drawing past max_points is refused, and the canvas told so.
    session$setInputs(stroke = stroke_message(stroke))
    expect_match(page_text(output$notice), paste(
      "That stroke was not added: the drawing would have 6 points, more than the 5 the page",
      "takes. Undo or clear, and draw with fewer points."), fixed = TRUE)
    expect_length(strokes(), 1)
    expect_identical(last_message(sent)$message, "[[[10,200,30],[10,40,300]]]")
    # A huge message is refused before it is parsed.
    session$setInputs(stroke = strrep(" ", 1000))
    expect_match(page_text(output$notice), "it has more points than the 5 the page takes")
    for (bad in c("nope", '{"x": [1, 2], "y": [3]}', '{"x": [], "y": []}', '{"x": ["a"], "y": [1]}',
                  '{"x": [1], "y": [null]}', "[1, 2]")) {
      session$setInputs(stroke = bad)
      expect_match(page_text(output$notice),
                   "That stroke was not added: the page received it malformed.", fixed = TRUE)
      expect_length(strokes(), 1)
    }
    # The next good action clears the message.
    session$setInputs(undo = 1)
    expect_null(output$notice$html)
    expect_identical(output$json, "[]")
  })
})

test_that("a model whose classes do not match the database is named on the page", {
  skip_if_not_installed("shiny")
  skip_if_no_keras()
  keras <- keras_module()
  small <- get_model("mlp", input_shape = c(16, 16), num_classes = 4, units = 8, compile = FALSE)
  file <- file.path(withr::local_tempdir(), "mlp_16_1ch_final.keras")
  small$save(file)
  db_dir <- sample_db_dir()
  shiny::testServer(doodle_app(file, db_dir), {
    sent <- canvas_messages(session)
    message <- sprintf(paste(
      "The model predicts 4 classes but the database in '%s' names 345 words: open the page",
      "with the database the model was trained on."), db_dir)
    expect_match(page_text(output$guesses), message, fixed = TRUE)
    session$setInputs(stroke = stroke_message(list(x = c(1, 100), y = c(1, 50))))
    expect_match(page_text(output$guesses), message, fixed = TRUE)
    expect_identical(output$json, "[[[0, 255], [0, 126]]]")
  })
  # A file that is no model.
  broken <- file.path(withr::local_tempdir(), "broken.keras")
  writeLines("not a model", broken)
  shiny::testServer(doodle_app(broken, db_dir), {
    sent <- canvas_messages(session)
    expect_match(page_text(output$guesses), sprintf("The model '%s' cannot be loaded:", broken),
                 fixed = TRUE)
  })
})

test_that("doodle_app() checks its arguments", {
  skip_if_not_installed("shiny")
  expect_error(doodle_app(model = 3), "model")
  expect_error(doodle_app(NULL, examples = -1), "examples")
  expect_error(doodle_app(NULL, max_points = 0), "max_points")
})

# bin/app.R as a user runs it; one that still serves after `timeout` seconds is stopped (and the
# result says so).
run_app_script <- function(args, timeout = 120, env = character()) {
  script <- system.file("bin", "app.R", package = "doodles", mustWork = TRUE)
  processx::run(file.path(R.home("bin"), "Rscript"), c(script, args), error_on_status = FALSE,
                timeout = timeout, env = c("current", DBDIR = "", env))
}

# A refusal at start: status 1 and the page's message on stderr, no address announced.
expect_refused <- function(res, message) {
  expect_false(res$timeout, label = "the script still serving")
  expect_identical(res$status, 1L)
  # (TensorFlow and shiny may write their own lines before.)
  expect_match(res$stderr, paste0("(?m)^app\\.R: error: ", message), perl = TRUE)
  expect_no_match(paste(res$stdout, res$stderr), "The drawing page")
}

test_that("bin/app.R refuses a mistyped model path or a missing database at start, with the page's message", {
  skip_if_not_installed("shiny")
  skip_if_not_installed("processx")
  db_dir <- sample_db_dir()
  typo <- file.path(withr::local_tempdir(), "lenet_64_1ch_fnal.keras")
  no_python <- c(DOODLES_VENV = "/nonexistent/venv", RETICULATE_PYTHON = "/nonexistent/python")
  expect_refused(run_app_script(c("-m", typo, "-d", db_dir), env = no_python),
                 sprintf("No model at '%s' yet\\. Train one in one line: Rscript bin/train_nn\\.R", typo))
  no_db <- file.path(withr::local_tempdir(), "db")
  expect_refused(run_app_script(c("-m", typo, "-d", no_db), env = no_python),
                 sprintf("No training database in '%s'\\. Load the data and train a model", no_db))
  expect_refused(run_app_script(character(), env = no_python), "No training database\\. Load the data")
})

test_that("bin/app.R refuses a file that is no model, or a model whose classes do not match", {
  skip_if_not_installed("shiny")
  skip_if_not_installed("processx")
  skip_if_no_keras()
  db_dir <- sample_db_dir()
  broken <- file.path(withr::local_tempdir(), "broken.keras")
  writeLines("not a model", broken)
  expect_refused(run_app_script(c("-m", broken, "-d", db_dir)),
                 sprintf("The model '%s' cannot be loaded:", broken))
  small <- get_model("mlp", input_shape = c(16, 16), num_classes = 4, units = 8, compile = FALSE)
  file <- file.path(withr::local_tempdir(), "mlp_16_1ch_final.keras")
  small$save(file)
  expect_refused(run_app_script(c("-m", file, "-d", db_dir)), sprintf(
    "The model predicts 4 classes but the database in '%s' names 345 words", db_dir))
})

test_that("bin/app.R on a port in use names the port and announces no address", {
  skip_if_not_installed("shiny")
  skip_if_not_installed("processx")
  taken <- occupied_port()
  on.exit(close(taken$socket), add = TRUE)
  port <- taken$port
  res <- run_app_script(c("-d", sample_db_dir(), "--port", port))
  expect_refused(res, sprintf("cannot serve the page on 127\\.0\\.0\\.1 port %d .*is another program using the port\\? Choose another with --port", port))
})
