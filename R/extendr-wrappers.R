#' The condition classes of errors from Rust (for the test that ?doodles_error lists them all).
#' @noRd
rust_error_classes <- function() rust_result(.Call(wrap__rust_error_classes))

#' A producer (see `doodles_store::producer`) from `spec`, a named list: `con` (a doodles
#' connection, drawings through its stroke index) or `texts` (drawing texts by id position);
#' `ids`, `batch_size`, `seed` (NULL: in order, the last batch partial), `workers`, `worker`,
#' `initial_epoch`; `scale`, `encoding`, `line_width`, `antialias`, `mirror` (every drawing
#' mirrored), `hflip` (half of them, per seed and epoch); `format` ("uint8" or
#' "float32"), `imagenet`; `targets` ("none", "onehot", "sparse") and `classes`; `numeric`,
#' `categories` and `levels` (side features); `threads` and `depth`. Returns list(pointer, address,
#' steps_per_epoch).
#' @noRd
producer_new <- function(spec) rust_result(.Call(wrap__producer_new, spec))

#' Renders a character vector of drawings into a new batch (see [`Batch`]), mirrored as `mirror`
#' says (see [`MirrorFlags`]).
#' @noRd
raster_draw <- function(x, scale, encoding, line_width, antialias, threads, format, imagenet, mirror = FALSE) rust_result(.Call(wrap__raster_draw, x, scale, encoding, line_width, antialias, threads, format, imagenet, mirror))

#' The limits of the drawing options, defined once here: list(min_scale, max_scale, max_side,
#' max_line_width, encodings).
#' @noRd
raster_limits <- function() rust_result(.Call(wrap__raster_limits))

#' The cores this process may use (affinity and cgroup limits included): `doodles_threads()`'s
#' last resort.
#' @noRd
raster_cores <- function() rust_result(.Call(wrap__raster_cores))

#' The number of strokes of each drawing (a character vector of stroke JSON), parsed as the
#' rasterizer parses them: the `n_strokes` side feature, one definition for every road.
#' @noRd
raster_stroke_counts <- function(x) rust_result(.Call(wrap__raster_stroke_counts, x))

#' glibc only: serve blocks up to `max_block` bytes from the heap and keep up to `keep` bytes of
#' freed memory (see `doodles_raster::memory::keep_freed_memory`). Returns whether it applied.
#' @noRd
raster_keep_freed_memory <- function(max_block, keep) rust_result(.Call(wrap__raster_keep_freed_memory, max_block, keep))

#' @noRd
store_connect <- function(dbdir, memory_key, read_only) rust_result(.Call(wrap__store_connect, dbdir, memory_key, read_only))

#' @noRd
store_disconnect <- function(con) rust_result(.Call(wrap__store_disconnect, con))

#' @noRd
store_is_valid <- function(con) rust_result(.Call(wrap__store_is_valid, con))

#' @noRd
store_duckdb_version <- function(con) rust_result(.Call(wrap__store_duckdb_version, con))

#' Runs `sql`; `params` is NULL or a list of equal-length vectors with `kinds` naming their types
#' ("logical", "integer", "double", "character", "timestamp", "date", "time", "blob"). The result,
#' or, when `sql` has placeholders and `params` is NULL, their number (nothing ran).
#' @noRd
store_query <- function(con, sql, params, kinds) rust_result(.Call(wrap__store_query, con, sql, params, kinds))

#' The number of statements in `sql`, as DuckDB splits it; runs none.
#' @noRd
store_statement_count <- function(sql) rust_result(.Call(wrap__store_statement_count, sql))

#' Appends a data frame's columns to `table` (of `schema` unless it is NULL).
#' @noRd
store_append <- function(con, schema, table, names, values, kinds) rust_result(.Call(wrap__store_append, con, schema, table, names, values, kinds))

#' The next `n` rows (all when `n` < 0) as a named list of columns.
#' @noRd
store_fetch <- function(res, n) rust_result(.Call(wrap__store_fetch, res, n))

#' @noRd
store_result_info <- function(res) rust_result(.Call(wrap__store_result_info, res))

#' @noRd
store_clear_result <- function(res) rust_result(.Call(wrap__store_clear_result, res))

#' A load of the files at `path` (zip, folder or file) into `target`: their names and sizes, and
#' a handle for store_load_next. Files share a transaction until it holds `transaction_rows` rows.
#' @noRd
store_loader <- function(path, target, skip_bad_rows, threads, transaction_rows) rust_result(.Call(wrap__store_loader, path, target, skip_bad_rows, threads, transaction_rows))

#' Loads the next file of a store_loader handle (store_ensure_schema first): its name, status,
#' rows and rejected rows, or NULL after the last file.
#' @noRd
store_load_next <- function(con, loader) rust_result(.Call(wrap__store_load_next, con, loader))

#' Commits what a store_load_next sequence left uncommitted (when it was stopped early).
#' @noRd
store_load_finish <- function(con, loader) rust_result(.Call(wrap__store_load_finish, con, loader))

#' @noRd
store_ensure_schema <- function(con) rust_result(.Call(wrap__store_ensure_schema, con))

#' Labels and ids after a load, then the stroke index (checked, rebuilt if needed; built anew
#' if `rebuild`).
#' @noRd
store_finalize <- function(con, build_index, rebuild) rust_result(.Call(wrap__store_finalize, con, build_index, rebuild))

#' @noRd
store_index_info <- function(con) rust_result(.Call(wrap__store_index_info, con))

#' One batch: list(x = the batch in `format` (see `Batch`), y = label_int); with `next_ids` not
#' NULL, starts rendering those in the background for the next call. `mirror` and `next_mirror`:
#' one flag for all drawings or one per drawing (see `MirrorFlags`).
#' @noRd
store_batch <- function(con, ids, scale, encoding, line_width, antialias, next_ids, threads, format, imagenet, mirror = FALSE, next_mirror = FALSE) rust_result(.Call(wrap__store_batch, con, ids, scale, encoding, line_width, antialias, next_ids, threads, format, imagenet, mirror, next_mirror))

#' @noRd
store_read <- function(con, ids) rust_result(.Call(wrap__store_read, con, ids))

#' @noRd
store_make_synthetic <- function(dir, n, classes, n_test, seed, like) rust_result(.Call(wrap__store_make_synthetic, dir, n, classes, n_test, seed, like))

#' Resets SIGTERM and SIGINT to their default action (end the process) now and every 100 ms for
#' `seconds`, on a thread of its own.
#' @noRd
workers_default_signals <- function(seconds) rust_result(.Call(wrap__workers_default_signals, seconds))

