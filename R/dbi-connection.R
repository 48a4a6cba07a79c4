# DBI connection methods. The connection holds an external pointer to a Rust connection; closing
# it (dbDisconnect or garbage collection) releases the database file when it was the last one.

#' DBI connection to the doodles store
#'
#' Made by `DBI::dbConnect(doodles_duckdb(), dbdir = ...)`; supports the DBI generics (queries,
#' prepared statements with `dbBind()`, tables, transactions). See [doodles_duckdb()].
#'
#' @section Several statements:
#' SQL is split into statements by DuckDB's parser (so a `;` inside a string, a quoted name, a
#' comment or a dollar-quoted string separates nothing), before anything runs.
#' `dbGetQuery()` and `dbSendQuery()` run one statement: SQL of several is an error of class
#' `doodles_error_argument` and none of them runs (`"SELECT 1; DROP TABLE doodles"` drops
#' nothing). `dbExecute()` and `dbSendStatement()` run every statement, in order and once each,
#' and report the rows affected by the last one; each runs in a transaction of its own (unless
#' `dbBegin()` opened one), so the statements before a failing one stay done. Parameters bind to
#' a single statement only: several statements with `params` (or `dbBind()`) are an error and
#' none runs.
#'
#' @param conn,dbObj A `doodles_duckdb_connection`.
#' @param statement SQL text.
#' @param name A table name (character, or `DBI::Id()`).
#' @param value A data frame.
#' @param params Parameters to bind (a list), or `NULL`.
#' @param overwrite,append,temporary,row.names,field.types As in [DBI::dbWriteTable()].
#' @param object A connection to show.
#' @param ... Not used.
#' @keywords internal
#' @export
setClass("doodles_duckdb_connection",
  contains = "DBIConnection",
  slots = c(ptr = "externalptr", dbdir = "character", key = "character", read_only = "logical",
            driver = "DBIDriver", state = "environment")
)

#' @rdname doodles_duckdb_connection-class
#' @export
setMethod("show", "doodles_duckdb_connection", function(object) {
  state <- if (dbIsValid(object)) "" else " (disconnected)"
  cat(sprintf("<doodles_duckdb_connection> %s%s\n", object@dbdir, state))
  invisible(object)
})

#' @rdname doodles_duckdb_connection-class
#' @export
setMethod("dbIsValid", "doodles_duckdb_connection", function(dbObj, ...) {
  isTRUE(store_is_valid(dbObj@ptr))
})

#' @rdname doodles_duckdb_connection-class
#' @export
setMethod("dbDisconnect", "doodles_duckdb_connection", function(conn, ...) {
  # A result not cleared is cleared with the connection, with a warning (as DBI specifies).
  open <- conn@state$result
  if (!is.null(open) && open$valid) {
    warning("There is a result object still in use; it is cleared with the connection.", call. = FALSE)
    if (!is.null(open$ptr)) tryCatch(store_clear_result(open$ptr), doodles_error_argument = function(e) NULL)
    open$valid <- FALSE
    open$ptr <- NULL
  }
  closed <- tryCatch(store_disconnect(conn@ptr), doodles_error_argument = function(e) FALSE)
  if (!closed) {
    warning("Connection already closed.", call. = FALSE)
  }
  invisible(TRUE)
})

#' @rdname doodles_duckdb_connection-class
#' @export
setMethod("dbGetInfo", "doodles_duckdb_connection", function(dbObj, ...) {
  check_valid(dbObj)
  list(
    dbname = dbObj@dbdir, db.version = store_duckdb_version(dbObj@ptr),
    username = "", host = "", port = "", read_only = dbObj@read_only
  )
})

#' @rdname doodles_duckdb_connection-class
#' @export
setMethod("dbDataType", "doodles_duckdb_connection", function(dbObj, obj, ...) {
  duckdb_type(obj)
})

#' @rdname doodles_duckdb_connection-class
#' @export
setMethod("dbQuoteLiteral", "doodles_duckdb_connection", function(conn, x, ...) {
  # DBI writes blobs as SQL-92 hex literals (X'0102'), which DuckDB 1.5 reads as text: write
  # DuckDB's own blob literal ('\x01\x02'::BLOB) instead.
  if (is.list(x) && all(vapply(x, function(v) is.null(v) || is.raw(v), logical(1)))) {
    quoted <- vapply(x, function(v) {
      if (is.null(v)) "NULL" else paste0("'", paste0("\\x", as.character(v), collapse = ""), "'::BLOB")
    }, "")
    return(DBI::SQL(quoted))
  }
  methods::callNextMethod()
})

#' @rdname doodles_duckdb_connection-class
#' @export
setMethod("dbSendQuery", c("doodles_duckdb_connection", "character"), function(conn, statement, params = NULL, ...) {
  send_statement(conn, statement, params, query = TRUE)
})

#' @rdname doodles_duckdb_connection-class
#' @export
setMethod("dbSendStatement", c("doodles_duckdb_connection", "character"), function(conn, statement, params = NULL, ...) {
  send_statement(conn, statement, params, query = FALSE)
})

send_statement <- function(conn, statement, params, query) {
  check_valid(conn)
  assert_string(statement)
  statement <- enc2utf8(statement)
  state <- new.env(parent = emptyenv())
  state$ptr <- NULL
  state$valid <- TRUE
  state$query <- query
  res <- new("doodles_duckdb_result", conn = conn, statement = statement, state = state)
  # One open result per connection, as DBI specifies: a new one clears the previous one.
  previous <- conn@state$result
  if (!is.null(previous) && previous$valid) {
    warning("There is a result object still in use; it has been cleared.", call. = FALSE)
    if (!is.null(previous$ptr)) store_clear_result(previous$ptr)
    previous$valid <- FALSE
    previous$ptr <- NULL
  }
  # Counted by DuckDB's parser before anything runs: preparing SQL of several statements runs all
  # but the last one.
  state$statements <- store_statement_count(statement)
  if (state$statements > 1) {
    check_several_statements(statement, state$statements, query, params)
    state$ptr <- store_query(conn@ptr, statement, NULL, NULL)
  } else if (!is.null(params)) {
    dbBind(res, params)
  } else {
    # Prepared once: it runs now, or (a number back) waits for dbBind() as it has placeholders.
    sent <- store_query(conn@ptr, statement, NULL, NULL)
    if (!is.numeric(sent)) state$ptr <- sent
  }
  conn@state$result <- state
  res
}

# Several statements run only through dbSendStatement() (and so dbExecute()), without
# parameters: a query's rows come from one statement, and binding reruns the statement.
check_several_statements <- function(statement, count, query, params, call = rlang::caller_env()) {
  shown <- if (nchar(statement) > 60) paste0(substr(statement, 1, 57), "...") else statement
  if (query) {
    abort_doodles(sprintf(
      "dbGetQuery() and dbSendQuery() run one statement, but this SQL has %d (%s); none was run. Send them one at a time, or run statements that return no rows with dbExecute()",
      count, shown
    ), kind = "argument", statements = count, call = call)
  }
  if (!is.null(params)) {
    abort_doodles(sprintf(
      "parameters bind to one statement, but this SQL has %d (%s); none was run. Send them one at a time",
      count, shown
    ), kind = "argument", statements = count, call = call)
  }
}

#' @rdname doodles_duckdb_connection-class
#' @export
setMethod("dbListTables", "doodles_duckdb_connection", function(conn, ...) {
  check_valid(conn)
  dbGetQuery(conn, paste(
    "SELECT DISTINCT table_name FROM information_schema.tables",
    "WHERE (table_catalog = current_database() AND table_schema = current_schema())",
    "OR table_catalog = 'temp' ORDER BY 1"
  ))[[1]]
})

#' @rdname doodles_duckdb_connection-class
#' @export
setMethod("dbExistsTable", c("doodles_duckdb_connection", "character"), function(conn, name, ...) {
  check_valid(conn)
  assert_string(name)
  name <- dbUnquoteIdentifier(conn, dbQuoteIdentifier(conn, name))[[1]]@name
  table_exists(conn, name[["table"]], if ("schema" %in% names(name)) name[["schema"]] else NULL)
})

table_exists <- function(conn, table, schema = NULL) {
  sql <- paste(
    "SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
    if (is.null(schema)) {
      "AND ((table_catalog = current_database() AND table_schema = current_schema()) OR table_catalog = 'temp')"
    } else {
      "AND table_schema = ?"
    }
  )
  dbGetQuery(conn, sql, params = c(list(table), if (!is.null(schema)) list(schema)))[[1]] > 0
}

#' @rdname doodles_duckdb_connection-class
#' @export
setMethod("dbRemoveTable", c("doodles_duckdb_connection", "character"), function(conn, name, ..., temporary = FALSE, fail_if_missing = TRUE) {
  check_valid(conn)
  assert_flag(temporary)
  assert_flag(fail_if_missing)
  # Temporary tables live in DuckDB's catalog "temp".
  sql <- paste0("DROP TABLE ", if (!fail_if_missing) "IF EXISTS ", if (temporary) "temp.main.", dbQuoteIdentifier(conn, name))
  dbExecute(conn, sql)
  invisible(TRUE)
})

#' @rdname doodles_duckdb_connection-class
#' @export
setMethod("dbWriteTable", c("doodles_duckdb_connection", "character", "data.frame"), function(conn, name, value, ..., row.names = FALSE, overwrite = FALSE, append = FALSE, field.types = NULL, temporary = FALSE) {
  check_valid(conn)
  assert_flag(overwrite)
  assert_flag(append)
  assert_flag(temporary)
  if (overwrite && append) abort_doodles("overwrite and append cannot both be TRUE", kind = "argument")
  if (!is.null(field.types) && append) abort_doodles("field.types cannot be used with append = TRUE", kind = "argument")
  assert_character(field.types, names = "unique", null.ok = TRUE)
  value <- sqlRownamesToColumn(value, row.names)
  exists <- dbExistsTable(conn, name)
  if (exists && !overwrite && !append) {
    abort_doodles(sprintf("table %s exists already; use overwrite = TRUE or append = TRUE", name), kind = "argument")
  }
  # All or nothing, inside the caller's transaction if there is one.
  own_transaction <- !in_transaction(conn)
  if (own_transaction) {
    dbBegin(conn)
    on.exit(if (own_transaction) dbRollback(conn))
  }
  if (exists && overwrite) dbRemoveTable(conn, name)
  if (!exists || overwrite) {
    types <- duckdb_type(value)
    if (!is.null(field.types)) types[names(field.types)] <- field.types
    dbCreateTable(conn, name, types, temporary = temporary)
  }
  if (nrow(value) > 0) append_rows(conn, name, value)
  if (own_transaction) {
    dbCommit(conn)
    own_transaction <- FALSE
  }
  invisible(TRUE)
})

#' @rdname doodles_duckdb_connection-class
#' @export
setMethod("dbAppendTable", "doodles_duckdb_connection", function(conn, name, value, ..., row.names = NULL) {
  check_valid(conn)
  if (!is.null(row.names)) abort_doodles("row.names must be NULL for dbAppendTable()", kind = "argument")
  if (any(vapply(value, is.factor, logical(1)))) warning("Factors converted to character.", call. = FALSE)
  if (nrow(value) > 0) append_rows(conn, name, value)
  invisible(nrow(value))
})

# Appends a data frame through DuckDB's Appender (columns matched by name).
append_rows <- function(conn, name, value) {
  # An Id (or a quoted "schema"."table") keeps its schema.
  id <- if (methods::is(name, "Id")) name@name else dbUnquoteIdentifier(conn, dbQuoteIdentifier(conn, name))[[1]]@name
  schema <- if ("schema" %in% names(id)) id[["schema"]] else NULL
  kinds <- vapply(value, parameter_kind, character(1))
  values <- lapply(value, parameter_value)
  store_append(conn@ptr, schema, id[["table"]], names(value), values, unname(kinds))
  invisible(nrow(value))
}

#' @rdname doodles_duckdb_connection-class
#' @export
setMethod("dbBegin", "doodles_duckdb_connection", function(conn, ...) {
  # Checked here: a failed BEGIN inside a transaction would leave DuckDB's transaction aborted.
  check_valid(conn)
  if (in_transaction(conn)) abort_doodles("a transaction is already open", kind = "argument")
  dbExecute(conn, "BEGIN TRANSACTION")
  conn@state$transaction <- TRUE
  invisible(TRUE)
})

#' @rdname doodles_duckdb_connection-class
#' @export
setMethod("dbCommit", "doodles_duckdb_connection", function(conn, ...) {
  check_valid(conn)
  if (!in_transaction(conn)) abort_doodles("no transaction is open", kind = "argument")
  conn@state$transaction <- FALSE
  dbExecute(conn, "COMMIT")
  invisible(TRUE)
})

#' @rdname doodles_duckdb_connection-class
#' @export
setMethod("dbRollback", "doodles_duckdb_connection", function(conn, ...) {
  check_valid(conn)
  if (!in_transaction(conn)) abort_doodles("no transaction is open", kind = "argument")
  conn@state$transaction <- FALSE
  dbExecute(conn, "ROLLBACK")
  invisible(TRUE)
})

# Whether dbBegin() opened a transaction not yet committed or rolled back.
in_transaction <- function(conn) isTRUE(conn@state$transaction)

check_valid <- function(conn, call = rlang::caller_env()) {
  if (!dbIsValid(conn)) abort_doodles("the connection has been closed (dbDisconnect)", kind = "argument", call = call)
}
