# The DBI driver. Each driver object owns one in-memory database (`dbdir = ":memory:"`), shared by
# the connections made from it, as in duckdb-r; file databases are shared per normalised path by
# every connection of the R session (see src/rust/store/src/db.rs).

#' @import DBI
#' @import methods
NULL

#' DuckDB driver for the doodles store
#'
#' A DBI driver for an embedded DuckDB database, opened through doodles' Rust core:
#' `DBI::dbConnect(doodles_duckdb(), dbdir = "path/doodles.duckdb")`. Each database file is
#' opened once per R session and shared by all its connections; `dbdir = ":memory:"` (the
#' default) gives an in-memory database shared by the connections of one driver object.
#' DuckDB lets one process at a time open a file for writing (or several processes read-only):
#' a file another process holds open is an error of class `doodles_error_locked`, at once, or
#' once `timeout` seconds have passed without that process closing it. So two processes loading
#' into one file never interleave: the second waits or stops before it writes anything.
#'
#' DuckDB types become R types as follows: BOOLEAN logical; TINYINT, SMALLINT, INTEGER integer;
#' BIGINT, HUGEINT, unsigned, DECIMAL, FLOAT, DOUBLE double; VARCHAR character; TIMESTAMP (any
#' precision or time zone) POSIXct in UTC; DATE Date; TIME difftime (seconds); BLOB a list of raw
#' vectors; others character; NULL is NA.
#'
#' @return An object of class `doodles_duckdb_driver`.
#' @seealso [load_doodles()], [doodle_batch()]
#' @examples
#' con <- DBI::dbConnect(doodles_duckdb())
#' DBI::dbGetQuery(con, "SELECT 42 AS answer")
#' DBI::dbDisconnect(con)
#' @export
doodles_duckdb <- function() {
  the$driver_count <- the$driver_count + 1L
  new("doodles_duckdb_driver", memory_key = sprintf("%d-%d", Sys.getpid(), the$driver_count))
}

the <- new.env(parent = emptyenv())
the$driver_count <- 0L

#' @rdname doodles_duckdb
#' @export
setClass("doodles_duckdb_driver", contains = "DBIDriver", slots = c(memory_key = "character"))

#' @rdname doodles_duckdb
#' @param drv A driver from `doodles_duckdb()`.
#' @param dbdir The database file (created if missing), or `":memory:"`.
#' @param read_only Open the file read-only (several processes may then share it).
#' @param timeout Seconds to wait for another process to close the file when it holds it
#'   (trying again every 0.1 s); 0, the default, fails at once.
#' @param ... Not used.
#' @export
setMethod("dbConnect", "doodles_duckdb_driver", function(drv, dbdir = ":memory:", read_only = FALSE, timeout = 0, ...) {
  assert_string(dbdir)
  assert_flag(read_only)
  assert_number(timeout, lower = 0, finite = TRUE)
  if (dbdir != ":memory:") dbdir <- path.expand(dbdir)
  opened <- connect_waiting(dbdir, drv@memory_key, read_only, timeout)
  new("doodles_duckdb_connection",
    ptr = opened$pointer, dbdir = dbdir, key = opened$info$key,
    read_only = read_only, driver = drv, state = new.env(parent = emptyenv())
  )
})

# store_connect(), tried again while another process holds the file, until `timeout` seconds.
connect_waiting <- function(dbdir, memory_key, read_only, timeout, call = rlang::caller_env()) {
  deadline <- Sys.time() + timeout
  repeat {
    opened <- tryCatch(store_connect(dbdir, memory_key, read_only), doodles_error_locked = identity)
    if (!inherits(opened, "doodles_error_locked")) return(opened)
    if (Sys.time() >= deadline) {
      waited <- if (timeout > 0) sprintf(" (waited %g s)", timeout) else ""
      abort_doodles(paste0(conditionMessage(opened), waited), kind = "locked", call = call)
    }
    Sys.sleep(0.1)
  }
}

#' @rdname doodles_duckdb
#' @param dbObj A driver or connection.
#' @export
setMethod("dbIsValid", "doodles_duckdb_driver", function(dbObj, ...) TRUE)

#' @rdname doodles_duckdb
#' @export
setMethod("dbGetInfo", "doodles_duckdb_driver", function(dbObj, ...) {
  list(driver.version = utils::packageVersion("doodles"), client.version = "DuckDB (bundled)")
})

#' @rdname doodles_duckdb
#' @param obj An R object whose SQL type is wanted.
#' @export
setMethod("dbDataType", "doodles_duckdb_driver", function(dbObj, obj, ...) {
  duckdb_type(obj)
})

#' @rdname doodles_duckdb
#' @param object An object to show.
#' @export
setMethod("show", "doodles_duckdb_driver", function(object) {
  cat("<doodles_duckdb_driver>\n")
  invisible(object)
})

duckdb_type <- function(obj) {
  if (is.data.frame(obj)) {
    return(vapply(obj, duckdb_type, character(1)))
  }
  if (inherits(obj, "POSIXt")) return("TIMESTAMP")
  if (inherits(obj, "Date")) return("DATE")
  if (inherits(obj, "difftime")) return("TIME")
  if (is.factor(obj)) return("VARCHAR")
  if (is.list(obj) && all(vapply(obj, function(x) is.null(x) || is.raw(x), logical(1)))) return("BLOB")
  switch(typeof(obj),
    logical = "BOOLEAN",
    integer = "INTEGER",
    double = "DOUBLE",
    character = "VARCHAR",
    raw = "BLOB",
    abort_doodles(sprintf("no DuckDB type for an R object of type %s", typeof(obj)), kind = "argument")
  )
}

# R vectors to the (values, kind) pairs the Rust side binds.
parameter_kind <- function(x) {
  if (inherits(x, "POSIXt")) return("timestamp")
  if (inherits(x, "Date")) return("date")
  if (inherits(x, "difftime")) return("time")
  if (is.factor(x)) return("character")
  if (is.list(x)) return("blob")
  switch(typeof(x),
    logical = "logical",
    integer = "integer",
    double = "double",
    character = "character",
    abort_doodles(sprintf("cannot bind a value of type %s", typeof(x)), kind = "argument")
  )
}

parameter_value <- function(x) {
  if (inherits(x, "POSIXt")) return(as.double(as.POSIXct(x)))
  if (inherits(x, "Date")) return(as.double(x))
  if (inherits(x, "difftime")) return(as.double(x, units = "secs"))
  # Rust reads strings as UTF-8: re-encode latin1 and native strings first.
  if (is.factor(x) || is.character(x)) return(enc2utf8(as.character(x)))
  if (is.list(x)) return(lapply(unclass(x), function(v) if (is.null(v)) NULL else as.raw(v)))
  if (is.integer(x) && !is.null(attr(x, "class"))) return(as.integer(unclass(x)))
  x
}
