//! R glue for `doodles_store::producer`: makes a producer from a generator's arguments, on R's
//! main thread, and hands R an external pointer to it whose address Python retains (see
//! `crate::python`). After that no batch passes through R.
use crate::errors::{guard, RError};
use crate::raster::{render_options, thread_count};
use crate::store::{ids_arg, with_handle, Open};
use doodles_store::producer::{Drawings, Features, Pixels, Plan, Producer, Spec, Targets};
use extendr_api::prelude::*;
use std::sync::Arc;

/// What R keeps: the producer, shared with every Python handle retained from it.
pub(crate) type ProducerCell = Arc<Producer>;

fn field(spec: &List, name: &str) -> Result<Robj, RError> {
    spec.dollar(name).map_err(|_| RError::internal(format!("producer spec lacks `{name}`"))).and_then(|value| {
        if value.is_null() && !OPTIONAL.contains(&name) {
            Err(RError::internal(format!("producer spec lacks `{name}`")))
        } else {
            Ok(value)
        }
    })
}

/// Spec fields that may be NULL.
const OPTIONAL: [&str; 6] = ["seed", "texts", "numeric", "categories", "con", "stroke_count_at"];

fn number(spec: &List, name: &str) -> Result<f64, RError> {
    let value = field(spec, name)?;
    value
        .as_real()
        .or_else(|| value.as_integer().filter(|&i| i != i32::MIN).map(f64::from))
        .ok_or_else(|| RError::internal(format!("producer spec: `{name}` must be a number")))
}

fn count(spec: &List, name: &str) -> Result<usize, RError> {
    let value = number(spec, name)?;
    if value.is_finite() && value >= 0.0 && value.fract() == 0.0 {
        Ok(value as usize)
    } else {
        Err(RError::argument(format!("`{name}` must be a whole number, not {value}")))
    }
}

fn text(spec: &List, name: &str) -> Result<String, RError> {
    field(spec, name)?
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| RError::internal(format!("producer spec: `{name}` must be a string")))
}

fn flag(spec: &List, name: &str) -> Result<bool, RError> {
    field(spec, name)?
        .as_bool()
        .ok_or_else(|| RError::internal(format!("producer spec: `{name}` must be TRUE or FALSE")))
}

/// Side features from R: `numeric` a double matrix (ids x width, column-major), `categories` an
/// integer vector of 0-based levels (NA or -1 for none) of `levels`, `stroke_count_at` the
/// 0-based column of the numeric features where the producer puts each drawing's stroke count
/// (NULL: none).
fn features(spec: &List, n: usize) -> Result<Option<Features>, RError> {
    let numeric = field(spec, "numeric")?;
    let categories = field(spec, "categories")?;
    let stroke_count_at =
        if field(spec, "stroke_count_at")?.is_null() { None } else { Some(count(spec, "stroke_count_at")?) };
    if numeric.is_null() && categories.is_null() && stroke_count_at.is_none() {
        return Ok(None);
    }
    let (values, width) = if numeric.is_null() {
        (Vec::new(), 0)
    } else {
        let values = numeric.as_real_slice().ok_or_else(|| RError::internal("numeric features must be doubles"))?;
        let width = values.len().checked_div(n).unwrap_or(0);
        // R's column-major matrix to rows.
        let mut rows = vec![0f32; values.len()];
        for column in 0..width {
            for row in 0..n {
                rows[row * width + column] = values[column * n + row] as f32;
            }
        }
        (rows, width)
    };
    let (categories, levels) = if categories.is_null() {
        (Vec::new(), 0)
    } else {
        let levels = count(spec, "levels")?;
        let codes = categories.as_integer_slice().ok_or_else(|| RError::internal("categories must be integers"))?;
        (codes.iter().map(|&c| if c == i32::MIN { -1 } else { c }).collect(), levels)
    };
    Ok(Some(Features { numeric: values, width, categories, levels, stroke_count_at }))
}

/// A producer (see `doodles_store::producer`) from `spec`, a named list: `con` (a doodles
/// connection, drawings through its stroke index) or `texts` (drawing texts by id position);
/// `ids`, `batch_size`, `seed` (NULL: in order, the last batch partial), `workers`, `worker`,
/// `initial_epoch`; `scale`, `encoding`, `line_width`, `antialias`, `mirror` (every drawing
/// mirrored), `hflip` (half of them, per seed and epoch); `format` ("uint8" or
/// "float32"), `imagenet`; `targets` ("none", "onehot", "sparse") and `classes`; `numeric`,
/// `categories`, `levels` and `stroke_count_at` (side features); `threads` and `depth`. Returns
/// list(pointer, address, steps_per_epoch).
/// @noRd
#[extendr]
fn producer_new(spec: List) -> Robj {
    guard(|| {
        let ids = ids_arg(&field(&spec, "ids")?, "ids")?;
        let options = render_options(
            number(&spec, "scale")?,
            &text(&spec, "encoding")?,
            number(&spec, "line_width")?,
            flag(&spec, "antialias")?,
        )?
        .with_mirror(flag(&spec, "mirror")?);
        let hflip = flag(&spec, "hflip")?;
        let pixels = match text(&spec, "format")?.as_str() {
            "uint8" => Pixels::Uint8,
            "float32" => Pixels::Float32 { imagenet: flag(&spec, "imagenet")? },
            other => return Err(RError::argument(format!("a producer makes uint8 or float32 batches, not {other}"))),
        };
        let classes = count(&spec, "classes")?;
        let targets = match text(&spec, "targets")?.as_str() {
            "none" => Targets::None,
            "onehot" => Targets::OneHot { classes },
            "sparse" => Targets::Sparse { classes },
            other => return Err(RError::internal(format!("unknown targets {other}"))),
        };
        let seed = field(&spec, "seed")?;
        let seed = if seed.is_null() { None } else { Some(count(&spec, "seed")? as u64) };
        let plan = Plan {
            batch_size: count(&spec, "batch_size")?,
            seed,
            workers: count(&spec, "workers")?,
            worker: count(&spec, "worker")?,
            initial_epoch: count(&spec, "initial_epoch")? as u64,
            ids,
        };
        let features = features(&spec, plan.ids.len())?;
        let threads = thread_count(count(&spec, "threads")? as i32)?;
        let depth = count(&spec, "depth")?;
        let texts = field(&spec, "texts")?;
        let make = |drawings, closed| {
            Producer::new(Spec { drawings, plan, options, pixels, targets, features, hflip, threads, depth, closed })
                .map_err(RError::from)
        };
        let producer = if texts.is_null() {
            with_handle(&field(&spec, "con")?, |open: &mut Open| {
                let index = open.conn.stroke_index()?;
                let db = Arc::clone(open.conn.database());
                let write_epoch = db.write_epoch();
                make(Drawings::Index { index, db, write_epoch }, Some(Arc::clone(&open.closed)))
            })?
        } else {
            let strings = texts.as_str_iter().ok_or_else(|| RError::argument("drawings must be a character vector"))?;
            let mut owned = Vec::with_capacity(texts.len());
            for (index, drawing) in strings.enumerate() {
                if drawing.is_na() {
                    return Err(RError::new(
                        crate::errors::Class::Drawing,
                        format!("drawing {}: NA, expected a JSON array of strokes", index + 1),
                    )
                    .with("index", (index + 1) as f64));
                }
                owned.push(drawing.to_string());
            }
            make(Drawings::Texts(owned), None)?
        };
        let steps = producer.steps_per_epoch() as f64;
        let cell: ProducerCell = Arc::new(producer);
        let pointer = ExternalPtr::new(cell);
        let address = format!("{:x}", pointer.addr() as *const ProducerCell as usize);
        Ok(list!(pointer = Robj::from(pointer), address = address, steps_per_epoch = steps).into())
    })
}

extendr_module! {
    mod producer;
    fn producer_new;
}
