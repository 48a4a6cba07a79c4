//! Loading files into a connection's database one at a time (R reports progress between two and
//! may stop), then labels, ids and the stroke index.
use super::{with_handle, Handle, Open};
use crate::errors::{guard, RError};
use crate::raster::thread_count;
use doodles_store::load::{self, LoadOptions, Loader, Target};
use doodles_store::source;
use extendr_api::prelude::*;
use std::path::Path;

/// Nothing closes a load: R's garbage collector drops it.
impl Handle for Loader {
    const NOT_OURS: &'static str = "not a doodles load";
    const GONE: &'static str = "the load is gone";
    const CLOSED: &'static str = "the load is gone";
}

/// A load of the files at `path` (zip, folder or file) into `target`: their names and sizes, and
/// a handle for store_load_next. Files share a transaction until it holds `transaction_rows` rows.
/// @noRd
#[extendr]
fn store_loader(path: &str, target: &str, skip_bad_rows: bool, threads: i32, transaction_rows: f64) -> Robj {
    guard(|| {
        let target = match target {
            "train" => Target::Train,
            "test" => Target::Test,
            _ => return Err(RError::argument(format!("unknown target {target}"))),
        };
        if transaction_rows.is_nan() || transaction_rows < 1.0 {
            return Err(RError::argument("transaction_rows must be at least 1"));
        }
        let options =
            LoadOptions { skip_bad_rows, threads: thread_count(threads)?, transaction_rows: transaction_rows as u64 };
        let loader = Loader::new(source::list_sources(Path::new(path))?, target, options);
        let names: Vec<String> = loader.sources().iter().map(|s| s.name.clone()).collect();
        let bytes: Vec<f64> = loader.sources().iter().map(|s| s.bytes as f64).collect();
        Ok(list!(name = names, bytes = bytes, handle = loader.into_robj()).into())
    })
}

/// Loads the next file of a store_loader handle (store_ensure_schema first): its name, status,
/// rows and rejected rows, or NULL after the last file.
/// @noRd
#[extendr]
fn store_load_next(con: Robj, loader: Robj) -> Robj {
    guard(|| {
        with_handle(&loader, |loader: &mut Loader| {
            with_handle(&con, |open: &mut Open| {
                Ok(match loader.load_next(&open.conn)? {
                    None => ().into(),
                    Some(outcome) => list!(
                        name = outcome.name,
                        status = outcome.status.name(),
                        rows = outcome.rows as f64,
                        rejected = outcome.rejected as f64
                    )
                    .into(),
                })
            })
        })
    })
}

/// Commits what a store_load_next sequence left uncommitted (when it was stopped early).
/// @noRd
#[extendr]
fn store_load_finish(con: Robj, loader: Robj) -> Robj {
    guard(|| {
        with_handle(&loader, |loader: &mut Loader| {
            with_handle(&con, |open: &mut Open| Ok(loader.finish(&open.conn).map(|()| true)?.into()))
        })
    })
}

/// @noRd
#[extendr]
fn store_ensure_schema(con: Robj) -> Robj {
    guard(|| with_handle(&con, |open: &mut Open| Ok(load::ensure_schema(&open.conn).map(|()| true)?.into())))
}

/// Labels and ids after a load, then the stroke index (checked, rebuilt if needed; built anew
/// if `rebuild`).
/// @noRd
#[extendr]
fn store_finalize(con: Robj, build_index: bool, rebuild: bool) -> Robj {
    guard(|| {
        with_handle(&con, |open: &mut Open| {
            let conn = &open.conn;
            // A read-only database cannot be written; its labels and ids are as they were left.
            if !conn.database().read_only {
                load::finalize(conn)?;
            }
            if rebuild {
                conn.rebuild_stroke_index()?;
            } else if build_index {
                conn.stroke_index()?;
            }
            Ok(true.into())
        })
    })
}

/// @noRd
#[extendr]
fn store_index_info(con: Robj) -> Robj {
    guard(|| {
        with_handle(&con, |open: &mut Open| {
            let index = open.conn.stroke_index()?;
            let path = index.path.as_ref().map(|p| p.display().to_string());
            Ok(list!(
                rows = index.len() as f64,
                compact_rows = index.compact_rows as f64,
                bytes = index.size() as f64,
                path = path,
                hash = format!("{:016x}", index.fingerprint.hash)
            )
            .into())
        })
    })
}

extendr_module! {
    mod load;
    fn store_loader;
    fn store_load_next;
    fn store_load_finish;
    fn store_ensure_schema;
    fn store_finalize;
    fn store_index_info;
}
