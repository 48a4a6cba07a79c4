#!/usr/bin/env Rscript
# Runs inst/bin/app.R of this checkout (the copy installed with the package is the same file),
# so that `Rscript bin/app.R --help` works from the repository root.
self <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)[1])
source(file.path(dirname(self), "..", "inst", "bin", "app.R"))
