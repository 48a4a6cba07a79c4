//! R glue for doodles-store: converts arguments and results, nothing else. Connections and
//! results are external pointers; dropping them (dbDisconnect, dbClearResult or R's garbage
//! collector) closes them.
use crate::errors::{guard, RError};
use crate::raster::{render_options, thread_count, Batch, Form};
use doodles_store::convert::{Column, ColumnKind};
use doodles_store::db::{open_database, Connection};
use doodles_store::load::{self, Target};
use doodles_store::query::{self, QueryResult};
use doodles_store::{batch, source, synthetic, StoreError};
use extendr_api::prelude::*;
use std::cell::RefCell;
use std::path::Path;

type ConnectionCell = RefCell<Option<Connection>>;
type ResultCell = RefCell<Option<QueryResult>>;

/// The files of one load_doodles() call and what loading them has learnt so far.
struct SourceSet {
    sources: Vec<source::SourceFile>,
    session: RefCell<load::LoadSession>,
}

impl From<StoreError> for RError {
    fn from(err: StoreError) -> Self {
        let mut r = RError::new(err.kind, err.message);
        if let Some(file) = err.file {
            r = r.with("file", file);
        }
        if let Some(line) = err.line {
            r = r.with("line", line as f64);
        }
        r
    }
}

fn argument(message: impl Into<String>) -> RError {
    RError::new("argument", message)
}

fn with_connection<T>(con: &Robj, body: impl FnOnce(&Connection) -> Result<T, RError>) -> Result<T, RError> {
    let pointer = <&ExternalPtr<ConnectionCell>>::try_from(con).map_err(|_| argument("not a doodles connection"))?;
    let cell = pointer.try_addr().map_err(|_| argument("the connection has been closed"))?;
    let guard = cell.borrow();
    let conn = guard.as_ref().ok_or_else(|| argument("the connection has been closed (dbDisconnect)"))?;
    body(conn)
}

fn with_result<T>(res: &Robj, body: impl FnOnce(&mut QueryResult) -> Result<T, RError>) -> Result<T, RError> {
    let pointer = <&ExternalPtr<ResultCell>>::try_from(res).map_err(|_| argument("not a doodles result"))?;
    let cell = pointer.try_addr().map_err(|_| argument("the result has been cleared"))?;
    let mut guard = cell.borrow_mut();
    let result = guard.as_mut().ok_or_else(|| argument("the result has been cleared (dbClearResult)"))?;
    body(result)
}

/// @noRd
#[extendr]
fn store_connect(dbdir: &str, memory_key: &str, read_only: bool) -> Robj {
    guard(|| {
        let db = open_database(dbdir, memory_key, read_only)?;
        let conn = db.connect()?;
        let info = list!(key = db.key.clone(), read_only = db.read_only);
        let pointer: Robj = ExternalPtr::new(RefCell::new(Some(conn)) as ConnectionCell).into();
        Ok(list!(pointer = pointer, info = info).into())
    })
}

/// @noRd
#[extendr]
fn store_disconnect(con: Robj) -> Robj {
    guard(|| Ok(close_pointer::<Connection>(&con, "not a doodles connection")?.into()))
}

/// Drops what an external pointer of ours holds (a connection or a result), once; whether it was
/// still open.
fn close_pointer<T: 'static>(pointer: &Robj, not_ours: &str) -> Result<bool, RError> {
    let pointer = <&ExternalPtr<RefCell<Option<T>>>>::try_from(pointer).map_err(|_| argument(not_ours))?;
    Ok(match pointer.try_addr() {
        Ok(cell) => cell.borrow_mut().take().is_some(),
        Err(_) => false,
    })
}

/// @noRd
#[extendr]
fn store_is_valid(con: Robj) -> Robj {
    guard(|| Ok(with_connection(&con, |_| Ok(())).is_ok().into()))
}

/// @noRd
#[extendr]
fn store_duckdb_version(con: Robj) -> Robj {
    guard(|| with_connection(&con, |conn| Ok(conn.conn.version().map_err(StoreError::from)?.into())))
}

fn column_from_r(value: &Robj, kind: ColumnKind) -> Result<Column, RError> {
    let bad = || argument(format!("cannot bind a parameter of type {:?} as {}", value.rtype(), kind.name()));
    Ok(match kind {
        ColumnKind::Logical => Column::Logical(
            value.as_logical_slice().ok_or_else(bad)?.iter().map(|b| (!b.is_na()).then(|| b.is_true())).collect(),
        ),
        ColumnKind::Integer => Column::Integer(
            value.as_integer_slice().ok_or_else(bad)?.iter().map(|&i| (i != i32::MIN).then_some(i)).collect(),
        ),
        ColumnKind::Double | ColumnKind::Timestamp | ColumnKind::Date | ColumnKind::Time => {
            let values: Vec<Option<f64>> =
                value.as_real_slice().ok_or_else(bad)?.iter().map(|&x| (!x.is_nan()).then_some(x)).collect();
            match kind {
                ColumnKind::Timestamp => Column::Timestamp(values),
                ColumnKind::Date => Column::Date(values),
                ColumnKind::Time => Column::Time(values),
                _ => Column::Double(values),
            }
        }
        ColumnKind::Text => {
            let strings = Strings::try_from(value.clone()).map_err(|_| bad())?;
            Column::Text(strings.iter().map(|s| (!s.is_na()).then(|| s.to_string())).collect())
        }
        ColumnKind::Blob => {
            let list = List::try_from(value.clone()).map_err(|_| bad())?;
            Column::Blob(list.values().map(|item| item.as_raw_slice().map(<[u8]>::to_vec)).collect())
        }
    })
}

fn column_to_r(column: Column) -> Robj {
    fn doubles(values: Vec<Option<f64>>) -> Robj {
        Doubles::from_values(values.into_iter().map(Rfloat::from)).into()
    }
    match column {
        Column::Logical(v) => Logicals::from_values(v.into_iter().map(Rbool::from)).into(),
        Column::Integer(v) => Integers::from_values(v.into_iter().map(Rint::from)).into(),
        Column::Double(v) => doubles(v),
        Column::Text(v) => {
            let mut strings = Strings::new(v.len());
            for (i, s) in v.into_iter().enumerate() {
                strings.set_elt(i, Rstr::from(s));
            }
            strings.into()
        }
        Column::Timestamp(v) => {
            let mut r = doubles(v);
            let _ = r.set_class(&["POSIXct", "POSIXt"]);
            let _ = r.set_attrib("tzone", "UTC");
            r
        }
        Column::Date(v) => {
            let mut r = doubles(v);
            let _ = r.set_class(&["Date"]);
            r
        }
        Column::Time(v) => {
            let mut r = doubles(v);
            let _ = r.set_class(&["difftime"]);
            let _ = r.set_attrib("units", "secs");
            r
        }
        Column::Blob(v) => {
            let items: Vec<Robj> =
                v.into_iter().map(|b| b.map_or(().into(), |bytes| Raw::from_bytes(&bytes).into())).collect();
            List::from_values(items).into()
        }
    }
}

/// Runs `sql`; `params` is NULL or a list of equal-length vectors with `kinds` naming their types
/// ("logical", "integer", "double", "character", "timestamp", "date", "time", "blob").
/// @noRd
#[extendr]
fn store_query(con: Robj, sql: &str, params: Robj, kinds: Robj) -> Robj {
    guard(|| {
        with_connection(&con, |conn| {
            let params = if params.is_null() { None } else { Some(columns_from_r(params, kinds)?) };
            let result = query::run(conn, sql, params.as_deref())?;
            Ok(ExternalPtr::new(RefCell::new(Some(result)) as ResultCell).into())
        })
    })
}

/// @noRd
#[extendr]
fn store_placeholders(con: Robj, sql: &str) -> Robj {
    guard(|| with_connection(&con, |conn| Ok((query::placeholders(conn, sql)? as i32).into())))
}

fn columns_from_r(values: Robj, kinds: Robj) -> Result<Vec<Column>, RError> {
    let list = List::try_from(values).map_err(|_| argument("values must be a list"))?;
    let kinds = kinds.as_str_vector().ok_or_else(|| argument("kinds must be a character vector"))?;
    list.values()
        .zip(kinds)
        .map(|(value, kind)| {
            let kind = ColumnKind::from_name(kind).ok_or_else(|| argument(format!("unknown kind {kind}")))?;
            column_from_r(&value, kind)
        })
        .collect()
}

/// Appends a data frame's columns to `table`.
/// @noRd
#[extendr]
fn store_append(con: Robj, table: &str, names: Vec<String>, values: Robj, kinds: Robj) -> Robj {
    guard(|| {
        let columns = columns_from_r(values, kinds)?;
        with_connection(&con, |conn| Ok((query::append(conn, table, &names, &columns)? as f64).into()))
    })
}

/// The next `n` rows (all when `n` < 0) as a named list of columns.
/// @noRd
#[extendr]
fn store_fetch(res: Robj, n: f64) -> Robj {
    guard(|| {
        with_result(&res, |result| {
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
        with_result(&res, |result| {
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
    guard(|| Ok(close_pointer::<QueryResult>(&res, "not a doodles result")?.into()))
}

/// The loadable files at `path` (zip, folder or file): their names and sizes, and a handle for
/// store_load_file.
/// @noRd
#[extendr]
fn store_list_sources(path: &str) -> Robj {
    guard(|| {
        let sources = source::list_sources(Path::new(path))?;
        let names: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
        let bytes: Vec<f64> = sources.iter().map(|s| s.bytes as f64).collect();
        let mut session = load::LoadSession::default();
        session.expect_words(sources.iter().map(|s| s.word_guess().to_string()).collect());
        let handle: Robj = ExternalPtr::new(SourceSet { sources, session: RefCell::new(session) }).into();
        Ok(list!(name = names, bytes = bytes, handle = handle).into())
    })
}

fn target_arg(target: &str) -> Result<Target, RError> {
    match target {
        "train" => Ok(Target::Train),
        "test" => Ok(Target::Test),
        _ => Err(argument(format!("unknown target {target}"))),
    }
}

fn source_set(sources: &Robj) -> Result<&SourceSet, RError> {
    <&ExternalPtr<SourceSet>>::try_from(sources)
        .map_err(|_| argument("not a list of source files"))?
        .try_addr()
        .map_err(|_| argument("the list of source files is gone"))
}

/// Loads file `number` (1-based) of a store_list_sources handle; store_ensure_schema first.
/// Files share a transaction until it holds `transaction_rows` rows (store_load_finish commits
/// the last one).
/// @noRd
#[extendr]
fn store_load_file(
    con: Robj,
    sources: Robj,
    number: i32,
    target: &str,
    skip_bad_rows: bool,
    threads: i32,
    transaction_rows: f64,
) -> Robj {
    guard(|| {
        let target = target_arg(target)?;
        let threads = thread_count(threads)?;
        if !(transaction_rows >= 1.0) {
            return Err(argument("transaction_rows must be at least 1"));
        }
        let set = source_set(&sources)?;
        let source = usize::try_from(number - 1)
            .ok()
            .and_then(|i| set.sources.get(i))
            .ok_or_else(|| argument(format!("there is no file number {number}")))?;
        let mut session = set.session.borrow_mut();
        session.set_transaction_rows(transaction_rows as u64);
        let after = usize::try_from(number).unwrap_or(usize::MAX).min(set.sources.len());
        let upcoming = &set.sources[after..(after + load::READ_AHEAD).min(set.sources.len())];
        session.read_ahead(upcoming.to_vec());
        with_connection(&con, |conn| {
            let outcome = load::load_file(conn, source, target, skip_bad_rows, threads, &mut session)?;
            Ok(list!(
                name = outcome.name,
                status = outcome.status,
                rows = outcome.rows as f64,
                rejected = outcome.rejected as f64
            )
            .into())
        })
    })
}

/// Commits what a store_load_file sequence left uncommitted (when it was stopped early).
/// @noRd
#[extendr]
fn store_load_finish(con: Robj, sources: Robj) -> Robj {
    guard(|| {
        let set = source_set(&sources)?;
        let mut session = set.session.borrow_mut();
        with_connection(&con, |conn| Ok(load::finish(conn, &mut session).map(|()| true)?.into()))
    })
}

/// @noRd
#[extendr]
fn store_ensure_schema(con: Robj) -> Robj {
    guard(|| with_connection(&con, |conn| Ok(load::ensure_schema(conn).map(|()| true)?.into())))
}

/// Labels and ids after a load, then the stroke index (checked, rebuilt if needed).
/// @noRd
#[extendr]
fn store_finalize(con: Robj, build_index: bool) -> Robj {
    guard(|| {
        with_connection(&con, |conn| {
            load::finalize(conn)?;
            if build_index {
                batch::current_index(conn)?;
            }
            Ok(true.into())
        })
    })
}

/// @noRd
#[extendr]
fn store_index_info(con: Robj) -> Robj {
    guard(|| {
        with_connection(&con, |conn| {
            let index = batch::current_index(conn)?;
            let path = index.path.as_ref().map(|p| p.display().to_string());
            Ok(list!(rows = index.len() as f64, path = path, hash = format!("{:016x}", index.fingerprint.hash)).into())
        })
    })
}

fn ids_arg(ids: &Robj, what: &str) -> Result<Vec<i64>, RError> {
    let bad = |i: usize| argument(format!("{what}[{}] is not a whole number", i + 1));
    if let Some(ints) = ids.as_integer_slice() {
        ints.iter().enumerate().map(|(i, &v)| if v == i32::MIN { Err(bad(i)) } else { Ok(i64::from(v)) }).collect()
    } else if let Some(reals) = ids.as_real_slice() {
        reals
            .iter()
            .enumerate()
            .map(|(i, &v)| if v.is_finite() && v.fract() == 0.0 { Ok(v as i64) } else { Err(bad(i)) })
            .collect()
    } else {
        Err(argument(format!("{what} must be numeric")))
    }
}

/// One batch: list(x = the batch in `format` (see `Batch`), y = label_int), written into `into`
/// when it is not NULL (the storage of an earlier batch of this shape and format); with `next_ids`
/// not NULL, starts rendering those in the background for the next call.
/// @noRd
#[extendr]
#[allow(clippy::too_many_arguments)]
fn store_batch(
    con: Robj,
    ids: Robj,
    scale: f64,
    encoding: &str,
    line_width: f64,
    antialias: bool,
    next_ids: Robj,
    threads: i32,
    format: &str,
    imagenet: bool,
    into: Robj,
) -> Robj {
    guard(|| {
        let ids = ids_arg(&ids, "ids")?;
        let options = render_options(scale, encoding, line_width, antialias)?;
        let form = Form::from_r(format, imagenet)?;
        let threads = thread_count(threads)?;
        with_connection(&con, |conn| {
            let mut x = if into.is_null() {
                Batch::new(ids.len(), &options, form)?
            } else {
                Batch::reuse(into, ids.len(), &options, form)?
            };
            let out = x.output()?;
            let layout = out.layout();
            let labels = batch::render(conn, &ids, &options, threads, out)?;
            if !next_ids.is_null() {
                let next = ids_arg(&next_ids, "next_ids")?;
                batch::start_prefetch(conn, &next, &options, layout, threads)?;
            }
            Ok(list!(x = x.into_robj(), y = labels).into())
        })
    })
}

/// @noRd
#[extendr]
fn store_read(con: Robj, ids: Robj) -> Robj {
    guard(|| {
        let ids = ids_arg(&ids, "ids")?;
        with_connection(&con, |conn| {
            let (drawings, labels) = batch::read(conn, &ids)?;
            let id_values: Vec<f64> = ids.iter().map(|&i| i as f64).collect();
            Ok(list!(id = id_values, drawing = drawings, label_int = labels).into())
        })
    })
}

/// @noRd
#[extendr]
fn store_make_synthetic(dir: &str, n: f64, classes: i32, n_test: f64, seed: f64) -> Robj {
    guard(|| {
        let classes = usize::try_from(classes).map_err(|_| argument("classes must be positive"))?;
        let files = synthetic::make_synthetic(Path::new(dir), n as u64, classes, n_test as u64, seed as u64)?;
        let path = |p: &Path| p.display().to_string();
        Ok(list!(train = path(&files.train), test = path(&files.test), answers = path(&files.answers)).into())
    })
}

extendr_module! {
    mod store;
    fn store_connect;
    fn store_disconnect;
    fn store_is_valid;
    fn store_duckdb_version;
    fn store_query;
    fn store_placeholders;
    fn store_append;
    fn store_fetch;
    fn store_result_info;
    fn store_clear_result;
    fn store_list_sources;
    fn store_load_file;
    fn store_load_finish;
    fn store_ensure_schema;
    fn store_finalize;
    fn store_index_info;
    fn store_batch;
    fn store_read;
    fn store_make_synthetic;
}
