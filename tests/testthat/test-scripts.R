# The installed scripts (inst/bin/train_nn.R, inst/bin/predict.R) run as a user runs them: Rscript
# in a subprocess, checked by exit status, messages and the files they write.

rscript <- function(script, args = character(), env = character(), wd = tempdir()) {
  path <- system.file("bin", script, package = "doodles", mustWork = TRUE)
  processx::run(
    file.path(R.home("bin"), "Rscript"), c(path, args),
    error_on_status = FALSE, wd = wd, env = c("current", TZ = "UTC", env), timeout = 300
  )
}

# A Python that cannot start: the scripts must not need it for these options.
no_python <- c(DOODLES_VENV = "/nonexistent/venv", RETICULATE_PYTHON = "/nonexistent/python")

test_that("train_nn.R --help prints the article's options and exits 0, without Python", {
  skip_if_not_installed("processx")
  res <- rscript("train_nn.R", "--help", env = no_python)
  expect_identical(res$status, 0L)
  expect_match(res$stdout, "Usage:\n  train_nn.R --help\n  train_nn.R --list-models", fixed = TRUE)
  for (option in c("-m --model=<model>", "[default: mobilenet_v2]", "-b --batch-size=<size>",
                   "[default: 32]", "-s --scale-factor=<ratio>", "[default: 0.5]", "-c --color",
                   "-d --db-dir=<path>", "DBDIR", "-r --validate-ratio=<ratio>", "[default: 0.995]",
                   "-n --n-gpu=<number>", "-l --list-models", "--epochs=<n>",
                   "--steps-per-epoch=<n>", "--validation-steps=<n>", "--learning-rate=<rate>",
                   "--weights=<weights>", "--seed=<n>", "--models-dir=<path>",
                   "--logs-dir=<path>", "--data=<zip>", "--resume=<checkpoint>",
                   "--workers=<hosts>", "--worker-index=<i>", "--worker-timeout=<seconds>")) {
    expect_match(res$stdout, option, fixed = TRUE, label = option)
  }
  expect_identical(res$stderr, "")
})

test_that("train_nn.R --list-models lists list_models(), without Python", {
  skip_if_not_installed("processx")
  for (flag in c("--list-models", "-l")) {
    res <- rscript("train_nn.R", flag, env = no_python)
    expect_identical(res$status, 0L)
    expect_identical(strsplit(res$stdout, "\n")[[1]], list_models())
  }
  expect_true(all(c("mobilenet_v2", "resnet50") %in% list_models()))
})

test_that("train_nn.R stops on a bad option with a clear message and status 1", {
  skip_if_not_installed("processx")
  res <- rscript("train_nn.R", c("-m", "resnet50", "--bogus"), env = no_python)
  expect_identical(res$status, 1L)
  expect_identical(res$stderr, paste0(
    "train_nn.R: error: unknown option '--bogus'. ",
    "Run 'train_nn.R --help' to see the options.\n"
  ))
  expect_identical(res$stdout, "")

  res <- rscript("train_nn.R", c("-b", "lots"), env = no_python)
  expect_identical(res$status, 1L)
  expect_identical(res$stderr,
    "train_nn.R: error: option --batch-size must be a whole number >= 1, not 'lots'\n")

  res <- rscript("train_nn.R", c("-m", "no_such_net"), env = no_python)
  expect_identical(res$status, 1L)
  expect_identical(res$stderr,
    "train_nn.R: error: unknown model 'no_such_net' (-m/--model): --list-models lists them\n")
})

test_that("train_nn.R names a missing database folder and how to create it", {
  skip_if_not_installed("processx")
  missing_dir <- file.path(withr::local_tempdir(), "no_db")
  res <- rscript("train_nn.R", c("-d", missing_dir), env = no_python)
  expect_identical(res$status, 1L)
  expect_identical(res$stderr, sprintf(paste0(
    "train_nn.R: error: the database folder '%s' does not exist; ",
    "create it by loading the data: --data train_simplified.zip\n"), missing_dir))
  expect_false(dir.exists(missing_dir))

  # The folder may also come from DBDIR, as in the article's Docker image.
  res <- rscript("train_nn.R", character(), env = c(no_python, DBDIR = missing_dir))
  expect_match(res$stderr, sprintf("the database folder '%s' does not exist", missing_dir),
               fixed = TRUE)
  res <- rscript("train_nn.R", character(), env = c(no_python, DBDIR = ""))
  expect_match(res$stderr, "no database folder: give it with -d/--db-dir or the environment variable DBDIR",
               fixed = TRUE)
})

test_that("predict.R --help works and a missing model file is named", {
  skip_if_not_installed("processx")
  res <- rscript("predict.R", "--help", env = no_python)
  expect_identical(res$status, 0L)
  expect_match(res$stdout, "predict.R [options] <model>", fixed = TRUE)
  res <- rscript("predict.R", "missing.keras", env = no_python)
  expect_identical(res$status, 1L)
  expect_identical(res$stderr, "predict.R: error: the file 'missing.keras' does not exist\n")
})

test_that("app.R --help lists its options and a bad option stops it, without Python", {
  skip_if_not_installed("processx")
  res <- rscript("app.R", "--help", env = no_python)
  expect_identical(res$status, 0L)
  for (option in c("app.R [options]", "-m --model=<model>", "-d --db-dir=<path>", "DBDIR",
                   "-p --port=<port>", "[default: 8888]", "--host=<address>",
                   "[default: 127.0.0.1]", "--examples=<n>", "--imagenet-preproc")) {
    expect_match(res$stdout, option, fixed = TRUE, label = option)
  }
  res <- rscript("app.R", c("--port", "http"), env = no_python)
  expect_identical(res$status, 1L)
  expect_identical(res$stderr,
    "app.R: error: option --port must be a whole number between 1 and 65535, not 'http'\n")
})

test_that("train_nn.R trains 1 epoch on the real sample and predict.R writes a scored submission", {
  skip_if_not_installed("processx")
  keras_ok <- keras_available()
  skip_if_not(isTRUE(keras_ok), attr(keras_ok, "reason"))
  work <- withr::local_tempdir()
  db_dir <- file.path(work, "db")
  zip_file <- system.file("extdata", "train_simplified.zip", package = "doodles")

  # The database folder does not exist yet: --data creates and fills it. -n 2 on a machine
  # without GPUs must say so and train on the CPU.
  res <- rscript("train_nn.R", c(
    "-m", "lenet", "-b", "16", "-s", "0.125", "-r", "0.9", "-n", "2", "-e", "1",
    "--steps-per-epoch", "4", "--validation-steps", "2", "--seed", "7",
    "-d", db_dir, "--data", zip_file, "--models-dir", "models", "--logs-dir", "logs"
  ), wd = work)
  expect_identical(res$status, 0L, info = res$stderr)
  output <- paste(res$stdout, res$stderr)
  expect_match(output, "2 GPUs asked for, 0 found: training on the CPU.", fixed = TRUE)
  expect_match(output, "Training lenet on 2,700 doodles (345 classes, 32x32x1), validating on 300",
               fixed = TRUE)

  log_file <- list.files(file.path(work, "logs"), "^lenet_32_1ch_[0-9]{14}\\.csv$", full.names = TRUE)
  expect_length(log_file, 1L)
  log <- utils::read.csv(log_file)
  expect_identical(nrow(log), 1L)
  expect_identical(log$epoch, 0L)
  expect_true(all(c("loss", "val_loss", "top_3_accuracy", "val_top_3_accuracy", "map_3",
                    "val_map_3") %in% names(log)))
  expect_true(is.finite(log$val_loss) && log$val_loss > 0)
  expect_true(file.exists(sub("\\.csv$", ".png", log_file)))

  models <- list.files(file.path(work, "models"))
  checkpoint <- sprintf("lenet_32_1ch_01_%.4f.keras", log$val_loss)
  expect_setequal(models, c(checkpoint, "lenet_32_1ch_final.keras"))
  # cli may wrap the line before the path.
  expect_match(output, sprintf(paste0(
    "final model:\\s+'models/lenet_32_1ch_final.keras',\\s+the\\s+weights\\s+of\\s+epoch\\s+1\\s+",
    "\\(best\\s+val_map_3\\s+%.4f\\),\\s+kept\\s+from\\s+'models/%s'"), log$val_map_3,
    gsub(".", "\\.", checkpoint, fixed = TRUE)))

  # The model files load back and predict: after one epoch, the checkpoint and the final model
  # hold the same weights.
  keras <- keras_module()
  final <- keras$saving$load_model(file.path(work, "models", "lenet_32_1ch_final.keras"))
  saved <- keras$saving$load_model(file.path(work, "models", checkpoint))
  # Read-only, as predict.R opens it: DuckDB lets several processes share a database only so.
  con <- DBI::dbConnect(doodles_duckdb(), dbdir = db_file_in(db_dir), read_only = TRUE)
  withr::defer(DBI::dbDisconnect(con))
  expect_identical(DBI::dbGetQuery(con, "SELECT count(*) AS n FROM doodles")$n, 3000)
  x <- doodle_batch(con, 1:5, scale = 0.125)$x
  p_final <- final$predict(x, verbose = 0L)
  expect_identical(dim(p_final), c(5L, 345L))
  expect_equal(rowSums(p_final), rep(1, 5), tolerance = 1e-4)
  expect_equal(saved$predict(x, verbose = 0L), p_final, tolerance = 1e-6)

  res <- rscript("predict.R", c(
    file.path("models", "lenet_32_1ch_final.keras"), "-d", db_dir,
    "-t", system.file("extdata", "test_simplified.csv", package = "doodles"),
    "-a", system.file("extdata", "test_answers.csv", package = "doodles"),
    "-o", "submission.csv", "-z"
  ), wd = work)
  expect_identical(res$status, 0L, info = res$stderr)
  submission <- utils::read.csv(file.path(work, "submission.csv"), colClasses = "character")
  expect_identical(names(submission), c("key_id", "word"))
  test <- utils::read.csv(system.file("extdata", "test_simplified.csv", package = "doodles"),
                          colClasses = c(key_id = "character"))
  expect_identical(submission$key_id, test$key_id)
  words <- strsplit(submission$word, " ", fixed = TRUE)
  expect_true(all(lengths(words) == 3L))
  labels <- gsub(" ", "_", DBI::dbGetQuery(con, "SELECT word FROM labels")$word, fixed = TRUE)
  expect_true(all(unlist(words) %in% labels))
  expect_identical(utils::unzip(file.path(work, "submission.csv.zip"), list = TRUE)$Name,
                   "submission.csv")
  answers <- utils::read.csv(system.file("extdata", "test_answers.csv", package = "doodles"),
                             colClasses = "character")
  truth <- answers$word[match(submission$key_id, answers$key_id)]
  hits <- mapply(function(w, t) match(t, w), words, truth)
  expected_map <- mean(ifelse(is.na(hits), 0, 1 / hits))
  expect_match(res$stdout, sprintf("MAP@3: %.4f", expected_map), fixed = TRUE)
})

test_that("bin/train_nn.R, bin/predict.R and bin/app.R of a checkout run the inst/bin scripts", {
  skip_if_not_installed("processx")
  # Only when the tests run from a source checkout (tests/testthat inside it).
  root <- normalizePath(file.path(getwd(), "..", ".."), mustWork = FALSE)
  skip_if_not(file.exists(file.path(root, "bin", "train_nn.R")), "not run from a source checkout")
  for (script in c("train_nn.R", "predict.R", "app.R")) {
    res <- processx::run(file.path(R.home("bin"), "Rscript"), c(file.path("bin", script), "--help"),
                         error_on_status = FALSE, wd = root, env = c("current", no_python))
    expect_identical(res$status, 0L)
    installed <- rscript(script, "--help", env = no_python)
    expect_identical(res$stdout, installed$stdout)
  }
  res <- processx::run(file.path(R.home("bin"), "Rscript"), c("bin/train_nn.R", "--bogus"),
                       error_on_status = FALSE, wd = root, env = c("current", no_python))
  expect_identical(res$status, 1L)
  expect_match(res$stderr, "unknown option '--bogus'", fixed = TRUE)
})

test_that("train_nn.R keeps the epoch best by MAP@3 when the validation loss rises, or by --monitor", {
  skip_if_not_installed("processx")
  keras_ok <- keras_available()
  skip_if_not(isTRUE(keras_ok), attr(keras_ok, "reason"))
  work <- withr::local_tempdir()
  zip_file <- system.file("extdata", "train_simplified.zip", package = "doodles")
  keras <- keras_module()
  weights_of <- function(file) lapply(keras$saving$load_model(file)$get_weights(), as.array)
  train <- function(monitor, dir) {
    res <- rscript("train_nn.R", c(
      "-m", "lenet", "-b", "32", "-s", "0.125", "-r", "0.9", "-n", "0", "-e", "8", "--seed", "7",
      "--monitor", monitor, "-d", file.path(work, "db"), "--data", zip_file,
      "--models-dir", file.path(dir, "models"), "--logs-dir", file.path(dir, "logs")
    ), wd = work)
    expect_identical(res$status, 0L, info = res$stderr)
    log <- utils::read.csv(list.files(file.path(dir, "logs"), "\\.csv$", full.names = TRUE))
    list(output = paste(res$stdout, res$stderr), log = log, models = file.path(dir, "models"))
  }
  checkpoint <- function(run, epoch) {
    file.path(run$models, sprintf("lenet_32_1ch_%02d_%.4f.keras", epoch, run$log$val_loss[epoch]))
  }
  by_map <- train("val_map_3", file.path(work, "map"))
  log <- by_map$log
  expect_identical(nrow(log), 8L)
  best_map <- which.max(log$val_map_3)
  best_loss <- which.min(log$val_loss)
  # Seeded: in this run the validation loss is lowest early and then rises while MAP@3 climbs
  # (overfitting 2,700 drawings), so the two choices differ.
  expect_gt(best_map, best_loss)
  expect_gt(log$val_loss[best_map], log$val_loss[best_loss])
  expect_match(by_map$output, sprintf("the\\s+weights\\s+of\\s+epoch\\s+%d\\s+\\(best\\s+val_map_3\\s+%.4f\\)",
                                      best_map, log$val_map_3[best_map]))
  final <- weights_of(file.path(by_map$models, "lenet_32_1ch_final.keras"))
  expect_identical(final, weights_of(checkpoint(by_map, best_map)))

  # The loss-watching choice of before: the final model is then the lowest-loss epoch's.
  by_loss <- train("val_loss", file.path(work, "loss"))
  best_loss <- which.min(by_loss$log$val_loss)
  expect_lt(best_loss, nrow(by_loss$log))
  expect_identical(weights_of(file.path(by_loss$models, "lenet_32_1ch_final.keras")),
                   weights_of(checkpoint(by_loss, best_loss)))
})

test_that("predict.R predicts with an ensemble of models of different inputs, mirrored and balanced", {
  skip_if_no_keras()
  work <- withr::local_tempdir()
  db_dir <- sample_db_dir()  # read only here
  con <- DBI::dbConnect(doodles_duckdb(), dbdir = db_file_in(db_dir), read_only = TRUE)
  words <- class_words(con)
  DBI::dbDisconnect(con)
  keras_module()$utils$set_random_seed(3L)
  small <- get_model("lenet", input_shape = c(32, 32), num_classes = 345, input_dtype = "uint8")
  colour <- get_model("mlp", input_shape = c(16, 16), color = TRUE, num_classes = 345, units = 8)
  small$save(file.path(work, "small.keras"))
  colour$save(file.path(work, "colour.keras"))
  test_csv <- system.file("extdata", "test_simplified.csv", package = "doodles")
  test <- utils::read.csv(test_csv, colClasses = c(key_id = "character"))
  res <- rscript("predict.R", c("small.keras", "colour.keras", "-w", "3,1", "--tta", "hflip",
                                "--balance", "-d", db_dir, "-t", test_csv, "-o", "submission.csv",
                                "-a", system.file("extdata", "test_answers.csv", package = "doodles")),
                 wd = work)
  expect_identical(res$status, 0L, info = res$stderr)
  expect_match(paste(res$stdout, res$stderr),
               "with\\s+2\\s+models\\s+at\\s+32x32x1\\s+and\\s+16x16x3\\s+and\\s+mirrored,\\s+balanced")
  expect_match(res$stdout, "MAP@3: [0-9.]+")
  submission <- utils::read.csv(file.path(work, "submission.csv"), colClasses = "character")
  # What the R functions give for the same models and options.
  expected <- predict_top3(list(small, colour), test, words = words, weights = c(3, 1),
                           tta = "hflip", balance = TRUE)
  expect_identical(submission$key_id, test$key_id)
  underscored <- lapply(expected[c("word1", "word2", "word3")], function(w) gsub(" ", "_", w))
  expect_identical(submission$word, do.call(paste, unname(underscored)))
  bad <- rscript("predict.R", c("small.keras", "colour.keras", "-w", "1", "-d", db_dir,
                                "-t", test_csv), wd = work)
  expect_identical(bad$status, 1L)
  expect_match(bad$stderr, "-w/--weights must be 2 non-negative numbers")
})

test_that("predict.R loads the test CSV as load_test() does: a bad row is named by file and line", {
  skip_if_no_keras()
  work <- withr::local_tempdir()
  db_dir <- sample_db_dir()  # read only here
  get_model("mlp", input_shape = c(16, 16), num_classes = 345, units = 4)$save(file.path(work, "m.keras"))
  writeLines(c("key_id,countrycode,drawing", "1,US,\"[[[0,1],[0,1]]]\"", "2,US,\"[[[0,1],[0\""),
             file.path(work, "test.csv"))
  res <- rscript("predict.R", c("m.keras", "-d", db_dir, "-t", "test.csv"), wd = work)
  expect_identical(res$status, 1L)
  expect_match(res$stderr, "predict.R: error: .*test.csv, line 3: invalid drawing")
  expect_false(file.exists(file.path(work, "submission.csv")))
})

test_that("train_nn.R --augment hflip trains on half-mirrored batches; other kinds are refused", {
  skip_if_not_installed("processx")
  skip_if_no_keras()
  work <- withr::local_tempdir()
  res <- rscript("train_nn.R", c(
    "-m", "mlp", "-b", "16", "-s", "0.0625", "-r", "0.9", "-n", "0", "-e", "1",
    "--steps-per-epoch", "3", "--validation-steps", "1", "--augment", "hflip",
    "-d", "db", "--data", system.file("extdata", "train_simplified.zip", package = "doodles"),
    "--models-dir", "models", "--logs-dir", "logs"
  ), wd = work)
  expect_identical(res$status, 0L, info = res$stderr)
  expect_true(file.exists(file.path(work, "models", "mlp_16_1ch_final.keras")))
  bad <- rscript("train_nn.R", c("--augment", "vflip", "-d", "db"), wd = work, env = no_python)
  expect_identical(bad$status, 1L)
  expect_match(bad$stderr, "--augment")
})
