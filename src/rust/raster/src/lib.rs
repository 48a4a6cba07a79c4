//! Quick, Draw! drawings (JSON stroke arrays) to image batches laid out as R arrays, or as the
//! row-major (NHWC) float32 or uint8 batches Keras models consume.
//!
//! - [`parse`]: JSON to strokes, with the structure validated (an array of strokes, each exactly two
//!   equal-length arrays of numbers).
//! - [`compact`]: the binary drawing records of the stroke index, and what the renderer accepts as a
//!   drawing (JSON text or a record).
//! - [`options`]: what to draw (side, encoding of the channels, line width, antialiasing,
//!   mirroring; [`Mirrored`] mirrors single drawings).
//! - `draw`: one drawing into a small `u8` tile, by an exact distance-to-segment test.
//! - [`batch`]: many drawings in parallel, written straight into the caller's buffer (an R array's
//!   column-major doubles, or NHWC float32 / uint8), or rendered in the background first.
//! - [`memory`]: how the output memory is obtained (huge pages, keeping freed memory).
//! - [`error`]: the kinds of the errors above.
//!
//! Nothing here calls R; the `doodles` crate does that on R's main thread.
pub mod batch;
pub mod compact;
mod draw;
pub mod error;
pub mod memory;
pub mod options;
pub mod parse;

pub use batch::{
    render_batch, render_batch_mirrored, render_tiles, BatchError, DrawingError, Layout, Output, Prefetch,
    RenderedBatch,
};
pub use compact::{AsDrawing, Drawing, Mirrored, RecordEncoder};
pub use error::ErrorKind;
pub use options::{
    side_for_scale, Encoding, OptionsError, RenderOptions, MAX_LINE_WIDTH, MAX_SCALE, MAX_SIDE, MIN_SCALE,
};
pub use parse::{check_drawing, parse_drawing, ParseError, Stroke};
