#' Renders a character vector of drawings into a new 4-D array.
#' @noRd
raster_draw <- function(x, scale, encoding, line_width, antialias, threads, format, imagenet) .Call(wrap__raster_draw, x, scale, encoding, line_width, antialias, threads, format, imagenet)

#' The cores this process may use (affinity and cgroup limits included): `doodles_threads()`'s
#' last resort.
#' @noRd
raster_cores <- function() .Call(wrap__raster_cores)

#' glibc only: serve blocks up to `max_block` bytes from the heap and keep up to `keep` bytes of
#' freed memory (see `doodles_raster::memory::keep_freed_memory`). Returns whether it applied.
#' @noRd
raster_keep_freed_memory <- function(max_block, keep) .Call(wrap__raster_keep_freed_memory, max_block, keep)

#' @noRd
store_connect <- function(dbdir, memory_key, read_only) .Call(wrap__store_connect, dbdir, memory_key, read_only)

#' @noRd
store_disconnect <- function(con) .Call(wrap__store_disconnect, con)

#' @noRd
store_is_valid <- function(con) .Call(wrap__store_is_valid, con)

#' @noRd
store_duckdb_version <- function(con) .Call(wrap__store_duckdb_version, con)

#' Runs `sql`; `params` is NULL or a list of equal-length vectors with `kinds` naming their types
#' ("logical", "integer", "double", "character", "timestamp", "date", "time", "blob").
#' @noRd
store_query <- function(con, sql, params, kinds) .Call(wrap__store_query, con, sql, params, kinds)

#' @noRd
store_placeholders <- function(con, sql) .Call(wrap__store_placeholders, con, sql)

#' Appends a data frame's columns to `table`.
#' @noRd
store_append <- function(con, table, names, values, kinds) .Call(wrap__store_append, con, table, names, values, kinds)

#' The next `n` rows (all when `n` < 0) as a named list of columns.
#' @noRd
store_fetch <- function(res, n) .Call(wrap__store_fetch, res, n)

#' @noRd
store_result_info <- function(res) .Call(wrap__store_result_info, res)

#' @noRd
store_clear_result <- function(res) .Call(wrap__store_clear_result, res)

#' The loadable files at `path` (zip, folder or file): their names and sizes, and a handle for
#' store_load_file.
#' @noRd
store_list_sources <- function(path) .Call(wrap__store_list_sources, path)

#' Loads file `number` (1-based) of a store_list_sources handle; store_ensure_schema first.
#' Files share a transaction until it holds `transaction_rows` rows (store_load_finish commits
#' the last one).
#' @noRd
store_load_file <- function(con, sources, number, target, skip_bad_rows, threads, transaction_rows) .Call(wrap__store_load_file, con, sources, number, target, skip_bad_rows, threads, transaction_rows)

#' Commits what a store_load_file sequence left uncommitted (when it was stopped early).
#' @noRd
store_load_finish <- function(con, sources) .Call(wrap__store_load_finish, con, sources)

#' @noRd
store_ensure_schema <- function(con) .Call(wrap__store_ensure_schema, con)

#' Labels and ids after a load, then the stroke index (checked, rebuilt if needed).
#' @noRd
store_finalize <- function(con, build_index) .Call(wrap__store_finalize, con, build_index)

#' @noRd
store_index_info <- function(con) .Call(wrap__store_index_info, con)

#' One batch: list(x = array(n, side, side, channels), y = label_int); with `next_ids` not NULL,
#' starts rendering those in the background for the next call.
#' @noRd
store_batch <- function(con, ids, scale, encoding, line_width, antialias, next_ids, threads, format, imagenet, into) .Call(wrap__store_batch, con, ids, scale, encoding, line_width, antialias, next_ids, threads, format, imagenet, into)

#' @noRd
store_read <- function(con, ids) .Call(wrap__store_read, con, ids)

#' @noRd
store_make_synthetic <- function(dir, n, classes, n_test, seed) .Call(wrap__store_make_synthetic, dir, n, classes, n_test, seed)


