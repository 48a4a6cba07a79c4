#!/usr/bin/env Rscript
# The drawing page: draw a doodle in the browser and the trained model names it.
# Rscript app.R -m models/lenet_64_1ch_final.keras -d db --port 8888
# Installed with the package (system.file("bin", "app.R", package = "doodles")); a checkout's
# bin/app.R runs this same file.
suppressPackageStartupMessages(library(doodles))

doc <- "Open a web page where you draw a doodle and the trained model names it.

Usage:
  app.R --help
  app.R [options]

Options:
  -h --help                    Show this message.
  -m --model=<model>           A model saved by train_nn.R (.keras); without one the page says how to train one.
  -d --db-dir=<path>           The training database folder, for the words (default: environment variable DBDIR).
  -p --port=<port>             The port the page is served on [default: 8888].
  --host=<address>             The address it listens on [default: 127.0.0.1].
  --examples=<n>               Training drawings of the guessed word shown [default: 4].
  --imagenet-preproc           Scale pixels to [-1, 1] for a float32 model trained with ImageNet weights
                               (models from train_nn.R take uint8 and rescale themselves).
"

main <- function(opts) {
  model <- cli_option(opts, "model", optional = TRUE)
  db_dir <- cli_option(opts, "db-dir", optional = TRUE)
  if (is.null(db_dir)) db_dir <- Sys.getenv("DBDIR")
  port <- cli_option(opts, "port", "count", lower = 1, upper = 65535)
  host <- cli_option(opts, "host")
  examples <- cli_option(opts, "examples", "count", lower = 0)
  # strict: a model or database that the page could only complain about stops the script here.
  app <- doodle_app(model, db_dir,
    imagenet_preproc = cli_option(opts, "imagenet-preproc", "flag"), examples = examples, strict = TRUE
  )
  # The address is announced once the server listens (shiny calls launch.browser then).
  listening <- FALSE
  announce <- function(url) {
    listening <<- TRUE
    cli::cli_alert_info("The drawing page: {.url {url}} (Ctrl-C stops it)")
  }
  tryCatch(
    shiny::runApp(app, port = port, host = host, launch.browser = announce, quiet = TRUE),
    error = function(e) {
      if (listening) stop(e)
      stop(sprintf(
        "cannot serve the page on %s port %d (%s): is another program using the port? Choose another with --port",
        host, port, conditionMessage(e)
      ), call. = FALSE)
    }
  )
}

quit(save = "no", status = run_cli(doc, main))
