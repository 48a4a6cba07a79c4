# Conditions raised by doodles all have class `doodles_error` (and a sub-class per kind), so that
# callers can catch bad input separately from other errors.

abort_doodles <- function(message, ..., kind = NULL, call = rlang::caller_env()) {
  class <- c(if (!is.null(kind)) paste0("doodles_error_", kind), "doodles_error")
  rlang::abort(message, class = class, ..., call = call)
}

# Rust exports return either their value or a list of class `doodles_rust_error` (see
# src/rust/src/errors.rs); this raises the latter as a `doodles_error` with its details as fields.
rust_result <- function(value, call = rlang::caller_env()) {
  if (!inherits(value, "doodles_rust_error")) {
    return(value)
  }
  rlang::exec(abort_doodles, value$message, !!!value$details, kind = value$kind, call = call)
}
