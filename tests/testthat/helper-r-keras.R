# The R Keras packages (keras3, legacy keras, and the reticulate they need) live in a library of
# their own (../shared/r-packages/install.sh, run by tools/setup.sh): their tests run in a child R
# process while this suite keeps Debian's reticulate.

r_keras_library <- function() {
  Sys.getenv("DOODLES_R_KERAS_LIB", file.path(path.expand("~"), ".cache", "doodles", "r-keras"))
}

skip_if_no_keras3 <- function() {
  skip_if_no_keras()
  if (!dir.exists(file.path(r_keras_library(), "keras3"))) {
    skip(paste("the R keras3 package is not installed in", r_keras_library(),
               "(../shared/r-packages/install.sh)"))
  }
}

# The legacy R keras package (Keras 2) and tf_keras in the Keras environment.
skip_if_no_legacy_keras <- function() {
  skip_if_no_keras()
  if (!dir.exists(file.path(r_keras_library(), "keras"))) {
    skip(paste("the legacy R keras package is not installed in", r_keras_library()))
  }
  venv_python <- file.path(keras_env_path(), "bin", "python")
  has_tf_keras <- processx::run(venv_python, c("-c", "import tf_keras"), error_on_status = FALSE)
  if (has_tf_keras$status != 0) skip("the Keras environment has no tf_keras (tools/setup.sh installs it)")
}

# The R Keras library first, then the one doodles was loaded from (a private library in
# development, the site library in CI).
r_keras_libs <- function() {
  paste(unique(c(r_keras_library(), dirname(find.package("doodles")))), collapse = .Platform$path.sep)
}

# Runs `code` (R source, a sprintf() format when `...` is given) in a child Rscript with the R
# Keras library first; returns its output lines.
run_with_r_keras <- function(code, ...) {
  script <- withr::local_tempfile(fileext = ".R")
  writeLines(if (...length()) sprintf(code, ...) else code, script)
  result <- processx::run(file.path(R.home("bin"), "Rscript"), script, error_on_status = FALSE,
                          env = c("current", R_LIBS = r_keras_libs()), timeout = 600)
  if (result$status != 0) fail(paste(c("the child R process failed:", utils::tail(
    strsplit(result$stderr, "\n")[[1]], 15)), collapse = "\n"))
  strsplit(result$stdout, "\n")[[1]]
}
