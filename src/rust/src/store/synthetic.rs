//! Drawings made up in the Kaggle layout, for scale tests and benchmarks without the real data.
use crate::errors::{guard, RError};
use doodles_store::synthetic;
use extendr_api::prelude::*;
use std::path::Path;

/// @noRd
#[extendr]
fn store_make_synthetic(dir: &str, n: f64, classes: i32, n_test: f64, seed: f64, like: Vec<String>) -> Robj {
    guard(|| {
        let classes = usize::try_from(classes).map_err(|_| RError::argument("classes must be positive"))?;
        let like = synthetic::stroke_lengths(&like.iter().map(String::as_str).collect::<Vec<_>>())?;
        let files = synthetic::make_synthetic(Path::new(dir), n as u64, classes, n_test as u64, seed as u64, &like)?;
        let path = |p: &Path| p.display().to_string();
        Ok(list!(train = path(&files.train), test = path(&files.test), answers = path(&files.answers)).into())
    })
}

extendr_module! {
    mod synthetic;
    fn store_make_synthetic;
}
