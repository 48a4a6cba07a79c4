//! Random batches: ids to (drawing, label) through the stroke index, rendered by doodles-raster
//! straight into the caller's buffer, or in the background ahead of time (prefetch).
use crate::db::Connection;
use crate::error::{DrawingAt, ErrorKind, Result, StoreError};
use crate::index::StrokeIndex;
use doodles_raster::{render_batch_mirrored, AsDrawing, BatchError, Drawing, Layout, Output, Prefetch, RenderOptions};
use std::sync::Arc;

/// A batch started by [`start_prefetch`], for the connection's next [`render`] call.
struct Prefetched {
    ids: Vec<i64>,
    mirror: Vec<bool>,
    labels: Vec<i32>,
    options: RenderOptions,
    layout: Layout,
    index: Arc<StrokeIndex>,
    job: Prefetch,
}

/// The batch being rendered in the background for a connection's next [`render`] call, if any:
/// kept next to the connection by its owner.
#[derive(Default)]
pub struct NextBatch(Option<Prefetched>);

/// Drawings and labels of `ids`, borrowed from the index; an id outside 1..N is an error naming
/// its 1-based position.
pub fn lookup<'a>(index: &'a StrokeIndex, ids: &[i64]) -> Result<(Vec<Drawing<'a>>, Vec<i32>)> {
    let mut drawings = Vec::with_capacity(ids.len());
    let mut labels = Vec::with_capacity(ids.len());
    for (position, &id) in ids.iter().enumerate() {
        let (drawing, label) = index.get(id).ok_or_else(|| {
            StoreError::new(
                ErrorKind::Argument,
                format!("ids[{}] is {id}, not an id of doodles (1 to {})", position + 1, index.len()),
            )
        })?;
        drawings.push(drawing);
        labels.push(label);
    }
    Ok((drawings, labels))
}

pub(crate) fn render_error(err: BatchError, ids: &[i64]) -> StoreError {
    match err {
        BatchError::Drawing { index, error } => drawing_error(index, ids, error),
        other => StoreError::new(ErrorKind::Internal, other.to_string()),
    }
}

/// The error of drawing `ids[index]`, named by its position and id.
pub(crate) fn drawing_error(index: usize, ids: &[i64], error: impl std::fmt::Display) -> StoreError {
    let id = ids.get(index).copied().unwrap_or(0);
    StoreError::drawing(DrawingAt { index, id }, format!("ids[{}] (id {id}): {error}", index + 1))
}

/// Renders `ids` into `out` (`ids.len() * options.values_per_drawing()` elements, in any layout)
/// and returns their labels; uses the batch `next` holds when it is for exactly these ids, mirror
/// flags and options and the index has not changed since. `mirror` holds a flag per drawing
/// (mirrored one by one), or nothing (the options' `mirror` mirrors all drawings or none).
pub fn render(
    conn: &Connection,
    next: &mut NextBatch,
    ids: &[i64],
    mirror: &[bool],
    options: &RenderOptions,
    threads: usize,
    out: Output<'_>,
) -> Result<Vec<i32>> {
    check_mirror(ids, mirror)?;
    let index = conn.stroke_index()?;
    if let Some(prefetched) = next.0.take() {
        if prefetched.ids == ids
            && prefetched.mirror == mirror
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
    render_batch_mirrored(drawings, mirror, options, out, threads).map_err(|e| render_error(e, ids))?;
    Ok(labels)
}

fn check_mirror(ids: &[i64], mirror: &[bool]) -> Result<()> {
    if mirror.is_empty() || mirror.len() == ids.len() {
        return Ok(());
    }
    Err(StoreError::new(
        ErrorKind::Argument,
        format!("{} mirror flags for {} drawings: give one per drawing, or none", mirror.len(), ids.len()),
    ))
}

/// Starts rendering `ids` (mirrored as `mirror` says, see [`render`]) in the background, into
/// `next`, for the connection's next [`render`] call into an output of layout `layout`
/// (replacing any pending one).
pub fn start_prefetch(
    conn: &Connection,
    next: &mut NextBatch,
    ids: &[i64],
    mirror: &[bool],
    options: &RenderOptions,
    layout: Layout,
    threads: usize,
) -> Result<()> {
    check_mirror(ids, mirror)?;
    let index = conn.stroke_index()?;
    let (_, labels) = lookup(&index, ids)?;
    let rows = ids
        .iter()
        .enumerate()
        .map(|(i, &id)| IndexedDrawing {
            index: Arc::clone(&index),
            id,
            mirror: mirror.get(i).copied().unwrap_or(false),
        })
        .collect();
    let job = Prefetch::spawn(rows, *options, layout, threads).map_err(|e| render_error(e, ids))?;
    let prefetched =
        Prefetched { ids: ids.to_vec(), mirror: mirror.to_vec(), labels, options: *options, layout, index, job };
    next.0 = Some(prefetched);
    Ok(())
}

/// A drawing of an index that a background thread can hold (the index stays mapped until the
/// batch is done), with its mirror flag.
struct IndexedDrawing {
    index: Arc<StrokeIndex>,
    /// Checked by [`lookup`] before.
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

/// Drawings (their JSON text, as in the table) and labels of `ids` (for `read_doodles`).
pub fn read(conn: &Connection, ids: &[i64]) -> Result<(Vec<String>, Vec<i32>)> {
    let index = conn.stroke_index()?;
    let (drawings, labels) = lookup(&index, ids)?;
    let texts = drawings
        .into_iter()
        .zip(ids)
        .map(|(drawing, id)| {
            drawing
                .json()
                .map(|text| text.into_owned())
                .map_err(|e| StoreError::new(ErrorKind::Index, format!("id {id}: {e}")))
        })
        .collect::<Result<Vec<String>>>()?;
    Ok((texts, labels))
}
