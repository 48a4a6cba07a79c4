//! Random batches: ids to (drawing, label) through the stroke index, rendered by doodles-raster
//! straight into the caller's buffer, or in the background ahead of time (prefetch).
use crate::db::Connection;
use crate::error::{Result, StoreError};
use crate::index::StrokeIndex;
use doodles_raster::{render_batch, BatchError, Layout, Output, Prefetch, RenderOptions};
use std::sync::Arc;

/// A batch started by [`start_prefetch`], for the connection's next [`render`] call.
pub struct Prefetched {
    ids: Vec<i64>,
    labels: Vec<i32>,
    options: RenderOptions,
    layout: Layout,
    index: Arc<StrokeIndex>,
    job: Prefetch,
}

fn lock_error() -> StoreError {
    StoreError::new("internal", "a lock of the database handle is poisoned")
}

/// The stroke index of the connection's database, checked against the tables if anything may
/// have been written since it was last checked, and rebuilt if it does not match.
pub fn current_index(conn: &Connection) -> Result<Arc<StrokeIndex>> {
    let epoch = conn.db.write_epoch();
    let mut slot = conn.db.index.lock().map_err(|_| lock_error())?;
    if let Some((index, checked)) = slot.as_ref() {
        if *checked == epoch {
            return Ok(Arc::clone(index));
        }
    }
    let path = conn.db.path.as_deref().map(StrokeIndex::path_for);
    let known = slot.take().map(|(index, _)| index);
    let candidate = known.or_else(|| path.as_deref().and_then(|p| StrokeIndex::open(p).ok()).map(Arc::new));
    let index = match candidate {
        Some(index) if index.matches(&conn.conn)? => index,
        _ => {
            let built = match path.as_deref() {
                // A read-only database's folder may not be writable: keep the index in memory then.
                Some(p) => StrokeIndex::build(&conn.conn, Some(p)).or_else(|err| match conn.db.read_only {
                    true => StrokeIndex::build(&conn.conn, None),
                    false => Err(err),
                })?,
                None => StrokeIndex::build(&conn.conn, None)?,
            };
            Arc::new(built)
        }
    };
    *slot = Some((Arc::clone(&index), conn.db.write_epoch()));
    Ok(index)
}

/// Drawings and labels of `ids`, borrowed from the index; an id outside 1..N is an error naming
/// its 1-based position.
pub fn lookup<'a>(index: &'a StrokeIndex, ids: &[i64]) -> Result<(Vec<&'a str>, Vec<i32>)> {
    let mut drawings = Vec::with_capacity(ids.len());
    let mut labels = Vec::with_capacity(ids.len());
    for (position, &id) in ids.iter().enumerate() {
        let (drawing, label) = index.get(id).ok_or_else(|| {
            StoreError::new(
                "argument",
                format!("ids[{}] is {id}, not an id of doodles (1 to {})", position + 1, index.len()),
            )
        })?;
        drawings.push(drawing);
        labels.push(label);
    }
    Ok((drawings, labels))
}

fn render_error(err: BatchError, ids: &[i64]) -> StoreError {
    match err {
        BatchError::Drawing { index, error } => StoreError::new(
            "render",
            format!("ids[{}] (id {}): {error}", index + 1, ids.get(index).copied().unwrap_or(0)),
        ),
        other => StoreError::new("render", other.to_string()),
    }
}

/// Renders `ids` into `out` (`ids.len() * options.values_per_drawing()` elements, in any layout)
/// and returns their labels; uses the connection's prefetched batch when it is for exactly these
/// ids and options and the index has not changed since.
pub fn render(
    conn: &Connection,
    ids: &[i64],
    options: &RenderOptions,
    threads: usize,
    out: Output<'_>,
) -> Result<Vec<i32>> {
    let index = current_index(conn)?;
    let pending = conn.prefetch.lock().map_err(|_| lock_error())?.take();
    if let Some(prefetched) = pending {
        if prefetched.ids == ids
            && prefetched.options == *options
            && prefetched.layout == out.layout()
            && Arc::ptr_eq(&prefetched.index, &index)
        {
            let rendered = prefetched.job.wait().map_err(|e| render_error(e, ids))?;
            rendered.write_into(out, threads).map_err(|e| render_error(e, ids))?;
            return Ok(prefetched.labels);
        }
    }
    let (drawings, labels) = lookup(&index, ids)?;
    render_batch(&drawings, options, out, threads).map_err(|e| render_error(e, ids))?;
    Ok(labels)
}

/// Starts rendering `ids` in the background for the connection's next [`render`] call into an
/// output of layout `layout` (replacing any pending one).
pub fn start_prefetch(
    conn: &Connection,
    ids: &[i64],
    options: &RenderOptions,
    layout: Layout,
    threads: usize,
) -> Result<()> {
    let index = current_index(conn)?;
    let (drawings, labels) = lookup(&index, ids)?;
    let owned: Vec<String> = drawings.into_iter().map(str::to_string).collect();
    let job = Prefetch::spawn(owned, *options, layout, threads).map_err(|e| render_error(e, ids))?;
    let prefetched = Prefetched { ids: ids.to_vec(), labels, options: *options, layout, index, job };
    *conn.prefetch.lock().map_err(|_| lock_error())? = Some(prefetched);
    Ok(())
}

/// Drawings and labels of `ids` as owned values (for `read_doodles`).
pub fn read(conn: &Connection, ids: &[i64]) -> Result<(Vec<String>, Vec<i32>)> {
    let index = current_index(conn)?;
    let (drawings, labels) = lookup(&index, ids)?;
    Ok((drawings.into_iter().map(str::to_string).collect(), labels))
}
