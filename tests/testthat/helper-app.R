# Fixtures for the drawing page's tests: the real sample in a DuckDB database folder (as train_nn.R
# makes it) and a small model trained on it, both made once per test run.

app_cache <- new.env(parent = emptyenv())

# A database folder holding the training sample of inst/extdata.
sample_db_dir <- function() {
  if (is.null(app_cache$db_dir)) {
    dir <- file.path(tempfile("app-db"), "db")
    dir.create(dir, recursive = TRUE)
    con <- DBI::dbConnect(doodles_duckdb(), dbdir = db_file_in(dir))
    load_doodles(con, sample_file("train_simplified.zip"))
    DBI::dbDisconnect(con)
    app_cache$db_dir <- dir
  }
  app_cache$db_dir
}

# LeNet on 32 x 32 bytes, trained for a few batches of the sample as train_nn.R trains (uint8
# batches, a model that rescales them), saved as train_nn.R saves it.
sample_model_file <- function() {
  if (is.null(app_cache$model_file)) {
    keras <- keras_module()
    keras$utils$set_random_seed(1L)
    con <- DBI::dbConnect(doodles_duckdb(), dbdir = db_file_in(sample_db_dir()), read_only = TRUE)
    on.exit(DBI::dbDisconnect(con), add = TRUE)
    ids <- DBI::dbGetQuery(con, "SELECT id FROM doodles ORDER BY id")$id
    model <- get_model("lenet", input_shape = c(32, 32), num_classes = 345, input_dtype = "uint8")
    it <- train_generator(con, ids, batch_size = 64, scale = 0.125, seed = 1L, format = "uint8")
    fit_doodles(model, it, steps_per_epoch = 8, epochs = 1, verbose = 0)
    file <- file.path(tempfile("app-model"), "lenet_32_1ch_final.keras")
    dir.create(dirname(file))
    model$save(file)
    app_cache$model_file <- file
  }
  app_cache$model_file
}

# A drawing of the sample as a person would draw it on the page's 400-pixel canvas: its strokes
# scaled by 1.4 and moved 20 pixels in, as whole pixels (what mouse events carry).
canvas_strokes <- function(drawing) {
  strokes <- jsonlite::parse_json(drawing, simplifyVector = FALSE)
  lapply(strokes, function(s) {
    list(x = round(20 + 1.4 * unlist(s[[1]])), y = round(20 + 1.4 * unlist(s[[2]])))
  })
}

# A stroke as the canvas sends it.
stroke_message <- function(stroke) {
  as.character(jsonlite::toJSON(list(x = stroke$x, y = stroke$y,
                                     t = 16 * (seq_along(stroke$x) - 1)), digits = NA))
}

# The top 3 words predict_top3() gives for one drawing (JSON), in the model's format.
expected_top3 <- function(model, json, words) {
  side <- unlist(model$input_shape)
  it <- test_generator(data.frame(drawing = json), batch_size = 1, scale = side[1] / 256,
                       color = side[3] == 3, format = keras_input_format(model))
  unlist(predict_top3(model, it, words)[c("word1", "word2", "word3")], use.names = FALSE)
}

# A port nothing listens on, held by a server socket of this process (among a few tried from one
# that depends on the process): list(socket, port).
occupied_port <- function() {
  for (port in 30000L + (Sys.getpid() + 97L * (0:19)) %% 30000L) {
    socket <- tryCatch(serverSocket(port), error = function(e) NULL)
    if (!is.null(socket)) return(list(socket = socket, port = port))
  }
  fail("no free port")
}

# A port nothing listens on.
free_port <- function() {
  taken <- occupied_port()
  close(taken$socket)
  taken$port
}
