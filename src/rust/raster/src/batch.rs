//! Many drawings in parallel into one `(n, side, side, channels)` buffer, in one of two layouts
//! ([`Output`]): an R array's (column-major doubles: element `(i, y, x, c)` at
//! `i + n * (y + side * (x + side * c))`), or the NHWC one Keras models consume (row-major float32
//! or uint8: `((i * side + y) * side + x) * channels + c`).
//!
//! Two passes, both parallel. First the drawings are drawn, a group of up to [`GROUP`] at a time
//! per task, into `u8` coverage laid out the way the output will be (each drawing is drawn into a
//! small tile first, then its inked pixels moved). For an R array the group's drawings sit side by
//! side, pixel by pixel, so that the second pass writes the output front to back: for each pixel,
//! the `n` drawings' values are consecutive doubles, converted from consecutive coverage bytes.
//! Writing the output (134 MB for 1024 drawings at 128 x 128) is most of the cost; in this order
//! every thread reads and writes sequential streams, straight into the caller's (R's) memory.
//! (Measured and dropped: workers writing each finished block of 8 drawings' cache line per pixel,
//! 4x slower, as every store hit another page; one tile per drawing gathered in the second pass,
//! 2-3x slower, as the gather missed the cache.) For NHWC each drawing's coverage is contiguous and
//! row-major, so the second pass maps each drawing's pixels in one sequential sweep. (Measured and
//! dropped: NHWC from the interleaved layout, gathering each row across the group, 3-6x slower, as
//! every load and store hit another cache line of the same set.)
//!
//! [`Prefetch`] runs the first pass on other threads ahead of time and keeps only the coverage
//! (1/8 of the R array's size for one channel); [`RenderedBatch::write_into`] runs the second.
use crate::compact::AsDrawing;
use crate::draw::{PixelOrder, Tile, TooManyInks};
use crate::memory;
use crate::options::RenderOptions;
use crate::parse::{ParseError, Points};
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
    /// The batch was rendered for an output of another layout.
    Layout { rendered: Layout, wanted: Layout },
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
            BatchError::Layout { rendered, wanted } => {
                write!(f, "the batch was rendered for the {rendered:?} layout, the output has the {wanted:?} layout")
            }
            BatchError::Threads(why) => write!(f, "cannot start worker threads: {why}"),
        }
    }
}

impl std::error::Error for BatchError {}

/// Renders `drawings` into `out`, which must hold `drawings.len() * options.values_per_drawing()`
/// elements, with `threads` worker threads; a drawing is mirrored when `options.mirror` is set or
/// its own flag is ([`crate::Mirrored`]). Every element of `out` is written (it may be
/// uninitialised R memory); on error nothing is written.
pub fn render_batch<S: AsDrawing + Sync>(
    drawings: &[S],
    options: &RenderOptions,
    out: Output<'_>,
    threads: usize,
) -> Result<(), BatchError> {
    let expected = drawings.len() * options.values_per_drawing();
    if out.len() != expected {
        return Err(BatchError::OutputLength { expected, actual: out.len() });
    }
    render_tiles(drawings, options, out.layout(), threads)?.write_into(out, threads)
}

/// Drawings rendered into coverage, not yet expanded into doubles (see [`Prefetch`]).
#[derive(Debug)]
pub struct RenderedBatch {
    options: RenderOptions,
    len: usize,
    /// Drawings per group, `G`.
    group: usize,
    /// How `coverage` is laid out: as the output will be, so that writing it streams.
    layout: Layout,
    /// Group `g` (drawings `g * G..`) holds pixel `p` of its drawing `j` at `g * G * pixels + at`,
    /// with `at = p * G + j` for [`Layout::RArray`] (`p` column-major, the group's drawings side
    /// by side) and `at = j * pixels + p` for [`Layout::Nhwc`] (`p` row-major, each drawing
    /// contiguous); the last group is padded to `G`.
    coverage: Vec<u8>,
    /// Which of its drawing's inks shows, in the same layout, where the coverage is not 0 (other
    /// elements are left as they were); empty for `Encoding::Gray`.
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

    /// `[n, side, side, channels]`, the dim of the R array to write into.
    pub fn dim(&self) -> [usize; 4] {
        [self.len, self.options.side, self.options.side, self.options.channels()]
    }

    /// Writes the batch into `out` with `threads` threads; every element of it is written. `out`
    /// must have the layout the batch was rendered for.
    pub fn write_into(&self, out: Output<'_>, threads: usize) -> Result<(), BatchError> {
        let expected = self.len * self.options.values_per_drawing();
        if out.len() != expected {
            return Err(BatchError::OutputLength { expected, actual: out.len() });
        }
        if out.layout() != self.layout {
            return Err(BatchError::Layout { rendered: self.layout, wanted: out.layout() });
        }
        if self.len == 0 {
            return Ok(());
        }
        match out {
            Output::RArray(out) => self.write_r_array(out, threads),
            Output::Float32 { out, imagenet } => {
                let (scale, offset) = if imagenet { (2.0, -1.0) } else { (1.0, 0.0) };
                self.write_nhwc(out, |value| (value * scale + offset) as f32, threads)
            }
            Output::Uint8(out) => self.write_nhwc(out, |value| (value * 255.0).round_ties_even() as u8, threads),
        }
    }

    /// The channels of the pixel at `at` (an offset in [`RenderedBatch::coverage`]) of drawing
    /// `drawing`, for an encoding with items (all but gray).
    #[inline]
    fn ink_at(&self, at: usize, drawing: usize, alpha: &[f64; 256]) -> [f64; 3] {
        let level = self.coverage[at];
        let background = self.options.encoding.background();
        if level == 0 {
            return [background; 3];
        }
        let ink = self.inks[self.first_ink[drawing] + usize::from(self.items[at])];
        if !self.options.antialias {
            return ink;
        }
        let alpha = alpha[usize::from(level)];
        ink.map(|ink| (1.0 - alpha) * background + alpha * ink)
    }

    /// Channel `channel` of an antialiased pixel of coverage `level` whose ink is `inks[ink]`.
    #[inline]
    fn blend(&self, level: u8, ink: usize, channel: usize, alpha: &[f64; 256]) -> f64 {
        let background = self.options.encoding.background();
        if level == 0 {
            return background;
        }
        let alpha = alpha[usize::from(level)];
        (1.0 - alpha) * background + alpha * self.inks[ink][channel]
    }

    fn write_r_array(&self, out: &mut [f64], threads: usize) -> Result<(), BatchError> {
        let n = self.len;
        let pixels = self.options.side * self.options.side;
        let (alpha, gray) = value_tables();
        let size = self.group;
        let background = self.options.encoding.background();
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
                        // One channel of the group's drawings at this pixel, the options' branches
                        // hoisted out of the loop over drawings.
                        let items = &self.items[at..at + run.len()];
                        let first_inks = &self.first_ink[group * size..group * size + run.len()];
                        let values = run.iter_mut().zip(levels).zip(items).zip(first_inks);
                        if self.options.antialias {
                            for (((out, &level), &item), &first_ink) in values {
                                *out = self.blend(level, first_ink + usize::from(item), channel, &alpha);
                            }
                        } else {
                            for (((out, &level), &item), &first_ink) in values {
                                *out = if level == 0 {
                                    background
                                } else {
                                    self.inks[first_ink + usize::from(item)][channel]
                                };
                            }
                        }
                    }
                }
            });
        });
        Ok(())
    }

    /// Row-major `(n, side, side, channels)` from coverage laid out the same way ([`Layout::Nhwc`]):
    /// each drawing's pixels are read and written in one sequential pass.
    fn write_nhwc<T: Copy + Send + Sync>(
        &self,
        out: &mut [T],
        map: impl Fn(f64) -> T + Sync,
        threads: usize,
    ) -> Result<(), BatchError> {
        match self.options.channels() {
            1 => self.write_nhwc_channels::<T, 1>(out, map, threads),
            _ => self.write_nhwc_channels::<T, 3>(out, map, threads),
        }
    }

    fn write_nhwc_channels<T: Copy + Send + Sync, const C: usize>(
        &self,
        out: &mut [T],
        map: impl Fn(f64) -> T + Sync,
        threads: usize,
    ) -> Result<(), BatchError> {
        let pixels = self.options.side * self.options.side;
        let (alpha, gray) = value_tables();
        let gray_values: [T; 256] = std::array::from_fn(|level| map(gray[level]));
        // Without antialiasing every pixel shows one of its drawing's inks (ink 0, the background,
        // where the coverage is 0) exactly: convert them once.
        let antialias = self.options.antialias;
        let inks: Vec<[T; C]> = if antialias {
            Vec::new()
        } else {
            self.inks.iter().map(|ink| std::array::from_fn(|c| map(ink[c]))).collect()
        };
        let size = self.group;
        pool(threads)?.install(|| {
            out.par_chunks_mut(pixels * C).enumerate().for_each(|(drawing, out)| {
                let (group, j) = (drawing / size, drawing % size);
                let start = group * size * pixels + j * pixels;
                let coverage = &self.coverage[start..][..pixels];
                if self.items.is_empty() {
                    for (out, &level) in out.iter_mut().zip(coverage) {
                        *out = gray_values[usize::from(level)];
                    }
                    return;
                }
                if antialias {
                    for (p, out) in out.chunks_exact_mut(C).enumerate() {
                        let ink = self.ink_at(start + p, drawing, &alpha);
                        out.iter_mut().zip(ink).for_each(|(out, value)| *out = map(value));
                    }
                    return;
                }
                let items = &self.items[start..][..pixels];
                let first_ink = self.first_ink[drawing];
                let last_ink = self.first_ink.get(drawing + 1).map_or(inks.len(), |&next| next);
                let inks = &inks[first_ink..last_ink];
                // Whole pixels as arrays: one store per channel, no length check or memcpy call.
                let (out, _) = out.as_chunks_mut::<C>();
                for ((out, &level), &item) in out.iter_mut().zip(coverage).zip(items) {
                    // Items are stale where nothing is drawn: select the background without a branch.
                    let item = if level == 0 { 0 } else { usize::from(item) };
                    *out = inks[item];
                }
            });
        });
        Ok(())
    }
}

/// Coverage level to alpha, and to the gray encoding's value.
fn value_tables() -> ([f64; 256], [f64; 256]) {
    let alpha: [f64; 256] = std::array::from_fn(|level| level as f64 / 255.0);
    let gray = std::array::from_fn(|level| 1.0 - alpha[level]);
    (alpha, gray)
}

/// How a rendered batch keeps its coverage until it is written: as the output will be laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// For [`Output::RArray`].
    RArray,
    /// For the NHWC outputs, [`Output::Float32`] and [`Output::Uint8`].
    Nhwc,
}

/// Where a batch is written, and in which layout and element type. Every layout holds `n * side *
/// side * channels` elements: element `(i, y, x, c)` (drawing, row from the top, column from the
/// left, channel) is at `i + n * (y + side * (x + side * c))` in an R array (column-major), at
/// `((i * side + y) * side + x) * channels + c` in the others (row-major NHWC, what Keras models
/// consume).
#[derive(Debug)]
pub enum Output<'a> {
    /// Doubles in [0, 1], column-major: the memory of an R array.
    RArray(&'a mut [f64]),
    /// float32, row-major: the values of `RArray` (or `2 * value - 1` with `imagenet`, the [-1,
    /// 1] range of ImageNet-trained applications), computed in double precision then rounded.
    Float32 { out: &'a mut [f32], imagenet: bool },
    /// Bytes, row-major: `round(255 * value)`, ties to even as numpy's `rint` and R's `round`
    /// (the model rescales them on the device).
    Uint8(&'a mut [u8]),
}

impl Output<'_> {
    /// Its layout, which the batch must be rendered for (see [`render_tiles`]).
    pub fn layout(&self) -> Layout {
        match self {
            Output::RArray(_) => Layout::RArray,
            Output::Float32 { .. } | Output::Uint8(_) => Layout::Nhwc,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Output::RArray(out) => out.len(),
            Output::Float32 { out, .. } => out.len(),
            Output::Uint8(out) => out.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for RenderedBatch {
    fn drop(&mut self) {
        Spare::put(std::mem::take(&mut self.coverage), std::mem::take(&mut self.items));
    }
}

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

/// A batch being rendered on a background thread, e.g. the next training batch while R and
/// Keras use the current one. Dropping it lets the thread finish and discards its result.
#[derive(Debug)]
pub struct Prefetch {
    handle: std::thread::JoinHandle<Result<RenderedBatch, BatchError>>,
}

impl Prefetch {
    /// Starts rendering `drawings` (owned, so the caller's buffers are free) with `threads`
    /// worker threads, for an output of layout `layout`.
    pub fn spawn<D: AsDrawing + Send + Sync + 'static>(
        drawings: Vec<D>,
        options: RenderOptions,
        layout: Layout,
        threads: usize,
    ) -> Result<Prefetch, BatchError> {
        let handle = std::thread::Builder::new()
            .name("doodles-prefetch".into())
            .spawn(move || render_tiles(&drawings, &options, layout, threads))
            .map_err(|err| BatchError::Threads(err.to_string()))?;
        Ok(Prefetch { handle })
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
