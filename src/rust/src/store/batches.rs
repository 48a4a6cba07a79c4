//! Batches of drawings through the stroke index (`store_batch`, `store_read`), and the next batch
//! rendered ahead while R uses this one.
use super::{ids_arg, with_handle, Open};
use crate::errors::{guard, RError};
use crate::raster::{render_options, thread_count, Batch, Form, MirrorFlags};
use doodles_raster::{render_batch, AsDrawing, BatchError, Drawing, Layout, Output, Prefetch, RenderOptions};
use doodles_store::batch::{self, NextBatch};
use doodles_store::index::StrokeIndex;
use doodles_store::{DrawingAt, StoreError};
use extendr_api::prelude::*;
use std::sync::Arc;

/// The batch rendered ahead for a connection's next store_batch call: by the store when its
/// drawings are all mirrored or none, else here. At most one of the two is set.
#[derive(Default)]
pub(super) struct RenderedAhead {
    store: NextBatch,
    mirrored: Option<MirroredNext>,
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
    open.ahead.store = NextBatch::default();
    if let Some(next) = open.ahead.mirrored.take() {
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
    open.ahead.store = NextBatch::default();
    open.ahead.mirrored = Some(MirroredNext { ids, flags, options: *options, layout, index, labels, job });
    Ok(())
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
        with_handle(&con, |open: &mut Open| {
            let mut x = Batch::new(ids.len(), &options, form)?;
            let out = x.output()?;
            let layout = out.layout();
            let labels = match flags {
                MirrorFlags::All(all) => {
                    open.ahead.mirrored = None;
                    batch::render(&open.conn, &mut open.ahead.store, &ids, &options.with_mirror(all), threads, out)?
                }
                MirrorFlags::Each(flags) => render_mirrored(open, &ids, &flags, &options, threads, out)?,
            };
            if !next_ids.is_null() {
                let next = ids_arg(&next_ids, "next_ids")?;
                match MirrorFlags::from_r(&next_mirror, next.len(), "next_mirror")? {
                    MirrorFlags::All(all) => {
                        open.ahead.mirrored = None;
                        let options = options.with_mirror(all);
                        batch::start_prefetch(&open.conn, &mut open.ahead.store, &next, &options, layout, threads)?;
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
        with_handle(&con, |open: &mut Open| {
            let (drawings, labels) = batch::read(&open.conn, &ids)?;
            let id_values: Vec<f64> = ids.iter().map(|&i| i as f64).collect();
            Ok(list!(id = id_values, drawing = drawings, label_int = labels).into())
        })
    })
}

extendr_module! {
    mod batches;
    fn store_batch;
    fn store_read;
}
