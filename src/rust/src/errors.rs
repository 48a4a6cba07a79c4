//! Errors cross into R as a value, never as a panic or a longjmp through Rust frames: every export
//! runs its body through [`guard`], which turns an error or a caught panic into a list of class
//! `doodles_rust_error`; R's `rust_result()` raises it as a condition of class `doodles_error`.
use extendr_api::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// An error for R: a kind (becomes a sub-class `doodles_error_<kind>`), a message, and named
/// details (index, file, line, ...) attached to the condition.
pub struct RError {
    pub kind: &'static str,
    pub message: String,
    pub details: Vec<(&'static str, Robj)>,
}

impl RError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        RError { kind, message: message.into(), details: Vec::new() }
    }

    pub fn with(mut self, name: &'static str, value: impl Into<Robj>) -> Self {
        self.details.push((name, value.into()));
        self
    }
}

pub type RResult = std::result::Result<Robj, RError>;

/// Runs `body`, turning its error or panic into a `doodles_rust_error` value.
pub fn guard<F: FnOnce() -> RResult>(body: F) -> Robj {
    let outcome = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_string());
        Err(RError::new("internal", format!("internal error in doodles' Rust code: {what}")))
    });
    match outcome {
        Ok(value) => value,
        Err(err) => error_value(err),
    }
}

fn error_value(err: RError) -> Robj {
    let names: Vec<&str> = err.details.iter().map(|(name, _)| *name).collect();
    let values: Vec<Robj> = err.details.into_iter().map(|(_, value)| value).collect();
    let mut details = List::from_values(values);
    let _ = details.set_names(names);
    let mut value = list!(message = err.message, kind = err.kind, details = details);
    let _ = value.set_class(&["doodles_rust_error"]);
    value.into()
}
