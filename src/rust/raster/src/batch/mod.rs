//! Many drawings in parallel into one `(n, side, side, channels)` buffer, in one of two layouts
//! ([`Output`]): an R array's (column-major doubles: element `(i, y, x, c)` at
//! `i + n * (y + side * (x + side * c))`), or the NHWC one Keras models consume (row-major float32
//! or uint8: `((i * side + y) * side + x) * channels + c`).
//!
//! Two passes, both parallel. First the drawings are drawn, a group of up to `GROUP` at a time
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
//!
//! By concern: this module has the errors, the output layouts and [`render_batch`]; `tiles` the
//! first pass ([`render_tiles`]), `write` the second ([`RenderedBatch::write_into`]), `prefetch`
//! the first pass on a thread of its own.
mod prefetch;
mod tiles;
mod write;

pub use prefetch::Prefetch;
pub use tiles::render_tiles;

use crate::compact::{AsDrawing, Mirrored};
use crate::options::RenderOptions;
use crate::parse::ParseError;
use std::fmt;
use std::sync::{Arc, Mutex};

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

/// [`render_batch`] with a mirror flag per drawing in `mirror`, or none (`mirror` empty: the
/// options' `mirror` says it for all drawings).
pub fn render_batch_mirrored<S: AsDrawing + Sync>(
    drawings: Vec<S>,
    mirror: &[bool],
    options: &RenderOptions,
    out: Output<'_>,
    threads: usize,
) -> Result<(), BatchError> {
    if mirror.is_empty() {
        return render_batch(&drawings, options, out, threads);
    }
    // A flag missing for a drawing leaves the batch short, which render_batch refuses.
    let flagged: Vec<Mirrored<S>> =
        drawings.into_iter().zip(mirror).map(|(drawing, &mirror)| Mirrored { drawing, mirror }).collect();
    render_batch(&flagged, options, out, threads)
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
