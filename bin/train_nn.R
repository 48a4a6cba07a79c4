#!/usr/bin/env Rscript
# Runs inst/bin/train_nn.R of this checkout (the copy installed with the package is the same file),
# so that `Rscript bin/train_nn.R --help` works from the repository root.
self <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1])
source(file.path(dirname(self), "..", "inst", "bin", "train_nn.R"))
