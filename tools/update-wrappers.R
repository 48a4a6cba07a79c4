# Writes R/extendr-wrappers.R from the metadata that extendr compiles into the library, as
# rextendr::document() does (rextendr is not on CRAN's Debian mirror). Never edit that file by hand.
lib <- system.file("libs", "doodles.so", package = "doodles")
dll <- dyn.load(lib)
code <- .Call(getNativeSymbolInfo("wrap__make_doodles_wrappers", dll),
              use_symbols = TRUE, package_name = "doodles")
writeLines(code, "R/extendr-wrappers.R")
