//! R glue for doodles-raster: converts arguments, allocates the R array on the main thread and
//! hands its memory to the (R-free) parallel renderer.
use crate::errors::{guard, RError};
use doodles_raster::{memory, render_batch, BatchError, Encoding, RenderOptions};
use extendr_api::prelude::*;

/// Rendering options from the R arguments of `draw_doodles()` (and `doodle_batch()`).
pub(crate) fn render_options(
    scale: f64,
    encoding: &str,
    line_width: f64,
    antialias: bool,
) -> Result<RenderOptions, RError> {
    let encoding: Encoding =
        encoding.parse().map_err(|err: doodles_raster::OptionsError| RError::new("argument", err.0))?;
    RenderOptions::from_scale(scale, encoding, line_width, antialias).map_err(|err| RError::new("argument", err.0))
}

/// A new, uninitialised R double array of dim `(n, side, side, channels)` for `options`, with
/// huge pages asked for (see `doodles_raster::memory`). The renderer writes every element.
pub(crate) fn new_batch_array(n: usize, options: &RenderOptions) -> Result<Robj, RError> {
    let dim = [n, options.side, options.side, options.channels()];
    let dim = dim
        .iter()
        .map(|&d| {
            i32::try_from(d).map_err(|_| RError::new("argument", format!("batch dimension {d} is too large for R")))
        })
        .collect::<Result<Vec<i32>, RError>>()?;
    let mut array = Robj::alloc_vector(extendr_api::rtype_to_sxp(Rtype::Doubles), n * options.values_per_drawing());
    array
        .set_attrib(dim_symbol(), dim)
        .map_err(|err| RError::new("internal", format!("cannot set the array's dim: {err}")))?;
    if let Some(values) = array.as_real_slice_mut() {
        memory::advise_huge_pages(values);
    }
    Ok(array)
}

/// A rendering error for R: the drawing's 1-based index and what is wrong with it.
pub(crate) fn batch_error(err: BatchError) -> RError {
    match err {
        BatchError::Drawing { index, error } => {
            RError::new("drawing", format!("drawing {}: {error}", index + 1)).with("index", (index + 1) as f64)
        }
        other => RError::new("internal", other.to_string()),
    }
}

/// The worker thread count from R (already checked there).
pub(crate) fn thread_count(threads: i32) -> Result<usize, RError> {
    usize::try_from(threads)
        .ok()
        .filter(|&count| count >= 1)
        .ok_or_else(|| RError::new("argument", format!("threads must be at least 1, not {threads}")))
}

/// Renders a character vector of drawings into a new 4-D array.
/// @noRd
#[extendr]
fn raster_draw(x: Robj, scale: f64, encoding: &str, line_width: f64, antialias: bool, threads: i32) -> Robj {
    guard(|| {
        let options = render_options(scale, encoding, line_width, antialias)?;
        let threads = thread_count(threads)?;
        let strings = x.as_str_iter().ok_or_else(|| RError::new("argument", "drawings must be a character vector"))?;
        let mut drawings = Vec::with_capacity(x.len());
        for (index, drawing) in strings.enumerate() {
            if drawing.is_na() {
                return Err(RError::new(
                    "drawing",
                    format!("drawing {}: NA, expected a JSON array of strokes", index + 1),
                )
                .with("index", (index + 1) as f64));
            }
            drawings.push(drawing);
        }
        let mut array = new_batch_array(drawings.len(), &options)?;
        let values =
            array.as_real_slice_mut().ok_or_else(|| RError::new("internal", "the new array is not a double vector"))?;
        render_batch(&drawings, &options, values, threads).map_err(batch_error)?;
        Ok(array)
    })
}

/// The cores this process may use (affinity and cgroup limits included): `doodles_threads()`'s
/// last resort.
/// @noRd
#[extendr]
fn raster_cores() -> Robj {
    guard(|| {
        let cores = std::thread::available_parallelism().map_or(1, |count| count.get());
        Ok((i32::try_from(cores).unwrap_or(i32::MAX)).into())
    })
}

/// glibc only: serve blocks up to `max_block` bytes from the heap and keep up to `keep` bytes of
/// freed memory (see `doodles_raster::memory::keep_freed_memory`). Returns whether it applied.
/// @noRd
#[extendr]
fn raster_keep_freed_memory(max_block: f64, keep: f64) -> Robj {
    guard(|| Ok(memory::keep_freed_memory(max_block as usize, keep as usize).into()))
}

extendr_module! {
    mod raster;
    fn raster_draw;
    fn raster_cores;
    fn raster_keep_freed_memory;
}
