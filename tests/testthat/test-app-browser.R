# The drawing page in a real browser: Debian's headless chromium, driven through chromium-driver by
# Selenium (from PyPI, in the package's Python environment), draws a real drawing of the sample
# with mouse events on the canvas, then undoes a stroke and clears it.

chromium_paths <- function() {
  c(browser = Sys.getenv("DOODLES_CHROMIUM", Sys.which("chromium")),
    driver = Sys.getenv("DOODLES_CHROMEDRIVER", Sys.which("chromedriver")))
}

skip_if_no_browser <- function() {
  paths <- chromium_paths()
  if (!all(nzchar(paths))) {
    skip("chromium and chromium-driver are not installed (tools/setup.sh installs them)")
  }
  skip_if_no_keras()
  if (!reticulate::py_module_available("selenium")) {
    skip("Selenium is not installed in the Python environment (tools/setup.sh installs it)")
  }
  paths
}

# Where the test leaves its screenshot.
test_output_dir <- function() {
  dir <- Sys.getenv("DOODLES_TEST_OUTPUT", testthat::test_path("_output"))
  dir.create(dir, recursive = TRUE, showWarnings = FALSE)
  dir
}

# Serves the page as a user does, `Rscript app.R -m <model> -d <db> --port N` (the installed script,
# with this session's library paths); returns its URL.
start_page <- function(model_file, db_dir, env = parent.frame()) {
  port <- free_port()
  log <- withr::local_tempfile(fileext = ".log", .local_envir = env)
  script <- system.file("bin", "app.R", package = "doodles", mustWork = TRUE)
  page <- processx::process$new(
    file.path(R.home("bin"), "Rscript"),
    c(script, "-m", model_file, "-d", db_dir, "--port", port),
    stdout = log, stderr = "2>&1",
    env = c("current", R_LIBS = paste(.libPaths(), collapse = .Platform$path.sep), TZ = "UTC")
  )
  withr::defer(page$kill(), envir = env)
  url <- sprintf("http://127.0.0.1:%d/", port)
  deadline <- Sys.time() + 120
  repeat {
    up <- tryCatch({
      suppressWarnings(readLines(url, warn = FALSE))
      TRUE
    }, error = function(e) FALSE)
    if (up) break
    if (!page$is_alive() || Sys.time() > deadline) {
      fail(paste(c("the page did not start:", readLines(log)), collapse = "\n"))
    }
    Sys.sleep(0.5)
  }
  url
}

# Waits until `condition()` is TRUE (the page answers through its websocket).
wait_for <- function(condition, what, seconds = 60) {
  deadline <- Sys.time() + seconds
  while (!isTRUE(condition())) {
    if (Sys.time() > deadline) fail(paste("timed out waiting for", what))
    Sys.sleep(0.2)
  }
  succeed()
}

test_that("a drawing made with the mouse is named as predict_top3() names its strokes", {
  paths <- skip_if_no_browser()
  skip_if_not_installed("processx")
  db_dir <- sample_db_dir()
  model_file <- sample_model_file()
  url <- start_page(model_file, db_dir)

  webdriver <- reticulate::import("selenium.webdriver")
  options <- webdriver$ChromeOptions()
  options$binary_location <- paths[["browser"]]
  for (argument in c("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1100,900")) {
    options$add_argument(argument)
  }
  service <- webdriver$chrome$service$Service(executable_path = paths[["driver"]])
  driver <- webdriver$Chrome(options = options, service = service)
  withr::defer(driver$quit())
  driver$get(url)
  wait_for(function() driver$execute_script(
    "return !!(window.Shiny && Shiny.shinyapp && Shiny.shinyapp.isConnected())"
  ), "Shiny to connect")
  text_of <- function(id) driver$find_element("id", id)$text
  words_shown <- function() {
    vapply(driver$find_elements("css selector", "#guesses .doodle-word"), function(e) e$text, "")
  }
  wait_for(function() grepl("Draw a doodle", text_of("guesses")), "the empty page")
  ink_pixels <- function() {
    as.integer(driver$execute_script(paste(
      "var c = document.getElementById('doodle_canvas');",
      "var d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;",
      "var n = 0; for (var i = 0; i < d.length; i += 4) if (d[i] < 128) n++; return n;"
    )))
  }

  # A real drawing of the sample, drawn point by point with the mouse on the canvas.
  drawing <- canvas_strokes(sample_test()$drawing[1])
  box <- driver$execute_script(paste(
    "var r = document.getElementById('doodle_canvas').getBoundingClientRect();",
    "return [r.left, r.top];"
  ))
  actions <- reticulate::import("selenium.webdriver.common.actions.action_builder")
  draw_stroke <- function(stroke) {
    builder <- actions$ActionBuilder(driver, duration = 0L)
    pointer <- builder$pointer_action
    xs <- as.integer(ceiling(box[[1]]) + stroke$x)
    ys <- as.integer(ceiling(box[[2]]) + stroke$y)
    pointer$move_to_location(xs[1], ys[1])
    pointer$pointer_down()
    for (i in seq_along(xs)[-1]) pointer$move_to_location(xs[i], ys[i])
    pointer$pointer_up()
    builder$perform()
  }
  model <- keras_module()$saving$load_model(model_file)
  words <- sort(unique(sample_train()$word), method = "radix")
  for (k in seq_along(drawing)) {
    draw_stroke(drawing[[k]])
    json <- simplify_doodles(list(drawing[seq_len(k)]))
    wait_for(function() identical(text_of("json"), json), sprintf("stroke %d on the page", k))
  }
  # The page recorded the strokes drawn (moved by the canvas' place on the page, which the
  # alignment removes) and shows the words predict_top3() gives for them.
  top3 <- expected_top3(model, json, words)
  wait_for(function() identical(words_shown(), top3), "the guesses")
  percent <- vapply(driver$find_elements("css selector", "#guesses .doodle-probability"),
                    function(e) as.numeric(sub("%", "", e$text)), 1)
  expect_length(percent, 3)
  expect_identical(percent, sort(percent, decreasing = TRUE))
  expect_true(driver$find_element("id", "doodle_seen")$is_displayed())
  wait_for(function() length(driver$find_elements("css selector", ".doodle-example")) == 4,
           "the training examples")
  screenshot <- file.path(test_output_dir(), "app-browser.png")
  expect_true(driver$save_screenshot(screenshot))
  viewport <- unlist(driver$execute_script("return [window.innerHeight, window.innerWidth]"))
  expect_identical(dim(png::readPNG(screenshot))[1:2], as.integer(viewport))
  expect_gt(ink_pixels(), 500)

  # Undo takes the last stroke away (on the canvas too), clear takes all.
  driver$find_element("id", "undo")$click()
  json <- simplify_doodles(list(drawing[-length(drawing)]))
  wait_for(function() identical(text_of("json"), json), "the undo")
  wait_for(function() identical(words_shown(), expected_top3(model, json, words)), "the new guesses")
  driver$find_element("id", "clear")$click()
  wait_for(function() identical(text_of("json"), "[]"), "the clear")
  wait_for(function() grepl("Draw a doodle", text_of("guesses")), "the empty page again")
  # The canvas is white again.
  expect_identical(ink_pixels(), 0L)
})
