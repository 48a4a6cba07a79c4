# The steps train_nn.R and predict.R are made of (R/train-script.R, R/predict-script.R) and the
# checkpoints' names (R/callbacks.R), called directly; test-scripts*.R run the scripts themselves.

expect_usage_error <- function(expr, message) {
  err <- expect_error(expr, class = "doodles_error_usage")
  expect_identical(conditionMessage(err), message)
  expect_null(err$call)
}

test_that("checkpoint_names builds and parses every name of a training's files", {
  names <- doodles:::checkpoint_names("mobilenet_v2", 64L, 1L)
  expect_identical(names$stem, "mobilenet_v2_64_1ch")
  expect_identical(names$keras_pattern, "mobilenet_v2_64_1ch_{epoch:02d}_{val_loss:.4f}.keras")
  expect_identical(names$file(3, 1.234567), "mobilenet_v2_64_1ch_03_1.2346.keras")
  expect_identical(names$file(123L, 0.5), "mobilenet_v2_64_1ch_123_0.5000.keras")
  expect_identical(names$final, "mobilenet_v2_64_1ch_final.keras")
  # Keras' own formatting of the pattern gives the same names.
  expect_identical(names$epoch_of(c(names$file(7, 2.5), file.path("models", names$file(123, 0.1)))),
                   c(7L, 123L))
  expect_identical(names$epoch_of(c("mobilenet_v2_64_1ch_final.keras", "mobilenet_v2_64_3ch_05_1.0000.keras",
                                    "mobilenet_v2_32_1ch_05_1.0000.keras", "lenet_64_1ch_05_1.0000.keras",
                                    "mobilenet_v2_64_1ch_05_1.0000.h5")),
                   rep(NA_integer_, 5))
  # A name with a regular expression's characters is matched as it is.
  dotted <- doodles:::checkpoint_names("a.b+", 32L, 3L)
  expect_identical(dotted$epoch_of(c(dotted$file(2, 1), "aXb+_32_3ch_02_1.0000.keras")), c(2L, NA))
})

test_that("training_callbacks names its files with checkpoint_names", {
  skip_if_no_keras()
  dir <- withr::local_tempdir()
  callbacks <- training_callbacks("lenet", 32L, 1L, models_dir = file.path(dir, "m"),
                                  logs_dir = file.path(dir, "l"), write = FALSE)
  names <- doodles:::checkpoint_names("lenet", 32L, 1L)
  expect_identical(callbacks$stem, names$stem)
  expect_identical(callbacks$checkpoint_pattern, file.path(dir, "m", names$keras_pattern))
  expect_identical(callbacks$checkpoint_file(4, 0.25), file.path(dir, "m", names$file(4, 0.25)))
  expect_identical(callbacks$final_file, file.path(dir, "m", names$final))
  expect_identical(callbacks$checkpoint_epoch(callbacks$checkpoint_file(12, 1)), 12L)
})

test_that("resume_epoch reads the checkpoint's epoch and refuses another model's or a spent one", {
  expect_identical(doodles:::resume_epoch(NULL, "lenet", 32, 1, 10), 0L)
  expect_identical(doodles:::resume_epoch("models/lenet_32_1ch_04_1.2000.keras", "lenet", 32, 1, 10), 4L)
  expect_usage_error(
    doodles:::resume_epoch("models/lenet_32_3ch_04_1.2000.keras", "lenet", 32, 1, 10),
    paste("'models/lenet_32_3ch_04_1.2000.keras' (--resume) is not a checkpoint of lenet at this size",
          "and colour (lenet_32_1ch_<epoch>_<val_loss>.keras): give the -m, -s and -c it was trained with")
  )
  expect_usage_error(
    doodles:::resume_epoch("lenet_32_1ch_10_1.2000.keras", "lenet", 32, 1, 10),
    "the checkpoint 'lenet_32_1ch_10_1.2000.keras' is of epoch 10: -e/--epochs (10) leaves nothing to train"
  )
})

test_that("check_split and split_rows_needed agree on the smallest data that splits", {
  expect_true(doodles:::check_split(1000, 0.9, 32))
  expect_usage_error(doodles:::check_split(1000, 0.99, 32), paste(
    "-r 0.99 leaves 10 of the 1,000 rows to validate, fewer than one batch of 32:",
    "pass -r 0.968 or lower, or a smaller -b"))
  expect_usage_error(doodles:::check_split(1000, 0.01, 32), paste(
    "-r 0.01 leaves 10 of the 1,000 rows to train, fewer than one batch of 32:",
    "pass -r 0.032 or higher, or a smaller -b"))
  expect_usage_error(doodles:::check_split(40, 0.5, 32), paste(
    "the data has 40 rows, too few for a batch of 32 to train and one to validate: pass a smaller -b"))
  for (ratio in c(0.3, 0.5, 0.9, 0.995)) {
    for (batch in c(1, 7, 32)) {
      needed <- doodles:::split_rows_needed(ratio, batch)
      expect_true(doodles:::split_fits(needed, ratio, batch))
      expect_false(any(vapply(seq_len(needed - 1), doodles:::split_fits, TRUE, ratio, batch)))
    }
  }
  expect_identical(doodles:::split_rows_needed(1, 32), Inf)
  expect_identical(doodles:::split_rows_needed(0, 32), Inf)
})

test_that("count_data_rows counts a zip's, a folder's and a file's rows up to a bound", {
  zip <- sample_zip()
  total <- sum(vapply(read_zip_csvs(zip), nrow, 1L))
  expect_equal(doodles:::count_data_rows(zip, 1e6), total)
  expect_gte(doodles:::count_data_rows(zip, 10), 10)
  expect_lt(doodles:::count_data_rows(zip, 10), total)
  dir <- withr::local_tempdir()
  writeLines(c("a,b", "1,2", "3,4"), file.path(dir, "x.csv"))
  writeLines(c("{}", "{}", "{}"), file.path(dir, "y.ndjson"))
  writeLines("ignored", file.path(dir, "z.txt"))
  expect_equal(doodles:::count_data_rows(dir, 1e6), 5)
  expect_equal(doodles:::count_data_rows(file.path(dir, "x.csv"), 1e6), 2)
})

test_that("train_check_model and train_check_options refuse what train_nn.R refuses", {
  withr::local_envvar(TF_CONFIG = "")
  expect_identical(doodles:::train_check_model("lenet"), "lenet")
  expect_usage_error(doodles:::train_check_model("bogus"),
                     "unknown model 'bogus' (-m/--model): --list-models lists them")
  expect_false(doodles:::train_check_options())
  expect_true(doodles:::train_check_options("a:1,b:2", 0L))
  expect_usage_error(doodles:::train_check_options("a:1,b:2"),
                     "--workers needs --worker-index: this worker's place in the list, from 0")
  expect_usage_error(doodles:::train_check_options(worker_index = 1L),
                     "--worker-index needs --workers, every worker's host:port")
  expect_usage_error(doodles:::train_check_options("a:1,b:2", 0L, data_zip = "x.zip"), paste(
    "--data cannot be used with several workers: load the database once (without --workers)",
    "and give every worker a copy of it"))
  expect_usage_error(doodles:::train_check_options(resume = "no/such.keras"),
                     "the checkpoint 'no/such.keras' (--resume) does not exist")
  withr::local_envvar(TF_CONFIG = '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}')
  expect_true(doodles:::train_check_options())
})

test_that("train_open_database and train_fill_database open, load and refuse as train_nn.R does", {
  dir <- withr::local_tempdir()
  withr::local_envvar(DBDIR = "")
  expect_usage_error(doodles:::train_open_database(),
                     "no database folder: give it with -d/--db-dir or the environment variable DBDIR")
  missing <- file.path(dir, "db")
  expect_usage_error(doodles:::train_open_database(missing), sprintf(
    "the database folder '%s' does not exist; create it by loading the data: --data train_simplified.zip",
    missing))
  expect_usage_error(doodles:::train_open_database(missing, file.path(dir, "no.zip")),
                     sprintf("the data file '%s' (--data) does not exist", file.path(dir, "no.zip")))
  expect_usage_error(doodles:::train_open_database(dir, multi_worker = TRUE),
                     sprintf("the database folder '%s' holds no database (doodles.duckdb)", dir))
  # DBDIR when -d is not given; the folder is created when --data will fill it.
  withr::local_envvar(DBDIR = missing)
  db <- doodles:::train_open_database(data_zip = sample_zip())
  on.exit(DBI::dbDisconnect(db$con), add = TRUE)
  expect_identical(db$db_dir, missing)
  expect_true(dir.exists(missing))
  expect_usage_error(doodles:::train_fill_database(db$con, missing, NULL, 0.9, 32), sprintf(
    "the database in '%s' holds no doodles: load them with --data train_simplified.zip", missing))
  # The split is refused before anything is loaded.
  expect_error(doodles:::train_fill_database(db$con, missing, sample_zip(), 0.9, 1e6),
               "too few for a batch", class = "doodles_error_usage")
  expect_false(DBI::dbExistsTable(db$con, "doodles"))
  n <- NULL
  expect_message(n <- doodles:::train_fill_database(db$con, missing, sample_zip(), 0.9, 32), "Loading")
  expect_gt(n, 0)
  expect_equal(DBI::dbGetQuery(db$con, "SELECT count(*) AS n FROM doodles")$n, n)
  expect_message(again <- doodles:::train_fill_database(db$con, missing, sample_zip(), 0.9, 32),
                 "--data not loaded")
  expect_equal(again, n)
  split <- doodles:::train_split(db$con, 0.9, 42L)
  expect_length(split$train, floor(n * 0.9))
  expect_length(split$validate, n - floor(n * 0.9))
  expect_setequal(c(split$train, split$validate), DBI::dbGetQuery(db$con, "SELECT id FROM doodles")$id)
  expect_identical(doodles:::train_split(db$con, 0.9, 42L), split)
})

test_that("check_worker_batch_size wants a multiple of the workers, from --workers or TF_CONFIG", {
  expect_identical(doodles:::check_worker_batch_size(32, "a:1,b:2"), 2L)
  expect_usage_error(doodles:::check_worker_batch_size(33, "a:1,b:2"),
                     "-b/--batch-size (33) must be a multiple of the number of workers (2)")
  withr::local_envvar(TF_CONFIG = paste0('{"cluster": {"chief": ["a:1"], "worker": ["b:2", "c:3"]},',
                                         ' "task": {"type": "worker", "index": 0}}'))
  expect_usage_error(doodles:::check_worker_batch_size(32),
                     "-b/--batch-size (32) must be a multiple of the number of workers (3)")
  expect_identical(doodles:::check_worker_batch_size(33), 3L)
})

test_that("check_resumed_model compares the checkpoint's input and classes with the data's", {
  model <- list(input_shape = list(NULL, 32L, 32L, 1L), output_shape = list(NULL, 5L))
  expect_true(doodles:::check_resumed_model(model, "m.keras", c(32L, 32L, 1L), 5L))
  expect_usage_error(doodles:::check_resumed_model(model, "m.keras", c(64L, 64L, 1L), 5L),
                     "the checkpoint 'm.keras' takes 32x32x1 images into 5 classes, not 64x64x1 into 5")
  expect_usage_error(doodles:::check_resumed_model(model, "m.keras", c(32L, 32L, 1L), 6L),
                     "the checkpoint 'm.keras' takes 32x32x1 images into 5 classes, not 32x32x1 into 6")
})

# What train_nn.R uses of training_callbacks(), without Keras.
fake_callbacks <- function(dir, monitor = "val_loss") {
  names <- doodles:::checkpoint_names("lenet", 32L, 1L)
  file <- function(epoch, val_loss) file.path(dir, names$file(epoch, val_loss))
  list(log_file = file.path(dir, "log.csv"), curve_file = file.path(dir, "log.png"),
       final_file = file.path(dir, names$final), checkpoint_epoch = names$epoch_of,
       checkpoint_file = file,
       best_checkpoint = function(log) doodles:::best_checkpoint(log, monitor, "min", file))
}

test_that("save_best_model keeps the best epoch's weights and saves the final model", {
  dir <- withr::local_tempdir()
  callbacks <- fake_callbacks(dir)
  writeLines(c("epoch,loss,val_loss", "0,2,1.5", "1,1,0.5", "2,0.5,0.75"), callbacks$log_file)
  calls <- list()
  model <- list(load_weights = function(file) calls$load <<- file,
                save = function(file) calls$save <<- file)
  kept <- doodles:::save_best_model(model, callbacks)
  expect_identical(kept$best$epoch, 2L)
  expect_identical(kept$best$value, 0.5)
  expect_identical(calls$load, callbacks$checkpoint_file(2, 0.5))
  expect_identical(calls$save, callbacks$final_file)
  expect_identical(kept$log$epoch, 1:3)
  expect_true(file.exists(callbacks$curve_file))
})

test_that("resume_advice names the last checkpoint, by epoch, and drops an empty log", {
  dir <- withr::local_tempdir()
  callbacks <- fake_callbacks(dir)
  expect_identical(doodles:::resume_advice(callbacks, dir, chief = FALSE),
                   "Restart all the workers, with --resume and the last checkpoint worker 0 wrote, if any.")
  writeLines("epoch,loss,val_loss", callbacks$log_file)
  expect_identical(doodles:::resume_advice(callbacks, dir, chief = TRUE),
                   "No checkpoint was written yet: restart all the workers (without --resume).")
  expect_false(file.exists(callbacks$log_file))
  for (epoch in c(9, 99, 100)) file.create(callbacks$checkpoint_file(epoch, 1))
  file.create(file.path(dir, "lenet_32_3ch_120_1.0000.keras"))
  expect_identical(doodles:::resume_advice(callbacks, dir, chief = TRUE), sprintf(
    "Restart all the workers with --resume %s to go on from its epoch.", callbacks$checkpoint_file(100, 1)))
})

test_that("parse_ensemble_weights takes one non-negative weight per model", {
  expect_null(doodles:::parse_ensemble_weights(NULL, 2))
  expect_identical(doodles:::parse_ensemble_weights("1,0.5", 2), c(1, 0.5))
  expect_identical(doodles:::parse_ensemble_weights("0,2", 2), c(0, 2))
  for (bad in c("1", "1,2,3", "1,x", "1,-1", "0,0", "")) {
    expect_usage_error(doodles:::parse_ensemble_weights(bad, 2),
                       "-w/--weights must be 2 non-negative numbers, not all 0, comma-separated")
  }
})

test_that("predict_check_files wants every file and the database folder", {
  dir <- withr::local_tempdir()
  file <- file.path(dir, "m.keras")
  file.create(file)
  withr::local_envvar(DBDIR = dir)
  expect_identical(doodles:::predict_check_files(file), dir)
  expect_identical(doodles:::predict_check_files(file, tempdir()), tempdir())
  expect_usage_error(doodles:::predict_check_files(c(file, file.path(dir, "t.csv"))),
                     sprintf("the file '%s' does not exist", file.path(dir, "t.csv")))
  withr::local_envvar(DBDIR = "")
  expect_usage_error(doodles:::predict_check_files(file), paste(
    "the database folder '' does not exist: give the training database with -d/--db-dir or DBDIR"))
  expect_usage_error(doodles:::predict_check_files(file, file.path(dir, "db")), sprintf(
    "the database folder '%s' does not exist: give the training database with -d/--db-dir or DBDIR",
    file.path(dir, "db")))
})

test_that("predict_data renders for ImageNet's scale only for one float32 model", {
  test <- utils::read.csv(sample_test_csv(), colClasses = c(key_id = "character"))[1:3, ]
  bytes <- list(format = "uint8", scale = 0.25, color = FALSE)
  floats <- list(format = "float32", scale = 0.25, color = FALSE)
  expect_identical(doodles:::predict_data(test, list(floats), FALSE, 2L), test)
  expect_message(same <- doodles:::predict_data(test, list(bytes), TRUE, 2L), "--imagenet-preproc is not used")
  expect_identical(same, test)
  expect_message(same <- doodles:::predict_data(test, list(floats, floats), TRUE, 2L),
                 "--imagenet-preproc is not used")
  expect_identical(same, test)
  skip_if_no_keras()
  it <- doodles:::predict_data(test, list(floats), TRUE, 2L)
  batch <- next_batch(it)
  x <- if (inherits(batch[[1]], "python.builtin.object")) reticulate::py_to_r(batch[[1]]) else batch[[1]]
  expect_equal(dim(x), c(2L, 64L, 64L, 1L))
  expect_gte(min(x), -1)
  expect_lte(max(x), 1)
  expect_lt(min(x), 0)
})

test_that("answers_map3 scores the predictions and wants an answer for each row", {
  dir <- withr::local_tempdir()
  answers <- file.path(dir, "answers.csv")
  writeLines(c("key_id,word", "1,cat", "2,dog"), answers)
  top3 <- data.frame(key_id = c("1", "2"), word = c("cat dog fish", "cat fish dog"))
  expect_equal(doodles:::answers_map3(top3, answers), (1 + 1 / 3) / 2)
  top3 <- rbind(top3, data.frame(key_id = "3", word = "cat dog fish"))
  expect_usage_error(doodles:::answers_map3(top3, answers),
                     sprintf("'%s' has no answer for 1 of the test rows", answers))
})
