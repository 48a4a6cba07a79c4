//! R glue for doodles-raster: converts arguments, allocates the batch (an R array, or R memory
//! that numpy views) on the main thread and hands it to the (R-free) parallel renderer.
use crate::errors::{guard, Class, RError};
use doodles_raster::{memory, render_batch_mirrored, Encoding, Output, RenderOptions};
use extendr_api::prelude::*;

/// Rendering options from the R arguments of `draw_doodles()` (and `doodle_batch()`).
pub(crate) fn render_options(
    scale: f64,
    encoding: &str,
    line_width: f64,
    antialias: bool,
) -> Result<RenderOptions, RError> {
    let encoding: Encoding = encoding.parse()?;
    Ok(RenderOptions::from_scale(scale, encoding, line_width, antialias)?)
}

/// Which drawings of a batch to mirror, from R's `mirror`: NULL or one flag for all of them, or
/// one per drawing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MirrorFlags {
    All(bool),
    Each(Vec<bool>),
}

impl MirrorFlags {
    /// `mirror` for `n` drawings (`what` names the argument in errors). Flags all alike are
    /// [`MirrorFlags::All`], which the options carry.
    pub(crate) fn from_r(mirror: &Robj, n: usize, what: &str) -> Result<MirrorFlags, RError> {
        if mirror.is_null() {
            return Ok(MirrorFlags::All(false));
        }
        let values = mirror
            .as_logical_slice()
            .ok_or_else(|| RError::argument(format!("`{what}` must be TRUE or FALSE, or a flag per drawing")))?;
        if values.len() != 1 && values.len() != n {
            return Err(RError::argument(format!(
                "`{what}` has {} values: one, or one per drawing ({n}), expected",
                values.len()
            )));
        }
        let flags = values
            .iter()
            .map(|value| {
                if value.is_na() {
                    Err(RError::argument(format!("`{what}` must not be NA")))
                } else {
                    Ok(value.is_true())
                }
            })
            .collect::<Result<Vec<bool>, RError>>()?;
        Ok(match flags.first() {
            None => MirrorFlags::All(false),
            Some(&first) if flags.iter().all(|&flag| flag == first) => MirrorFlags::All(first),
            Some(_) => MirrorFlags::Each(flags),
        })
    }

    /// `options` and the flags per drawing for doodles-store's batches: one flag for all goes
    /// into the options, flags one by one stay flags.
    pub(crate) fn split(self, options: &RenderOptions) -> (RenderOptions, Vec<bool>) {
        match self {
            MirrorFlags::All(all) => (options.with_mirror(all), Vec::new()),
            MirrorFlags::Each(flags) => (*options, flags),
        }
    }
}

/// What R gets for a batch: an R double array, or the storage of a row-major batch for numpy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Form {
    /// An R double array `(n, side, side, channels)`, values in [0, 1].
    RArray,
    /// float32 NHWC, values in [0, 1] (or [-1, 1] with `imagenet`).
    Float32 { imagenet: bool },
    /// uint8 NHWC, 0..255.
    Uint8,
}

impl Form {
    /// The form named by R (`format` and `imagenet_preproc`; R maps [0, 1] to [-1, 1] itself for
    /// its arrays, and uint8 models rescale on the device).
    pub(crate) fn from_r(format: &str, imagenet: bool) -> Result<Form, RError> {
        match format {
            "array" => Ok(Form::RArray),
            "float32" => Ok(Form::Float32 { imagenet }),
            "uint8" => Ok(Form::Uint8),
            other => {
                Err(RError::argument(format!("format must be \"array\", \"float32\" or \"uint8\", not \"{other}\"")))
            }
        }
    }
}

/// A batch's memory, allocated by R on its main thread, and the form the renderer writes into it.
///
/// An R array has dim `(n, side, side, channels)`. The Keras forms live in an R integer vector
/// (R allocates and frees it, on its main thread; reticulate hands an R integer array to numpy as
/// a view that keeps it alive): one element per float32, four uint8 per element (the last
/// padded), with dim its length and attributes `shape` (NHWC) and `dtype` for the numpy view.
pub(crate) struct Batch {
    memory: Robj,
    values: usize,
    form: Form,
}

impl Batch {
    /// A new, uninitialised batch of `n` drawings, with huge pages asked for (see
    /// `doodles_raster::memory`); the renderer writes every element through [`Batch::output`].
    pub(crate) fn new(n: usize, options: &RenderOptions, form: Form) -> Result<Batch, RError> {
        let shape = batch_shape(n, options)?;
        let values = n * options.values_per_drawing();
        let attrib = |memory: &mut Robj, name: &str, value: Robj| {
            memory
                .set_attrib(name, value)
                .map(|_| ())
                .map_err(|err| RError::internal(format!("cannot set the batch's {name}: {err}")))
        };
        if form == Form::RArray {
            let mut array = Robj::alloc_vector(extendr_api::rtype_to_sxp(Rtype::Doubles), values);
            attrib(&mut array, "dim", shape.into())?;
            if let Some(values) = array.as_real_slice_mut() {
                memory::advise_huge_pages(values);
            }
            return Ok(Batch { memory: array, values, form });
        }
        let (length, dtype) = storage_length(values, form);
        let r_length = i32::try_from(length)
            .map_err(|_| RError::argument(format!("a batch of {values} values is too large for R")))?;
        let mut storage = Robj::alloc_vector(extendr_api::rtype_to_sxp(Rtype::Integers), length);
        attrib(&mut storage, "dim", r_length.into())?;
        attrib(&mut storage, "shape", shape.into())?;
        attrib(&mut storage, "dtype", dtype.into())?;
        if let Some(values) = storage.as_integer_slice_mut() {
            memory::advise_huge_pages(values);
        }
        Ok(Batch { memory: storage, values, form })
    }

    /// The batch's memory, as the renderer's output.
    pub(crate) fn output(&mut self) -> Result<Output<'_>, RError> {
        let not_ours = || RError::internal("the batch is not the vector allocated for it");
        Ok(match self.form {
            Form::RArray => Output::RArray(self.memory.as_real_slice_mut().ok_or_else(not_ours)?),
            Form::Float32 { imagenet } => {
                let storage = self.memory.as_integer_slice_mut().ok_or_else(not_ours)?;
                Output::Float32 { out: bytemuck::cast_slice_mut(storage), imagenet }
            }
            Form::Uint8 => {
                let bytes: &mut [u8] =
                    bytemuck::cast_slice_mut(self.memory.as_integer_slice_mut().ok_or_else(not_ours)?);
                let (values, padding) = bytes.split_at_mut(self.values);
                padding.fill(0);
                Output::Uint8(values)
            }
        })
    }

    /// What R gets.
    pub(crate) fn into_robj(self) -> Robj {
        self.memory
    }
}

/// `(n, side, side, channels)` as R integers.
fn batch_shape(n: usize, options: &RenderOptions) -> Result<Vec<i32>, RError> {
    [n, options.side, options.side, options.channels()]
        .iter()
        .map(|&d| i32::try_from(d).map_err(|_| RError::argument(format!("batch dimension {d} is too large for R"))))
        .collect()
}

/// R integers holding `values` elements of a Keras form, and the form's numpy dtype.
fn storage_length(values: usize, form: Form) -> (usize, &'static str) {
    match form {
        Form::Uint8 => (values.div_ceil(4), "uint8"),
        _ => (values, "float32"),
    }
}

/// The worker thread count from R (already checked there).
pub(crate) fn thread_count(threads: i32) -> Result<usize, RError> {
    usize::try_from(threads)
        .ok()
        .filter(|&count| count >= 1)
        .ok_or_else(|| RError::argument(format!("threads must be at least 1, not {threads}")))
}

/// Renders a character vector of drawings into a new batch (see [`Batch`]), mirrored as `mirror`
/// says (see [`MirrorFlags`]).
/// @noRd
#[extendr]
#[allow(clippy::too_many_arguments)]
fn raster_draw(
    x: Robj,
    scale: f64,
    encoding: &str,
    line_width: f64,
    antialias: bool,
    threads: i32,
    format: &str,
    imagenet: bool,
    #[extendr(default = "FALSE")] mirror: Robj,
) -> Robj {
    guard(|| {
        let options = render_options(scale, encoding, line_width, antialias)?;
        let form = Form::from_r(format, imagenet)?;
        let threads = thread_count(threads)?;
        let strings = x.as_str_iter().ok_or_else(|| RError::argument("drawings must be a character vector"))?;
        let mut drawings = Vec::with_capacity(x.len());
        for (index, drawing) in strings.enumerate() {
            if drawing.is_na() {
                return Err(RError::new(
                    Class::Drawing,
                    format!("drawing {}: NA, expected a JSON array of strokes", index + 1),
                )
                .with("index", (index + 1) as f64));
            }
            drawings.push(drawing);
        }
        let mut batch = Batch::new(drawings.len(), &options, form)?;
        let (options, flags) = MirrorFlags::from_r(&mirror, drawings.len(), "mirror")?.split(&options);
        render_batch_mirrored(drawings, &flags, &options, batch.output()?, threads)?;
        Ok(batch.into_robj())
    })
}

/// The number of strokes of each drawing (a character vector of stroke JSON), parsed as the
/// rasterizer parses them: the `n_strokes` side feature, one definition for every road.
/// @noRd
#[extendr]
fn raster_stroke_counts(x: Robj) -> Robj {
    guard(|| {
        let strings = x.as_str_iter().ok_or_else(|| RError::argument("drawings must be a character vector"))?;
        let mut counts = Vec::with_capacity(x.len());
        for (index, drawing) in strings.enumerate() {
            let drawing_error = |what: String| {
                RError::new(Class::Drawing, format!("drawing {}: {what}", index + 1)).with("index", (index + 1) as f64)
            };
            if drawing.is_na() {
                return Err(drawing_error("NA, expected a JSON array of strokes".to_string()));
            }
            let strokes = doodles_raster::parse_drawing(drawing).map_err(|error| drawing_error(error.to_string()))?;
            counts.push(i32::try_from(strokes.len()).unwrap_or(i32::MAX));
        }
        Ok(counts.into())
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

/// The limits of the drawing options, defined once here: list(min_scale, max_scale, max_side,
/// max_line_width, encodings).
/// @noRd
#[extendr]
fn raster_limits() -> Robj {
    guard(|| {
        Ok(list!(
            min_scale = doodles_raster::MIN_SCALE,
            max_scale = doodles_raster::MAX_SCALE,
            max_side = doodles_raster::MAX_SIDE as i32,
            max_line_width = doodles_raster::MAX_LINE_WIDTH,
            encodings = Encoding::NAMES.to_vec()
        )
        .into())
    })
}

extendr_module! {
    mod raster;
    fn raster_draw;
    fn raster_limits;
    fn raster_cores;
    fn raster_stroke_counts;
    fn raster_keep_freed_memory;
}
