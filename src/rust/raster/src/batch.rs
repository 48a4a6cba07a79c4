//! Many drawings in parallel into one column-major `(n, side, side, channels)` buffer: element
//! `(i, y, x, c)` at `i + n * (y + side * (x + side * c))`, the layout of an R array.
//!
//! Two passes, both parallel. First the drawings are drawn, a group of up to [`GROUP`] at a time
//! per task, into `u8` coverage interleaved the way the output is: pixel by pixel, the group's
//! drawings side by side (each is drawn into a small tile first, then its inked pixels moved). Then the output
//! is written front to back: for each pixel, the `n` drawings' values are consecutive doubles,
//! converted from consecutive coverage bytes. Writing the output (134 MB for 1024 drawings at
//! 128 x 128) is most of the cost; in this order every thread reads and writes sequential streams,
//! straight into the caller's (R's) memory. (Measured and dropped: workers writing each finished
//! block of 8 drawings' cache line per pixel, 4x slower, as every store hit another page; one
//! tile per drawing gathered in the second pass, 2-3x slower, as the gather missed the cache.)
//!
//! [`Prefetch`] runs the first pass on other threads ahead of time and keeps only the coverage
//! (1/8 of the output's size for one channel); [`RenderedBatch::write_into`] runs the second.
use crate::draw::{Tile, TooManyInks};
use crate::memory;
use crate::options::RenderOptions;
use crate::parse::{parse_into, ParseError, Points};
use rayon::prelude::*;
use std::fmt;
use std::sync::{Arc, Mutex};

/// Drawings interleaved in one group, at most: 64 coverage bytes are one cache line, and a pixel
/// of a group is 512 bytes of output. Small batches use smaller groups (at least 8, one line of
/// output) so that every thread gets groups to draw.
const GROUP: usize = 64;

/// Pixel-channels (each a run of all `n` drawings' values) written per parallel task.
const RUNS_PER_TASK: usize = 64;

/// Spare coverage buffers up to this size are kept for the next batch (see [`Spare`]): enough for
/// 1024 drawings at 256 x 256 in gray, or at 128 x 128 with colour.
const SPARE_BYTES: usize = 80 << 20;

/// Why one drawing could not be rendered.
#[derive(Debug, Clone, PartialEq)]
pub enum DrawingError {
    Parse(ParseError),
    /// The drawing needs more distinct inks (strokes, or segments for `point`/`stack`) than a tile
    /// can tell apart (65,536).
    TooManyInks(usize),
}

impl fmt::Display for DrawingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DrawingError::Parse(err) => err.fmt(f),
            DrawingError::TooManyInks(count) => {
                write!(f, "too many strokes or segments to tell apart ({count}, at most 65536)")
            }
        }
    }
}

/// Why a batch could not be rendered.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchError {
    /// Drawing `index` (0-based; the lowest failing one) is invalid.
    Drawing { index: usize, error: DrawingError },
    /// The output buffer does not have `n * side * side * channels` elements.
    OutputLength { expected: usize, actual: usize },
    /// The worker threads could not be started.
    Threads(String),
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::Drawing { index, error } => write!(f, "drawing at index {index}: {error}"),
            BatchError::OutputLength { expected, actual } => {
                write!(f, "output buffer has {actual} elements, expected {expected}")
            }
            BatchError::Threads(why) => write!(f, "cannot start worker threads: {why}"),
        }
    }
}

impl std::error::Error for BatchError {}

/// Renders `drawings` into `out`, which must hold `drawings.len() * options.values_per_drawing()`
/// doubles, with `threads` worker threads. Every element of `out` is written (it may be
/// uninitialised R memory); on error nothing is written.
pub fn render_batch<S: AsRef<str> + Sync>(
    drawings: &[S],
    options: &RenderOptions,
    out: &mut [f64],
    threads: usize,
) -> Result<(), BatchError> {
    let expected = drawings.len() * options.values_per_drawing();
    if out.len() != expected {
        return Err(BatchError::OutputLength { expected, actual: out.len() });
    }
    render_tiles(drawings, options, threads)?.write_into(out, threads)
}

/// Drawings rendered into coverage, not yet expanded into doubles (see [`Prefetch`]).
#[derive(Debug)]
pub struct RenderedBatch {
    options: RenderOptions,
    len: usize,
    /// Drawings per group, `G`.
    group: usize,
    /// Group `g` (drawings `g * G..`) holds pixel `p` of its drawing `j` at
    /// `g * G * pixels + p * G + j` (the last group is padded to `G`).
    coverage: Vec<u8>,
    /// Which of its drawing's inks shows (0, the background, where nothing is drawn), in the same
    /// layout; empty for `Encoding::Gray`.
    items: Vec<u16>,
    inks: Vec<[f64; 3]>,
    /// Where drawing `i`'s inks start in `inks`.
    first_ink: Vec<usize>,
}

impl RenderedBatch {
    /// Number of drawings.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn options(&self) -> &RenderOptions {
        &self.options
    }

    /// `[n, side, side, channels]`, the dim of the R array to write into.
    pub fn dim(&self) -> [usize; 4] {
        [self.len, self.options.side, self.options.side, self.options.channels()]
    }

    /// Writes the batch into `out` (`n * side * side * channels` doubles, the layout of
    /// [`render_batch`]) with `threads` threads.
    pub fn write_into(&self, out: &mut [f64], threads: usize) -> Result<(), BatchError> {
        let n = self.len;
        let expected = n * self.options.values_per_drawing();
        if out.len() != expected {
            return Err(BatchError::OutputLength { expected, actual: out.len() });
        }
        if n == 0 {
            return Ok(());
        }
        let pixels = self.options.side * self.options.side;
        let alpha: [f64; 256] = std::array::from_fn(|level| level as f64 / 255.0);
        let gray: [f64; 256] = std::array::from_fn(|level| 1.0 - alpha[level]);
        let background = self.options.encoding.background();
        let size = self.group;
        pool(threads)?.install(|| {
            out.par_chunks_mut(n * RUNS_PER_TASK).enumerate().for_each(|(task, chunk)| {
                for (offset, run) in chunk.chunks_exact_mut(n).enumerate() {
                    let index = task * RUNS_PER_TASK + offset;
                    let (channel, pixel) = (index / pixels, index % pixels);
                    for (group, run) in run.chunks_mut(size).enumerate() {
                        let at = group * size * pixels + pixel * size;
                        let levels = &self.coverage[at..at + run.len()];
                        if self.items.is_empty() {
                            for (out, &level) in run.iter_mut().zip(levels) {
                                *out = gray[usize::from(level)];
                            }
                            continue;
                        }
                        let items = &self.items[at..at + run.len()];
                        let first_inks = &self.first_ink[group * size..group * size + run.len()];
                        // Blank pixels show ink 0, the background, so no branch is needed.
                        let inks = items
                            .iter()
                            .zip(first_inks)
                            .map(|(&item, &first_ink)| self.inks[first_ink + usize::from(item)][channel]);
                        if !self.options.antialias {
                            for (out, ink) in run.iter_mut().zip(inks) {
                                *out = ink;
                            }
                            continue;
                        }
                        for ((out, ink), &level) in run.iter_mut().zip(inks).zip(levels) {
                            let alpha = alpha[usize::from(level)];
                            *out = (1.0 - alpha) * background + alpha * ink;
                        }
                    }
                }
            });
        });
        Ok(())
    }
}

impl Drop for RenderedBatch {
    fn drop(&mut self) {
        Spare::put(std::mem::take(&mut self.coverage), std::mem::take(&mut self.items));
    }
}

/// Renders `drawings` into coverage with `threads` threads, to be written out later.
pub fn render_tiles<S: AsRef<str> + Sync>(
    drawings: &[S],
    options: &RenderOptions,
    threads: usize,
) -> Result<RenderedBatch, BatchError> {
    let n = drawings.len();
    let size = n.div_ceil(threads.max(1) * 4).next_multiple_of(8).clamp(8, GROUP);
    let group_size = size * options.side * options.side;
    let groups = n.div_ceil(size);
    let (mut coverage, mut items) = Spare::take();
    grow(&mut coverage, groups * group_size);
    grow(&mut items, if options.encoding.needs_items() { groups * group_size } else { 0 });
    let background = options.encoding.background();
    // Each drawing is drawn into the worker's own small tile, then moved to its place in the
    // group (interleaved pixel by pixel), which is cheaper than drawing in place with a stride.
    let render_group = |(points, tile): &mut (Points, Tile), group: usize, coverage: &mut [u8], items: &mut [u16]| {
        coverage.fill(0);
        items.fill(0);
        let first = group * size;
        drawings[first..(first + size).min(n)]
            .iter()
            .enumerate()
            .map(|(offset, drawing)| {
                // Ink 0 of each drawing is the background, shown where nothing is drawn.
                let mut inks = if items.is_empty() { Vec::new() } else { vec![[background; 3]] };
                parse_into(drawing.as_ref(), points).map_err(DrawingError::Parse)?;
                let drawn = tile.draw(points, options, &mut inks);
                tile.move_into(coverage, items, size, offset);
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

/// A batch being rendered on a background thread, e.g. the next training batch while R and
/// Keras use the current one. Dropping it lets the thread finish and discards its result.
#[derive(Debug)]
pub struct Prefetch {
    handle: std::thread::JoinHandle<Result<RenderedBatch, BatchError>>,
}

impl Prefetch {
    /// Starts rendering `drawings` (owned, so the caller's buffers are free) with `threads`
    /// worker threads.
    pub fn spawn(drawings: Vec<String>, options: RenderOptions, threads: usize) -> Result<Prefetch, BatchError> {
        let handle = std::thread::Builder::new()
            .name("doodles-prefetch".into())
            .spawn(move || render_tiles(&drawings, &options, threads))
            .map_err(|err| BatchError::Threads(err.to_string()))?;
        Ok(Prefetch { handle })
    }

    /// Whether the result is ready (so `wait` will not block).
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Waits for the rendering to finish.
    pub fn wait(self) -> Result<RenderedBatch, BatchError> {
        self.handle.join().unwrap_or_else(|_| Err(BatchError::Threads("the prefetch thread panicked".into())))
    }
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

/// One rayon pool per thread count, built on first use and kept (building one costs more than
/// rendering a small batch).
fn pool(threads: usize) -> Result<Arc<rayon::ThreadPool>, BatchError> {
    static POOLS: Mutex<Vec<(usize, Arc<rayon::ThreadPool>)>> = Mutex::new(Vec::new());
    if threads == 0 {
        return Err(BatchError::Threads("the number of threads must be at least 1".into()));
    }
    let mut pools = POOLS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, pool)) = pools.iter().find(|(count, _)| *count == threads) {
        return Ok(Arc::clone(pool));
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|index| format!("doodles-raster-{index}"))
        .build()
        .map_err(|err| BatchError::Threads(err.to_string()))?;
    let pool = Arc::new(pool);
    pools.push((threads, Arc::clone(&pool)));
    Ok(pool)
}
