//! Batches of drawings through the stroke index (`store_batch`, `store_read`), and the next batch
//! rendered ahead while R uses this one.
use super::{ids_arg, with_handle, Open};
use crate::errors::guard;
use crate::raster::{render_options, thread_count, Batch, Form, MirrorFlags};
use doodles_store::batch;
use extendr_api::prelude::*;

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
            let (batch_options, batch_flags) = flags.split(&options);
            let labels = batch::render(&open.conn, &mut open.ahead, &ids, &batch_flags, &batch_options, threads, out)?;
            if !next_ids.is_null() {
                let next = ids_arg(&next_ids, "next_ids")?;
                let (next_options, next_flags) =
                    MirrorFlags::from_r(&next_mirror, next.len(), "next_mirror")?.split(&options);
                batch::start_prefetch(&open.conn, &mut open.ahead, &next, &next_flags, &next_options, layout, threads)?;
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
