# Writes R/extendr-wrappers.R from the metadata that extendr compiles into the library, as
# rextendr::document() does (rextendr is not on CRAN's Debian mirror). Never edit that file by hand.
# Each wrapper runs its .Call through rust_result() (R/errors.R), so that no caller can forget to
# turn a Rust error into a `doodles_error`.
lib <- system.file("libs", "doodles.so", package = "doodles")
dll <- dyn.load(lib)
code <- .Call(getNativeSymbolInfo("wrap__make_doodles_wrappers", dll),
              use_symbols = TRUE, package_name = "doodles")
code <- unlist(strsplit(code, "\n", fixed = TRUE))
call <- "^([A-Za-z_][A-Za-z0-9_.]* <- function\\([^)]*\\)) (\\.Call\\(wrap__.*\\))$"
stopifnot(sum(grepl(call, code)) == sum(grepl(".Call(wrap__", code, fixed = TRUE)))
code <- sub(call, "\\1 rust_result(\\2)", code)
writeLines(code, "R/extendr-wrappers.R")
