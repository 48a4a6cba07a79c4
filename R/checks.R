# Argument checks: checkmate's assertions, with its checks and messages, raised as
# `doodles_error_argument` (so that every error the package raises is a `doodles_error`) and
# attributed to the function that was called.

# Evaluates `expr` (a check), turning its error into a `doodles_error_argument` of `call`.
as_argument_error <- function(expr, call = rlang::caller_env()) {
  tryCatch(expr, error = function(e) abort_doodles(conditionMessage(e), kind = "argument", call = call))
}

# checkmate's assertion `name` raising `doodles_error_argument`; the variable is named as checkmate
# names it (the caller's expression). Looked up when called, so that the installed package keeps no
# copy of checkmate's functions.
doodles_assertion <- function(name) {
  force(name)
  function(x, ..., .var.name = checkmate::vname(x), call = rlang::caller_env()) {
    assertion <- getExportedValue("checkmate", name)
    as_argument_error(assertion(x, ..., .var.name = .var.name), call = call)
  }
}

assert_atomic_vector <- doodles_assertion("assert_atomic_vector")
assert_character <- doodles_assertion("assert_character")
assert_choice <- doodles_assertion("assert_choice")
assert_class <- doodles_assertion("assert_class")
assert_count <- doodles_assertion("assert_count")
assert_data_frame <- doodles_assertion("assert_data_frame")
assert_file_exists <- doodles_assertion("assert_file_exists")
assert_flag <- doodles_assertion("assert_flag")
assert_function <- doodles_assertion("assert_function")
assert_int <- doodles_assertion("assert_int")
assert_integerish <- doodles_assertion("assert_integerish")
assert_list <- doodles_assertion("assert_list")
assert_logical <- doodles_assertion("assert_logical")
assert_names <- doodles_assertion("assert_names")
assert_number <- doodles_assertion("assert_number")
assert_numeric <- doodles_assertion("assert_numeric")
assert_path_for_output <- doodles_assertion("assert_path_for_output")
assert_string <- doodles_assertion("assert_string")

# match.arg() for one of `values` (the first when `x` is the whole default vector), raising
# doodles_error_argument.
arg_choice <- function(x, values, .var.name = checkmate::vname(x), call = rlang::caller_env()) {
  if (identical(x, values)) {
    return(values[[1]])
  }
  assert_choice(x, values, .var.name = .var.name, call = call)
  x
}
