//! R glue for doodles-store: converts arguments and results, nothing else. Connections and
//! results are external pointers; dropping them (dbDisconnect, dbClearResult or R's garbage
//! collector) closes them.
use crate::errors::{guard, RError};
use crate::raster::{render_options, thread_count, Batch, Form, MirrorFlags};
use doodles_raster::{render_batch, AsDrawing, BatchError, Drawing, Layout, Output, Prefetch, RenderOptions};
use doodles_store::batch::{self, NextBatch};
use doodles_store::convert::{Column, ColumnKind};
use doodles_store::db::Connection;
use doodles_store::index::StrokeIndex;
use doodles_store::load::{self, LoadOptions, Loader, Target};
use doodles_store::open_database;
use doodles_store::query::{self, QueryResult};
use doodles_store::{source, synthetic, DrawingAt, StoreError};
use extendr_api::prelude::*;
use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A connection, the batch rendered ahead for its next store_batch call (by the store when its
/// drawings are all mirrored or none, else here), and the flag its producers read to refuse work
/// once it is closed.
pub(crate) struct Open {
    pub(crate) conn: Connection,
    next_batch: NextBatch,
    next_mirrored: Option<MirroredNext>,
    pub(crate) closed: Arc<AtomicBool>,
}

/// A batch whose drawings are mirrored one by one (the store's own prefetch knows only the
/// options, which mirror all drawings or none), rendered ahead for the next store_batch call.
struct MirroredNext {
    ids: Vec<i64>,
    flags: Vec<bool>,
    options: RenderOptions,
    layout: Layout,
    index: Arc<StrokeIndex>,
    labels: Vec<i32>,
    job: Prefetch,
}

/// A drawing of the stroke index with its mirror flag, which a background thread can hold.
struct IndexedDrawing {
    index: Arc<StrokeIndex>,
    /// Checked by `batch::lookup` before.
    id: i64,
    mirror: bool,
}

impl AsDrawing for IndexedDrawing {
    fn as_drawing(&self) -> Drawing<'_> {
        self.index.get(self.id).map_or(Drawing::Record(&[]), |(drawing, _)| drawing)
    }

    fn mirrored(&self) -> bool {
        self.mirror
    }
}

/// A rendering error of batch `ids`, naming the drawing's id as the store does.
fn batch_error(err: BatchError, ids: &[i64]) -> RError {
    match err {
        BatchError::Drawing { index, error } => {
            let id = ids.get(index).copied().unwrap_or(0);
            StoreError::drawing(DrawingAt { index, id }, format!("ids[{}] (id {id}): {error}", index + 1)).into()
        }
        other => other.into(),
    }
}

/// Renders `ids` mirrored as `flags` say into `out`; returns their labels. Uses the batch
/// rendered ahead when it is for exactly these ids, flags and options and the same index.
fn render_mirrored(
    open: &mut Open,
    ids: &[i64],
    flags: &[bool],
    options: &RenderOptions,
    threads: usize,
    out: Output<'_>,
) -> Result<Vec<i32>, RError> {
    let index = open.conn.stroke_index()?;
    // What the store rendered ahead is for another batch.
    open.next_batch = NextBatch::default();
    if let Some(next) = open.next_mirrored.take() {
        if next.ids == ids
            && next.flags == flags
            && next.options == *options
            && next.layout == out.layout()
            && Arc::ptr_eq(&next.index, &index)
        {
            let rendered = next.job.wait().map_err(|e| batch_error(e, ids))?;
            rendered.write_into(out, threads).map_err(|e| batch_error(e, ids))?;
            return Ok(next.labels);
        }
    }
    let (drawings, labels) = batch::lookup(&index, ids)?;
    let flagged: Vec<doodles_raster::Mirrored<Drawing<'_>>> = drawings
        .into_iter()
        .zip(flags)
        .map(|(drawing, &mirror)| doodles_raster::Mirrored { drawing, mirror })
        .collect();
    render_batch(&flagged, options, out, threads).map_err(|e| batch_error(e, ids))?;
    Ok(labels)
}

/// Starts rendering `ids` mirrored as `flags` say, for the next store_batch call.
fn prefetch_mirrored(
    open: &mut Open,
    ids: Vec<i64>,
    flags: Vec<bool>,
    options: &RenderOptions,
    layout: Layout,
    threads: usize,
) -> Result<(), RError> {
    let index = open.conn.stroke_index()?;
    let (_, labels) = batch::lookup(&index, &ids)?;
    let rows =
        ids.iter().zip(&flags).map(|(&id, &mirror)| IndexedDrawing { index: Arc::clone(&index), id, mirror }).collect();
    let job = Prefetch::spawn(rows, *options, layout, threads).map_err(|e| batch_error(e, &ids))?;
    open.next_batch = NextBatch::default();
    open.next_mirrored = Some(MirroredNext { ids, flags, options: *options, layout, index, labels, job });
    Ok(())
}

type ConnectionCell = RefCell<Option<Open>>;
type ResultCell = RefCell<Option<QueryResult>>;
type LoaderCell = RefCell<Loader>;

pub(crate) fn with_open<T>(con: &Robj, body: impl FnOnce(&mut Open) -> Result<T, RError>) -> Result<T, RError> {
    let pointer =
        <&ExternalPtr<ConnectionCell>>::try_from(con).map_err(|_| RError::argument("not a doodles connection"))?;
    let cell = pointer.try_addr().map_err(|_| RError::argument("the connection has been closed"))?;
    let mut guard = cell.borrow_mut();
    let open = guard.as_mut().ok_or_else(|| RError::argument("the connection has been closed (dbDisconnect)"))?;
    body(open)
}

fn with_connection<T>(con: &Robj, body: impl FnOnce(&Connection) -> Result<T, RError>) -> Result<T, RError> {
    with_open(con, |open| body(&open.conn))
}

fn with_result<T>(res: &Robj, body: impl FnOnce(&mut QueryResult) -> Result<T, RError>) -> Result<T, RError> {
    let pointer = <&ExternalPtr<ResultCell>>::try_from(res).map_err(|_| RError::argument("not a doodles result"))?;
    let cell = pointer.try_addr().map_err(|_| RError::argument("the result has been cleared"))?;
    let mut guard = cell.borrow_mut();
    let result = guard.as_mut().ok_or_else(|| RError::argument("the result has been cleared (dbClearResult)"))?;
    body(result)
}

/// @noRd
#[extendr]
fn store_connect(dbdir: &str, memory_key: &str, read_only: bool) -> Robj {
    guard(|| {
        let db = open_database(dbdir, memory_key, read_only)?;
        let conn = db.connect()?;
        let info = list!(key = db.key.clone(), read_only = db.read_only);
        let open = Open { conn, next_batch: NextBatch::default(), next_mirrored: None, closed: Arc::default() };
        let pointer: Robj = ExternalPtr::new(RefCell::new(Some(open)) as ConnectionCell).into();
        Ok(list!(pointer = pointer, info = info).into())
    })
}

/// @noRd
#[extendr]
fn store_disconnect(con: Robj) -> Robj {
    guard(|| {
        // Producers made from this connection keep the stroke index but must stop too.
        let _ = with_open(&con, |open| {
            open.closed.store(true, Ordering::SeqCst);
            Ok(())
        });
        Ok(close_pointer::<Open>(&con, "not a doodles connection")?.into())
    })
}

/// Drops what an external pointer of ours holds (a connection or a result), once; whether it was
/// still open.
fn close_pointer<T: 'static>(pointer: &Robj, not_ours: &str) -> Result<bool, RError> {
    let pointer = <&ExternalPtr<RefCell<Option<T>>>>::try_from(pointer).map_err(|_| RError::argument(not_ours))?;
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
    guard(|| with_connection(&con, |conn| Ok(conn.duckdb_version()?.into())))
}

fn column_from_r(value: &Robj, kind: ColumnKind) -> Result<Column, RError> {
    let bad = || RError::argument(format!("cannot bind a parameter of type {:?} as {}", value.rtype(), kind.name()));
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
/// ("logical", "integer", "double", "character", "timestamp", "date", "time", "blob"). The result,
/// or, when `sql` has placeholders and `params` is NULL, their number (nothing ran).
/// @noRd
#[extendr]
fn store_query(con: Robj, sql: &str, params: Robj, kinds: Robj) -> Robj {
    guard(|| {
        with_connection(&con, |conn| {
            let params = if params.is_null() { None } else { Some(columns_from_r(params, kinds)?) };
            Ok(match query::run(conn, sql, params.as_deref())? {
                query::Sent::Ran(result) => ExternalPtr::new(RefCell::new(Some(result)) as ResultCell).into(),
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

fn columns_from_r(values: Robj, kinds: Robj) -> Result<Vec<Column>, RError> {
    let list = List::try_from(values).map_err(|_| RError::argument("values must be a list"))?;
    let kinds = kinds.as_str_vector().ok_or_else(|| RError::argument("kinds must be a character vector"))?;
    list.values()
        .zip(kinds)
        .map(|(value, kind)| {
            let kind = ColumnKind::from_name(kind).ok_or_else(|| RError::argument(format!("unknown kind {kind}")))?;
            column_from_r(&value, kind)
        })
        .collect()
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
        with_connection(&con, |conn| {
            Ok((query::append(conn, schema.as_deref(), table, &names, &columns)? as f64).into())
        })
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
        let handle: Robj = ExternalPtr::new(RefCell::new(loader) as LoaderCell).into();
        Ok(list!(name = names, bytes = bytes, handle = handle).into())
    })
}

fn with_loader<T>(loader: &Robj, body: impl FnOnce(&mut Loader) -> Result<T, RError>) -> Result<T, RError> {
    let pointer = <&ExternalPtr<LoaderCell>>::try_from(loader).map_err(|_| RError::argument("not a doodles load"))?;
    let cell = pointer.try_addr().map_err(|_| RError::argument("the load is gone"))?;
    body(&mut cell.borrow_mut())
}

/// Loads the next file of a store_loader handle (store_ensure_schema first): its name, status,
/// rows and rejected rows, or NULL after the last file.
/// @noRd
#[extendr]
fn store_load_next(con: Robj, loader: Robj) -> Robj {
    guard(|| {
        with_loader(&loader, |loader| {
            with_connection(&con, |conn| {
                Ok(match loader.load_next(conn)? {
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
        with_loader(&loader, |loader| with_connection(&con, |conn| Ok(loader.finish(conn).map(|()| true)?.into())))
    })
}

/// @noRd
#[extendr]
fn store_ensure_schema(con: Robj) -> Robj {
    guard(|| with_connection(&con, |conn| Ok(load::ensure_schema(conn).map(|()| true)?.into())))
}

/// Labels and ids after a load, then the stroke index (checked, rebuilt if needed; built anew
/// if `rebuild`).
/// @noRd
#[extendr]
fn store_finalize(con: Robj, build_index: bool, rebuild: bool) -> Robj {
    guard(|| {
        with_connection(&con, |conn| {
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
        with_connection(&con, |conn| {
            let index = conn.stroke_index()?;
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

pub(crate) fn ids_arg(ids: &Robj, what: &str) -> Result<Vec<i64>, RError> {
    let bad = |i: usize| RError::argument(format!("{what}[{}] is not a whole number", i + 1));
    if let Some(ints) = ids.as_integer_slice() {
        ints.iter().enumerate().map(|(i, &v)| if v == i32::MIN { Err(bad(i)) } else { Ok(i64::from(v)) }).collect()
    } else if let Some(reals) = ids.as_real_slice() {
        reals
            .iter()
            .enumerate()
            .map(|(i, &v)| if v.is_finite() && v.fract() == 0.0 { Ok(v as i64) } else { Err(bad(i)) })
            .collect()
    } else {
        Err(RError::argument(format!("{what} must be numeric")))
    }
}

/// One batch: list(x = the batch in `format` (see `Batch`), y = label_int); with `next_ids` not
/// NULL, starts rendering those in the background for the next call. `mirror` and `next_mirror`:
/// one flag for all drawings or one per drawing (see `MirrorFlags`).
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
    #[extendr(default = "FALSE")] mirror: Robj,
    #[extendr(default = "FALSE")] next_mirror: Robj,
) -> Robj {
    guard(|| {
        let ids = ids_arg(&ids, "ids")?;
        let options = render_options(scale, encoding, line_width, antialias)?;
        let form = Form::from_r(format, imagenet)?;
        let threads = thread_count(threads)?;
        let flags = MirrorFlags::from_r(&mirror, ids.len(), "mirror")?;
        with_open(&con, |open| {
            let mut x = Batch::new(ids.len(), &options, form)?;
            let out = x.output()?;
            let layout = out.layout();
            let labels = match flags {
                MirrorFlags::All(all) => {
                    open.next_mirrored = None;
                    batch::render(&open.conn, &mut open.next_batch, &ids, &options.with_mirror(all), threads, out)?
                }
                MirrorFlags::Each(flags) => render_mirrored(open, &ids, &flags, &options, threads, out)?,
            };
            if !next_ids.is_null() {
                let next = ids_arg(&next_ids, "next_ids")?;
                match MirrorFlags::from_r(&next_mirror, next.len(), "next_mirror")? {
                    MirrorFlags::All(all) => {
                        open.next_mirrored = None;
                        let options = options.with_mirror(all);
                        batch::start_prefetch(&open.conn, &mut open.next_batch, &next, &options, layout, threads)?;
                    }
                    MirrorFlags::Each(flags) => prefetch_mirrored(open, next, flags, &options, layout, threads)?,
                }
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
fn store_make_synthetic(dir: &str, n: f64, classes: i32, n_test: f64, seed: f64, like: Vec<String>) -> Robj {
    guard(|| {
        let classes = usize::try_from(classes).map_err(|_| RError::argument("classes must be positive"))?;
        let like = synthetic::stroke_lengths(&like.iter().map(String::as_str).collect::<Vec<_>>())?;
        let files = synthetic::make_synthetic(Path::new(dir), n as u64, classes, n_test as u64, seed as u64, &like)?;
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
    fn store_statement_count;
    fn store_append;
    fn store_fetch;
    fn store_result_info;
    fn store_clear_result;
    fn store_loader;
    fn store_load_next;
    fn store_load_finish;
    fn store_ensure_schema;
    fn store_finalize;
    fn store_index_info;
    fn store_batch;
    fn store_read;
    fn store_make_synthetic;
}
