# Images per second from the database into a training Keras model, by the roads a user has, side
# by side in one run, and the milliseconds per step the training thread (and Keras' data thread)
# waited for a batch.
#
#   R_LIBS=~/.cache/doodles/r-keras Rscript inst/bench/bench-into-keras.R \
#     [steps] [models] [batch sizes] [colours] [dtypes] [prefetch depths] [earlier build's library]
#   e.g. ... bench-into-keras.R 20 free,mobilenet 256,1024 gray,colour uint8,float32 2 /tmp/oldlib
#
# On the real sample shipped in inst/extdata (3,000 drawings) loaded into a doodles store, its rows
# copied SAMPLE_COPIES times (an environment variable, default 10: 30,000 drawings, 117 steps of
# 256 per epoch; Keras starts a new tf.data iterator every epoch, ~20 ms before its first batch
# whatever the dataset, which the sample's 11-step epochs would weigh 15% of a near-free model's
# time), at 128 x 128 (scale 0.5), 2 threads, each road timed ROUNDS times (default 3), the rounds
# going over the roads in turn, the fastest round reported (the same fit() on the same dataset
# varies by up to 35% from one call to the next on a 2-core VM), each road training whole epochs of the sample (at least
# `steps` steps, in one fit() call) after a warm-up fit of one epoch (which compiles the step):
# - "keras3::fit, R function": keras3::fit() on an R function returning the producer's batch
#   (`function() it()`): keras3 turns it into a Python generator whose every call waits for R's
#   main thread, the road every Keras-form batch took before the producer (there, R's memory);
# - "keras3::fit": keras3::fit(model, it) on train_generator()'s dataset itself (no R per batch);
# - "fit_doodles": fit_doodles(model, it), Keras' own fit() with the package's callbacks;
# - "Python fit": Python's model.fit(dataset) on the same object;
# - "one batch in memory": Keras' fit() on one batch of the same form already in memory as a
#   tf.data tensor, repeated for the epoch's steps (the model's own ceiling: no drawing, no copy);
# - "keras3::fit, earlier build": with a library holding an earlier build of doodles (e.g.
#   `R CMD INSTALL -l /tmp/oldlib` of a checkout of 6aa36ae), keras3::fit(model, it,
#   steps_per_epoch = ) in a child process on that build's generator of the same rows and form
#   (before the producer: every batch through R's main thread, in R's memory).
# Models: "free", a near-free model (rescaling, 8 x 8 average pooling, a dense softmax) so that
# what is measured is the road; "mobilenet", MobileNet v1 with alpha 0.25. "wait_ms_per_step" is
# the milliseconds per step the consumer of the producer (Keras' data thread) waited in Rust for a
# batch; "training_wait_ms", per step, the training thread's wait for its batch (the time the
# compiled step spends taking it from Keras' dataset iterator, timed in the graph), and
# "steady_wait_ms" the same without each epoch's first step, where Keras starts a new iterator
# (tf.data's from_generator: ~15 ms with any PyDataset, in-memory ones too, which the sample's
# short epochs spread over few steps).
# Goal on 2 cores: keras3::fit on the dataset >= 1.8x keras3::fit on the R function and >= 20k
# images/s gray uint8 at 256 with the free model; the training thread's wait under 1 ms per step
# with MobileNet; fit_doodles and keras3::fit within 10% of each other.
suppressPackageStartupMessages(library(doodles))
args <- commandArgs(trailingOnly = TRUE)
arg <- function(i, default) if (length(args) >= i) strsplit(args[[i]], ",")[[1]] else default
steps <- as.integer(arg(1, "20"))
models <- arg(2, c("free", "mobilenet"))
batch_sizes <- as.integer(arg(3, c("256", "1024")))
colours <- arg(4, c("gray", "colour"))
dtypes <- arg(5, c("uint8", "float32"))
depths <- as.integer(arg(6, "2"))
earlier_lib <- if (length(args) >= 7) args[[7]] else NULL
has_keras3 <- requireNamespace("keras3", quietly = TRUE)

load <- if (file.exists("/proc/loadavg")) strsplit(readLines("/proc/loadavg"), " ")[[1]][1:3]
cat(sprintf("threads: %d, cores: %d, load average: %s, keras3: %s\n", doodles_threads(),
            parallel::detectCores(), paste(load, collapse = " "),
            if (has_keras3) as.character(utils::packageVersion("keras3")) else "not installed"))
copies <- as.integer(Sys.getenv("SAMPLE_COPIES", "10"))
rounds <- as.integer(Sys.getenv("ROUNDS", "3"))
use_keras_env()

# The shipped sample in a new in-memory store, its rows copied `copies` times (new ids).
sample_store <- function(copies) {
  con <- DBI::dbConnect(doodles::doodles_duckdb())
  doodles::load_doodles(con, system.file("extdata", "train_simplified.zip", package = "doodles"),
                        progress = FALSE)
  n <- DBI::dbGetQuery(con, "SELECT count(*) AS n FROM doodles")$n
  for (k in seq_len(copies - 1L)) {
    DBI::dbExecute(con, sprintf(paste(
      "INSERT INTO doodles SELECT countrycode, drawing, key_id, recognized, timestamp, word,",
      "label_int, id + %d FROM doodles WHERE id <= %d"), k * n, n))
  }
  con
}
con <- sample_store(copies)
n <- DBI::dbGetQuery(con, "SELECT count(*) AS n FROM doodles")$n
cat(sprintf("drawings: %d (the sample's 3,000, %d times)\n", n, copies))

free_model <- function(channels, dtype, keras = keras_module()) {
  layers <- keras$layers
  input <- keras$Input(shape = list(128L, 128L, channels), dtype = dtype, name = "image")
  x <- layers$Rescaling(if (dtype == "uint8") 1 / 255 else 1)(input)
  x <- layers$AveragePooling2D(pool_size = 8L)(x)
  x <- layers$Flatten()(x)
  output <- layers$Dense(345L, activation = "softmax")(x)
  model <- keras$Model(input, output)
  model$compile(optimizer = "adam", loss = "categorical_crossentropy")
  model
}

make_model <- function(name, colour, dtype) {
  if (name == "free") return(free_model(if (colour) 3L else 1L, dtype))
  get_model("mobilenet_v1", input_shape = c(128, 128), num_classes = 345, color = colour,
            input_dtype = dtype, alpha = 0.25)
}

# keras3::fit() on an earlier build's generator (in a child process with that build's library
# first): images/s over `epochs` epochs of the sample after one to compile.
earlier_keras3_fit <- function(batch_size, colour, dtype, epochs, free_model, sample_store, n) {
  suppressPackageStartupMessages(library(doodles))
  use_keras_env()
  con <- sample_store(n / 3000)
  it <- train_generator(con, seq_len(n), batch_size = batch_size, scale = 0.5, color = colour,
                        seed = 1, format = dtype, threads = 2)
  model <- free_model(if (colour) 3L else 1L, dtype, keras_module())
  steps <- attr(it, "steps_per_epoch")
  keras3::fit(model, it, steps_per_epoch = steps, epochs = 1, verbose = 0)
  started <- Sys.time()
  keras3::fit(model, it, steps_per_epoch = steps, epochs = epochs, verbose = 0)
  steps * epochs * batch_size / as.numeric(Sys.time() - started, units = "secs")
}

seconds <- function(expr) {
  started <- Sys.time()
  force(expr)
  as.numeric(Sys.time() - started, units = "secs")
}

main <- reticulate::import_main(convert = FALSE)
reticulate::py_run_string(paste(
  "import time",
  "def doodles_python_fit(model, data, epochs, **kwargs):",
  "    started = time.perf_counter()",
  "    model.fit(data, epochs=epochs, verbose=0, **kwargs)",
  "    return time.perf_counter() - started",
  # The training thread's wait: the step's batch is taken from Keras' dataset iterator inside
  # the compiled step, as Keras' own train function does, between two timestamps taken in the
  # graph (no Python, no GIL between them); then the model's train_step trains on it. Waits are
  # kept apart for the first step of an iterator (Keras makes one per epoch) and the others.
  "def doodles_ceiling(batch, steps):",
  "    import tensorflow as tf",
  "    x, y = batch",
  "    return tf.data.Dataset.from_tensors((tf.constant(x), tf.constant(y))).repeat(steps)",
  "def doodles_timed_training(model):",
  "    import tensorflow as tf",
  "    def step(iterator):",
  "        started = tf.timestamp()",
  "        with tf.control_dependencies([started]):",
  "            data = iterator.get_next()",
  "        with tf.control_dependencies(tf.nest.flatten(data)):",
  "            waited = tf.timestamp() - started",
  "        return model.train_step(data), waited",
  # A compiled step per kind of batch: each road's own shapes, as Keras compiles its step for
  # the one dataset a user trains on (one step shared by the roads would be traced for shapes
  # general enough for all of them).
  "    steps = {}",
  "    def timed(iterator):",
  "        key = str(iterator.element_spec)",
  "        if key not in steps:",
  "            steps[key] = tf.function(step)",
  "        try:",
  "            logs, waited = steps[key](iterator)",
  "        except tf.errors.OutOfRangeError:",
  "            raise StopIteration",
  "        first = iterator is not timed.iterator",
  "        timed.iterator = iterator",
  "        timed.waits.append((first, float(waited)))",
  "        return logs",
  "    timed.iterator = None",
  "    timed.waits = []",
  "    model.make_train_function()",
  "    model.train_function = timed",
  "    return timed",
  sep = "\n"
))

rows <- list()
for (model_name in models) for (batch_size in batch_sizes) for (colour_name in colours) {
  for (dtype in dtypes) for (depth in depths) {
    colour <- colour_name == "colour"
    it <- train_generator(con, seq_len(n), batch_size = batch_size, scale = 0.5, color = colour,
                          seed = 1, format = dtype, threads = 2, prefetch = depth)
    dataset <- attr(it, "py_object")
    r_function <- function() it()
    model <- make_model(model_name, colour, dtype)
    # Whole epochs of the sample's batches, as many as make `steps` (fit()'s set-up once).
    epoch_steps <- attr(it, "steps_per_epoch")
    epochs <- max(1L, ceiling(steps / epoch_steps))
    road_steps <- epochs * epoch_steps
    waited <- function() reticulate::py_to_r(dataset$waited_seconds())
    timed <- main$doodles_timed_training(model)
    # The training thread's waits since `from` steps were timed: mean seconds per step, over all
    # steps and over the steps after each epoch's first (Keras' new iterator).
    training_waits <- function(from) {
      waits <- reticulate::py_to_r(timed$waits)
      waits <- waits[seq_along(waits) > from]
      first <- vapply(waits, `[[`, TRUE, 1)
      seconds <- vapply(waits, `[[`, 1, 2)
      c(all = mean(seconds), steady = mean(seconds[!first]))
    }
    timed_steps <- function() reticulate::py_to_r(timed$waits$`__len__`())
    # The model's ceiling: one batch of this form already in memory as a tf.data tensor, taken
    # `epoch_steps` times an epoch (no drawing, no copy; a new iterator every epoch, as the roads).
    one_batch <- main$doodles_ceiling(it(), as.integer(epoch_steps))
    runs <- list(
      "keras3::fit, R function" = function(e) keras3::fit(model, r_function, epochs = e,
                                                          steps_per_epoch = epoch_steps,
                                                          verbose = 0),
      "keras3::fit" = function(e) keras3::fit(model, it, epochs = e, verbose = 0),
      "fit_doodles" = function(e) fit_doodles(model, it, epochs = e, verbose = 0),
      "Python fit" = function(e) main$doodles_python_fit(model, dataset, as.integer(e)),
      "one batch in memory" = function(e) main$doodles_python_fit(model, one_batch, as.integer(e))
    )
    if (!has_keras3) runs <- runs[!startsWith(names(runs), "keras3")]
    for (run in runs) run(1L) # compiles the step, once per road
    # Rounds go over all roads in turn (a slow spell of the machine falls on all of them alike);
    # each road's fastest round is reported (the least disturbed: with MobileNet, successive fit()
    # calls alternate between two speeds a third apart, whatever the road, the ceiling included).
    measured <- list()
    for (i in seq_len(rounds)) for (road in names(runs)) {
      before <- c(waited(), timed_steps())
      elapsed <- seconds(runs[[road]](epochs))
      measured[[road]][[i]] <- c(images = road_steps * batch_size / elapsed,
                                 wait = (waited() - before[[1]]) / road_steps,
                                 training_wait = training_waits(before[[2]]))
    }
    for (road in names(runs)) {
      speeds <- vapply(measured[[road]], `[[`, 1, "images")
      result <- measured[[road]][[which.max(speeds)]]
      producer_road <- road != "one batch in memory"
      rows[[length(rows) + 1]] <- data.frame(
        model = model_name, batch = batch_size, colour = colour_name, dtype = dtype,
        depth = if (producer_road) depth else NA, road = road,
        images_per_s = round(result[["images"]]),
        wait_ms_per_step = if (producer_road) round(1000 * result[["wait"]], 2) else NA,
        training_wait_ms = round(1000 * result[["training_wait.all"]], 2),
        steady_wait_ms = round(1000 * result[["training_wait.steady"]], 2)
      )
    }
    rm(one_batch)
    if (!is.null(earlier_lib) && model_name == "free") {
      rows[[length(rows) + 1]] <- data.frame(
        model = model_name, batch = batch_size, colour = colour_name, dtype = dtype, depth = NA,
        road = "keras3::fit, earlier build", wait_ms_per_step = NA, training_wait_ms = NA,
        steady_wait_ms = NA,
        images_per_s = round(callr::r(earlier_keras3_fit, list(batch_size, colour, dtype, epochs,
                                                               free_model, sample_store, n),
                                      libpath = c(earlier_lib, .libPaths())))
      )
    }
    print(do.call(rbind, utils::tail(rows, length(runs) + !is.null(earlier_lib))),
          row.names = FALSE)
  }
}
cat("\nAll roads:\n")
print(do.call(rbind, rows), row.names = FALSE)
