//! The first pass: drawings drawn into `u8` coverage (and which ink shows, for the encodings with
//! several), a group of drawings per parallel task, laid out as the output will be.
use super::{pool, BatchError, DrawingError, Layout, RenderedBatch};
use crate::compact::AsDrawing;
use crate::draw::{PixelOrder, Tile, TooManyInks};
use crate::memory;
use crate::options::RenderOptions;
use crate::parse::Points;
use rayon::prelude::*;
use std::sync::Mutex;

/// Drawings interleaved in one group, at most: 64 coverage bytes are one cache line, and a pixel
/// of a group is 512 bytes of output. Small batches use smaller groups (at least 8, one line of
/// output) so that every thread gets groups to draw.
const GROUP: usize = 64;

/// Spare coverage buffers up to this size are kept for the next batch (see [`Spare`]): enough for
/// 1024 drawings at 256 x 256 in gray, or at 128 x 128 with colour.
const SPARE_BYTES: usize = 80 << 20;

/// Renders `drawings` into coverage with `threads` threads, to be written out later into an
/// output of layout `layout`.
pub fn render_tiles<S: AsDrawing + Sync>(
    drawings: &[S],
    options: &RenderOptions,
    layout: Layout,
    threads: usize,
) -> Result<RenderedBatch, BatchError> {
    let n = drawings.len();
    let size = n.div_ceil(threads.max(1) * 4).next_multiple_of(8).clamp(8, GROUP);
    let pixels = options.side * options.side;
    let group_size = size * pixels;
    let groups = n.div_ceil(size);
    let (mut coverage, mut items) = Spare::take();
    grow(&mut coverage, groups * group_size);
    // Items are read only where coverage is not 0, so they need no clearing.
    grow(&mut items, if options.encoding.needs_items() { groups * group_size } else { 0 });
    let background = options.encoding.background();
    // Each drawing is drawn into the worker's own small tile, then moved to its place in the
    // group (interleaved pixel by pixel), which is cheaper than drawing in place with a stride.
    let render_group = |(points, tile): &mut (Points, Tile), group: usize, coverage: &mut [u8], items: &mut [u16]| {
        coverage.fill(0);
        let first = group * size;
        drawings[first..(first + size).min(n)]
            .iter()
            .enumerate()
            .map(|(offset, drawing)| {
                // Ink 0 of each drawing is the background (what blank pixels show).
                let mut inks = if items.is_empty() { Vec::new() } else { vec![[background; 3]] };
                drawing.as_drawing().read_into(points).map_err(DrawingError::Parse)?;
                let drawn = tile.draw(points, options, &mut inks);
                let mirror = options.mirror || drawing.mirrored();
                match layout {
                    Layout::RArray => tile.move_into(coverage, items, size, offset, PixelOrder::ColumnMajor, mirror),
                    Layout::Nhwc => tile.move_into(coverage, items, 1, offset * pixels, PixelOrder::RowMajor, mirror),
                }
                drawn.map_err(|TooManyInks(count)| DrawingError::TooManyInks(count))?;
                Ok(inks)
            })
            .collect::<Vec<Result<Vec<[f64; 3]>, DrawingError>>>()
    };
    let worker = || (Points::default(), Tile::new(options));
    let inks: Vec<Vec<Result<Vec<[f64; 3]>, DrawingError>>> = pool(threads)?.install(|| {
        if items.is_empty() {
            coverage
                .par_chunks_mut(group_size)
                .enumerate()
                .map_init(worker, |state, (group, coverage)| render_group(state, group, coverage, &mut []))
                .collect()
        } else {
            coverage
                .par_chunks_mut(group_size)
                .zip(items.par_chunks_mut(group_size))
                .enumerate()
                .map_init(worker, |state, (group, (coverage, items))| render_group(state, group, coverage, items))
                .collect()
        }
    });
    let mut batch = RenderedBatch {
        options: *options,
        len: n,
        group: size,
        layout,
        coverage,
        items,
        inks: Vec::new(),
        first_ink: Vec::with_capacity(n),
    };
    for (index, drawing_inks) in inks.into_iter().flatten().enumerate() {
        let drawing_inks = drawing_inks.map_err(|error| BatchError::Drawing { index, error })?;
        batch.first_ink.push(batch.inks.len());
        batch.inks.extend(drawing_inks);
    }
    Ok(batch)
}

/// Resizes `buffer` to `len`; new memory is asked for as huge pages before it is first touched.
fn grow<T: Copy + Default>(buffer: &mut Vec<T>, len: usize) {
    if len > buffer.capacity() {
        buffer.reserve_exact(len - buffer.len());
        memory::advise_huge_pages(buffer.spare_capacity_mut());
    }
    buffer.resize(len, T::default());
}

/// One set of tile buffers kept from the last batch, so that the next one does not fault in fresh
/// pages (16 MB for 1024 drawings at 128 x 128 in gray). Buffers over [`SPARE_BYTES`] are freed.
struct Spare;

static SPARE: Mutex<(Vec<u8>, Vec<u16>)> = Mutex::new((Vec::new(), Vec::new()));

impl Spare {
    fn take() -> (Vec<u8>, Vec<u16>) {
        std::mem::take(&mut *SPARE.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    fn put(coverage: Vec<u8>, items: Vec<u16>) {
        if coverage.capacity() + 2 * items.capacity() <= SPARE_BYTES {
            let mut spare = SPARE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if spare.0.capacity() < coverage.capacity() {
                spare.0 = coverage;
            }
            if spare.1.capacity() < items.capacity() {
                spare.1 = items;
            }
        }
    }
}

/// The batch's buffers go back to [`Spare`] for the next batch.
impl Drop for RenderedBatch {
    fn drop(&mut self) {
        Spare::put(std::mem::take(&mut self.coverage), std::mem::take(&mut self.items));
    }
}
