//! The DBI methods' side: connections (dbConnect, dbDisconnect, dbIsValid), statements and their
//! results (dbSendQuery, dbFetch, dbClearResult, dbAppendTable).
use super::columns::{column_to_r, columns_from_r};
use super::{close_handle, with_handle, Handle, Open};
use crate::errors::guard;
use doodles_store::open_database;
use doodles_store::query::{self, QueryResult};
use extendr_api::prelude::*;
use std::sync::atomic::Ordering;

impl Handle for QueryResult {
    const NOT_OURS: &'static str = "not a doodles result";
    const GONE: &'static str = "the result has been cleared";
    const CLOSED: &'static str = "the result has been cleared (dbClearResult)";
}

/// @noRd
#[extendr]
fn store_connect(dbdir: &str, memory_key: &str, read_only: bool) -> Robj {
    guard(|| {
        let db = open_database(dbdir, memory_key, read_only)?;
        let conn = db.connect()?;
        let info = list!(key = db.key.clone(), read_only = db.read_only);
        let open = Open { conn, ahead: Default::default(), closed: Default::default() };
        Ok(list!(pointer = open.into_robj(), info = info).into())
    })
}

/// @noRd
#[extendr]
fn store_disconnect(con: Robj) -> Robj {
    guard(|| {
        // Producers made from this connection keep the stroke index but must stop too.
        let _ = with_handle(&con, |open: &mut Open| {
            open.closed.store(true, Ordering::SeqCst);
            Ok(())
        });
        Ok(close_handle::<Open>(&con)?.into())
    })
}

/// @noRd
#[extendr]
fn store_is_valid(con: Robj) -> Robj {
    guard(|| Ok(with_handle(&con, |_: &mut Open| Ok(())).is_ok().into()))
}

/// @noRd
#[extendr]
fn store_duckdb_version(con: Robj) -> Robj {
    guard(|| with_handle(&con, |open: &mut Open| Ok(open.conn.duckdb_version()?.into())))
}

/// Runs `sql`; `params` is NULL or a list of equal-length vectors with `kinds` naming their types
/// ("logical", "integer", "double", "character", "timestamp", "date", "time", "blob"). The result,
/// or, when `sql` has placeholders and `params` is NULL, their number (nothing ran).
/// @noRd
#[extendr]
fn store_query(con: Robj, sql: &str, params: Robj, kinds: Robj) -> Robj {
    guard(|| {
        with_handle(&con, |open: &mut Open| {
            let params = if params.is_null() { None } else { Some(columns_from_r(params, kinds)?) };
            Ok(match query::run(&open.conn, sql, params.as_deref())? {
                query::Sent::Ran(result) => result.into_robj(),
                query::Sent::AwaitsParameters(count) => (count as i32).into(),
            })
        })
    })
}

/// The number of statements in `sql`, as DuckDB splits it; runs none.
/// @noRd
#[extendr]
fn store_statement_count(sql: &str) -> Robj {
    guard(|| Ok((query::statement_count(sql)? as i32).into()))
}

/// Appends a data frame's columns to `table` (of `schema` unless it is NULL).
/// @noRd
#[extendr]
fn store_append(
    con: Robj,
    schema: Nullable<String>,
    table: &str,
    names: Vec<String>,
    values: Robj,
    kinds: Robj,
) -> Robj {
    guard(|| {
        let columns = columns_from_r(values, kinds)?;
        let schema = schema.into_option();
        with_handle(&con, |open: &mut Open| {
            Ok((query::append(&open.conn, schema.as_deref(), table, &names, &columns)? as f64).into())
        })
    })
}

/// The next `n` rows (all when `n` < 0) as a named list of columns.
/// @noRd
#[extendr]
fn store_fetch(res: Robj, n: f64) -> Robj {
    guard(|| {
        with_handle(&res, |result: &mut QueryResult| {
            let n = if n < 0.0 { None } else { Some(n as usize) };
            let columns = result.fetch(n)?;
            let values: Vec<Robj> = columns.into_iter().map(column_to_r).collect();
            let mut list = List::from_values(values);
            let _ = list.set_names(result.names.clone());
            Ok(list.into())
        })
    })
}

/// @noRd
#[extendr]
fn store_result_info(res: Robj) -> Robj {
    guard(|| {
        with_handle(&res, |result: &mut QueryResult| {
            let kinds: Vec<&str> = result.kinds.iter().map(|k| k.name()).collect();
            Ok(list!(
                names = result.names.clone(),
                kinds = kinds,
                rows_affected = result.rows_affected as f64,
                rows_fetched = result.rows_fetched as f64,
                has_completed = result.has_completed()
            )
            .into())
        })
    })
}

/// @noRd
#[extendr]
fn store_clear_result(res: Robj) -> Robj {
    guard(|| Ok(close_handle::<QueryResult>(&res)?.into()))
}

extendr_module! {
    mod dbi;
    fn store_connect;
    fn store_disconnect;
    fn store_is_valid;
    fn store_duckdb_version;
    fn store_query;
    fn store_statement_count;
    fn store_append;
    fn store_fetch;
    fn store_result_info;
    fn store_clear_result;
}
