# DBI result methods. A statement runs when it is sent (or, with placeholders, when parameters
# are bound); its rows are kept in Rust as Arrow batches and converted as dbFetch() asks for them.

#' DBI result of the doodles store
#'
#' Returned by `DBI::dbSendQuery()` and `DBI::dbSendStatement()` on a doodles connection.
#'
#' @param res,dbObj A `doodles_duckdb_result`.
#' @param n Rows to fetch (`-1` or `Inf`: all remaining).
#' @param params A list of parameters, one value (or vector of values) per placeholder.
#' @param ... Not used.
#' @keywords internal
#' @export
setClass("doodles_duckdb_result",
  contains = "DBIResult",
  slots = c(conn = "DBIConnection", statement = "character", state = "environment")
)

# The one validity check of results: not cleared, and (check_result) with its parameters bound.
check_not_cleared <- function(res, call = rlang::caller_env()) {
  if (!res@state$valid) abort_doodles("the result has been cleared (dbClearResult)", kind = "argument", call = call)
}

check_result <- function(res, call = rlang::caller_env()) {
  check_not_cleared(res, call = call)
  if (is.null(res@state$ptr)) {
    abort_doodles("the statement has placeholders: bind parameters with dbBind() first", kind = "argument", call = call)
  }
}

result_info <- function(res) store_result_info(res@state$ptr)

#' @rdname doodles_duckdb_result-class
#' @export
setMethod("dbIsValid", "doodles_duckdb_result", function(dbObj, ...) {
  isTRUE(dbObj@state$valid)
})

#' @rdname doodles_duckdb_result-class
#' @export
setMethod("dbClearResult", "doodles_duckdb_result", function(res, ...) {
  if (!res@state$valid) {
    warning("Result already cleared.", call. = FALSE)
    return(invisible(TRUE))
  }
  if (!is.null(res@state$ptr)) store_clear_result(res@state$ptr)
  res@state$valid <- FALSE
  res@state$ptr <- NULL
  invisible(TRUE)
})

#' @rdname doodles_duckdb_result-class
#' @export
setMethod("dbFetch", "doodles_duckdb_result", function(res, n = -1, ...) {
  check_result(res)
  if (length(n) != 1 || is.na(n) || (n < 0 && n != -1) || (is.finite(n) && n != trunc(n))) {
    abort_doodles("n must be a whole number >= 0, or -1 or Inf for all rows", kind = "argument")
  }
  if (!res@state$query) {
    warning("dbFetch() on a statement: use dbSendQuery() for queries that return rows.", call. = FALSE)
    return(data.frame())
  }
  columns <- store_fetch(res@state$ptr, if (is.finite(n)) n else -1)
  rows <- if (length(columns) > 0) length(columns[[1]]) else 0L
  structure(columns, names = make.unique(names(columns), sep = ".."), class = "data.frame", row.names = .set_row_names(rows))
})

#' @rdname doodles_duckdb_result-class
#' @export
setMethod("dbHasCompleted", "doodles_duckdb_result", function(res, ...) {
  check_not_cleared(res)
  if (is.null(res@state$ptr)) return(FALSE)
  result_info(res)$has_completed
})

#' @rdname doodles_duckdb_result-class
#' @export
setMethod("dbGetRowCount", "doodles_duckdb_result", function(res, ...) {
  check_not_cleared(res)
  if (is.null(res@state$ptr)) return(0)
  result_info(res)$rows_fetched
})

#' @rdname doodles_duckdb_result-class
#' @export
setMethod("dbGetRowsAffected", "doodles_duckdb_result", function(res, ...) {
  check_not_cleared(res)
  if (res@state$query) return(0)
  if (is.null(res@state$ptr)) return(NA_integer_)
  result_info(res)$rows_affected
})

#' @rdname doodles_duckdb_result-class
#' @export
setMethod("dbGetStatement", "doodles_duckdb_result", function(res, ...) {
  check_not_cleared(res)
  res@statement
})

#' @rdname doodles_duckdb_result-class
#' @export
setMethod("dbColumnInfo", "doodles_duckdb_result", function(res, ...) {
  check_result(res)
  info <- result_info(res)
  types <- c(logical = "logical", integer = "integer", double = "double", character = "character",
             timestamp = "POSIXct", date = "Date", time = "difftime", blob = "list")
  data.frame(name = make.unique(info$names, sep = ".."), type = unname(types[info$kinds]), stringsAsFactors = FALSE)
})

#' @rdname doodles_duckdb_result-class
#' @export
setMethod("dbGetInfo", "doodles_duckdb_result", function(dbObj, ...) {
  list(
    statement = dbObj@statement,
    row.count = dbGetRowCount(dbObj),
    rows.affected = dbGetRowsAffected(dbObj),
    has.completed = dbHasCompleted(dbObj)
  )
})

#' @rdname doodles_duckdb_result-class
#' @export
setMethod("dbBind", "doodles_duckdb_result", function(res, params, ...) {
  check_not_cleared(res)
  if (res@state$statements > 1) check_several_statements(res@statement, res@state$statements, FALSE, params)
  if (!is.list(params)) params <- as.list(params)
  params <- unname(params)
  lengths <- vapply(params, length, integer(1))
  if (length(unique(lengths)) > 1) {
    abort_doodles("all parameters must have the same length", kind = "argument")
  }
  kinds <- vapply(params, parameter_kind, character(1))
  values <- lapply(params, parameter_value)
  if (!is.null(res@state$ptr)) store_clear_result(res@state$ptr)
  res@state$ptr <- NULL
  res@state$ptr <- store_query(res@conn@ptr, res@statement, values, unname(kinds))
  invisible(res)
})
