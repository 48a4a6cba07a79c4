# What each of the competition winners' techniques adds to MAP@3, on the real sample shipped in
# inst/extdata (3,000 training drawings of 345 classes; 750 test drawings and their answers), side
# by side in one run:
#
#   Rscript inst/bench/bench-accuracy.R [seeds] [epochs] [model] [scale]
#   e.g. Rscript inst/bench/bench-accuracy.R 5 8 lenet 0.125
#
# The same small model is trained with each seed (the split of the training rows, 90% training and
# 10% validation, the shuffling and the initial weights follow it) for `epochs` epochs, with a
# checkpoint per epoch (training_callbacks(), no early stop). Each seed then gives three models:
# the final one (the last epoch), the checkpoint of the lowest validation loss, and the checkpoint
# of the best validation MAP@3 (what train_nn.R keeps). Each is scored on the test drawings plain,
# balanced (balance_predictions()), with mirrored test-time augmentation (tta = "hflip"), and both;
# then the ensemble of the seeds' best-MAP@3 models (probabilities averaged). Printed: MAP@3's mean
# and standard deviation over the seeds, and each technique's gain over the plain final model
# against that spread. The sample is small and the models weak: the point is honest figures, not a
# tuned score.
suppressPackageStartupMessages(library(doodles))
args <- commandArgs(trailingOnly = TRUE)
arg <- function(i, default) if (length(args) >= i) args[[i]] else default
seeds <- seq_len(as.integer(arg(1, "5")))
epochs <- as.integer(arg(2, "8"))
model_name <- arg(3, "lenet")
scale <- as.numeric(arg(4, "0.125"))
batch_size <- 32L

extdata <- system.file("extdata", package = "doodles")
con <- DBI::dbConnect(doodles_duckdb())
load_doodles(con, file.path(extdata, "train_simplified.zip"), progress = FALSE)
test <- utils::read.csv(file.path(extdata, "test_simplified.csv"), colClasses = c(key_id = "character"))
answers <- utils::read.csv(file.path(extdata, "test_answers.csv"), colClasses = c(key_id = "character"))
truth <- answers$word[match(test$key_id, answers$key_id)]
words <- DBI::dbGetQuery(con, "SELECT word FROM labels ORDER BY label_int")$word
num_classes <- length(words)
ids <- DBI::dbGetQuery(con, "SELECT id FROM doodles ORDER BY id")$id
keras <- keras_module()

score <- function(probabilities) {
  ranked <- t(apply(probabilities, 1, order, decreasing = TRUE))[, 1:3]
  map_at_k(truth, matrix(words[ranked], ncol = 3))
}

cat(sprintf("bench-accuracy: %s at %d px, %d epochs, batch %d, seeds %s; %d test drawings\n",
            model_name, as.integer(256 * scale), epochs, batch_size, paste(seeds, collapse = ","),
            nrow(test)))
rows <- list()
ensemble <- 0
for (seed in seeds) {
  started <- Sys.time()
  set.seed(seed)
  shuffled <- sample(ids)
  n_train <- floor(length(shuffled) * 0.9)
  train_it <- train_generator(con, shuffled[seq_len(n_train)], batch_size = batch_size,
                              scale = scale, seed = seed, format = "uint8")
  val_it <- train_generator(con, shuffled[-seq_len(n_train)], batch_size = batch_size,
                            scale = scale, seed = seed + 1000L, format = "uint8")
  keras$utils$set_random_seed(as.integer(seed))
  model <- get_model(model_name, input_shape = c(256, 256) * scale, num_classes = num_classes,
                     input_dtype = "uint8")
  dir <- tempfile(sprintf("bench-accuracy-%d-", seed))
  callbacks <- training_callbacks(model_name, 256 * scale, 1L, models_dir = dir, logs_dir = dir,
                                  patience_stop = epochs + 1L, patience_lr = epochs + 1L,
                                  verbose = FALSE)
  fit_doodles(model, train_it, epochs = epochs, validation_data = val_it,
              callbacks = callbacks$callbacks, verbose = 0)
  log <- utils::read.csv(callbacks$log_file)
  log$epoch <- log$epoch + 1L
  choices <- c(final = nrow(log), lowest_val_loss = which.min(log$val_loss),
               best_val_map3 = which.max(log$val_map_3))
  for (choice in names(choices)) {
    epoch <- choices[[choice]]
    model$load_weights(callbacks$checkpoint_file(epoch, log$val_loss[epoch]))
    for (tta in c("none", "hflip")) {
      p <- predict_probabilities(model, test, tta = tta)
      balanced <- balance_predictions(p)
      rows[[length(rows) + 1L]] <- data.frame(
        seed = seed, model = choice, epoch = epoch, tta = tta,
        plain = score(p), balanced = score(balanced)
      )
      if (choice == "best_val_map3" && tta == "none") {
        ensemble <- ensemble + p / length(seeds)
      }
    }
  }
  unlink(dir, recursive = TRUE)
  cat(sprintf("seed %d: epochs kept final %d, lowest val_loss %d, best val_map_3 %d (%.0f s)\n",
              seed, choices[["final"]], choices[["lowest_val_loss"]], choices[["best_val_map3"]],
              as.numeric(difftime(Sys.time(), started, units = "secs"))))
}
results <- do.call(rbind, rows)

summary_of <- function(values) sprintf("%.4f +- %.4f", mean(values), stats::sd(values))
baseline <- results$plain[results$model == "final" & results$tta == "none"]
cat("\nMAP@3 on the test drawings, mean +- sd over the seeds (gain over the plain final model, mean +- sd of the per-seed gains)\n")
for (choice in c("final", "lowest_val_loss", "best_val_map3")) {
  for (tta in c("none", "hflip")) {
    for (balance in c("plain", "balanced")) {
      values <- results[[balance]][results$model == choice & results$tta == tta]
      gain <- values - baseline
      cat(sprintf("%-16s tta %-5s %-8s %s   gain %+.4f +- %.4f\n", choice, tta, balance,
                  summary_of(values), mean(gain), if (length(gain) > 1) stats::sd(gain) else NA))
    }
  }
}
cat(sprintf("ensemble of the seeds' best_val_map3 models, tta none: plain %.4f, balanced %.4f\n",
            score(ensemble), score(balance_predictions(ensemble))))
DBI::dbDisconnect(con)
