# The main job (`make demo`), on the real sample shipped with doodles (inst/extdata: 3,000 training
# drawings of 345 classes, 750 test drawings and their answers):
# 1. rasterize the 750 test drawings and write the first 64 as an 8 x 8 grid of PNG images, in gray
#    and in colour (a hue per stroke);
# 2. load the training zip into a DuckDB database, train a small network for a few epochs on the CPU
#    with bin/train_nn.R, predict the test drawings with bin/predict.R, write the submission and
#    print MAP@3, the timings and where the files are.
# Usage: Rscript inst/job/demo.R [output dir, default out/demo]
library(doodles)
args <- commandArgs(trailingOnly = TRUE)
out <- if (length(args) >= 1) args[1] else file.path("out", "demo")
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

# ---- 2. The workflow: database, training, prediction, submission --------------------------------
# The steps run the installed scripts as a user would (Rscript train_nn.R ...), their output shown
# as it comes.
timings <- c(rasterize = seconds)
timed <- function(step, code) {
  started <- proc.time()[["elapsed"]]
  value <- code
  timings[[step]] <<- proc.time()[["elapsed"]] - started
  invisible(value)
}
run_script <- function(name, args) {
  status <- system2(file.path(R.home("bin"), "Rscript"),
                    c(system.file("bin", name, package = "doodles"), args))
  if (status != 0L) stop(sprintf("%s failed with status %d", name, status), call. = FALSE)
}
sample_file <- function(name) system.file("extdata", name, package = "doodles")
db_dir <- file.path(out, "db")
models_dir <- file.path(out, "models")
logs_dir <- file.path(out, "logs")
submission <- file.path(out, "submission.csv")
# A fresh run each time: the database, the checkpoints and the logs of an earlier one go.
unlink(c(db_dir, models_dir, logs_dir), recursive = TRUE)
dir.create(db_dir, recursive = TRUE)

cli::cli_h1("Python Keras")
timed("keras environment", install_keras_env())

cli::cli_h1("Load the training drawings into a database")
con <- DBI::dbConnect(doodles_duckdb(), dbdir = db_file_in(db_dir))
timed("load", load_doodles(con, sample_file("train_simplified.zip"), progress = TRUE))
print(DBI::dbGetQuery(con, "SELECT count(*) AS drawings, count(DISTINCT word) AS classes FROM doodles"))
# The training script opens the database itself.
DBI::dbDisconnect(con)

cli::cli_h1("Train a small network on the CPU: bin/train_nn.R")
model_name <- "lenet"
scale <- "0.125"
timed("train", run_script("train_nn.R", c(
  "-m", model_name, "-s", scale, "-b", "32", "-r", "0.9", "-e", "8", "-n", "0",
  "-d", db_dir, "--models-dir", models_dir, "--logs-dir", logs_dir
)))

cli::cli_h1("Predict the test drawings: bin/predict.R")
model_file <- list.files(models_dir, "_final\\.keras$", full.names = TRUE)
timed("predict", run_script("predict.R", c(
  model_file, "-d", db_dir, "-t", sample_file("test_simplified.csv"),
  "-a", sample_file("test_answers.csv"), "-o", submission, "-z"
)))

cli::cli_h1("Done")
answers <- utils::read.csv(sample_file("test_answers.csv"), colClasses = "character")
predicted <- utils::read.csv(submission, colClasses = "character")
# A random guess of three of the 345 words scores (1 + 1/2 + 1/3) / 345, about 0.005.
cat(sprintf("MAP@3 on the %d test drawings: %.4f (a random guess: 0.0053)\n\n",
            nrow(predicted), map_at_k(answers, predicted)))
cat(sprintf("%-18s %6.1f s\n", names(timings), timings), sep = "")
cat("\nfiles in", normalizePath(out), "\n")
cat(paste0("  ", list.files(out, recursive = TRUE)), sep = "\n")
