//! Errors cross into R as a value, never as a longjmp through Rust frames: every export runs its
//! body through [`guard`], which turns an error into a list of class `doodles_rust_error`; the
//! generated R wrapper (`rust_result()`) raises it as a condition of class `doodles_error`. A
//! panic is caught by extendr's wrapper, which raises an R error; `rust_result()` makes that a
//! `doodles_error_internal`.
use doodles_raster::{BatchError, OptionsError};
use doodles_store::StoreError;
use extendr_api::prelude::*;

/// The R condition classes (`doodles_error_<name>`) of errors from Rust: the one table that the
/// kinds of both crates map to. ?doodles_error lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Argument,
    Drawing,
    Input,
    Zip,
    ChangedFile,
    Locked,
    Io,
    DiskFull,
    Index,
    Db,
    Internal,
}

impl Class {
    const ALL: [Class; 11] = [
        Class::Argument,
        Class::Drawing,
        Class::Input,
        Class::Zip,
        Class::ChangedFile,
        Class::Locked,
        Class::Io,
        Class::DiskFull,
        Class::Index,
        Class::Db,
        Class::Internal,
    ];

    /// The sub-class's name after `doodles_error_`.
    pub fn name(self) -> &'static str {
        match self {
            Class::Argument => "argument",
            Class::Drawing => "drawing",
            Class::Input => "input",
            Class::Zip => "zip",
            Class::ChangedFile => "changed_file",
            Class::Locked => "locked",
            Class::Io => "io",
            Class::DiskFull => "disk_full",
            Class::Index => "index",
            Class::Db => "db",
            Class::Internal => "internal",
        }
    }
}

impl From<doodles_store::ErrorKind> for Class {
    fn from(kind: doodles_store::ErrorKind) -> Self {
        use doodles_store::ErrorKind as K;
        match kind {
            K::Argument => Class::Argument,
            K::Input => Class::Input,
            K::Zip => Class::Zip,
            K::ChangedFile => Class::ChangedFile,
            K::Locked => Class::Locked,
            K::Io => Class::Io,
            K::DiskFull => Class::DiskFull,
            K::Index => Class::Index,
            K::Drawing => Class::Drawing,
            K::Database => Class::Db,
            K::Internal => Class::Internal,
        }
    }
}

impl From<doodles_raster::ErrorKind> for Class {
    fn from(kind: doodles_raster::ErrorKind) -> Self {
        use doodles_raster::ErrorKind as K;
        match kind {
            K::Argument => Class::Argument,
            K::Drawing => Class::Drawing,
            K::Internal => Class::Internal,
        }
    }
}

/// An error for R: its class, a message, and named details (index, file, line, ...) attached to
/// the condition.
pub struct RError {
    pub class: Class,
    pub message: String,
    pub details: Vec<(&'static str, Robj)>,
}

impl RError {
    pub fn new(class: Class, message: impl Into<String>) -> Self {
        RError { class, message: message.into(), details: Vec::new() }
    }

    pub fn argument(message: impl Into<String>) -> Self {
        RError::new(Class::Argument, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        RError::new(Class::Internal, message)
    }

    pub fn with(mut self, name: &'static str, value: impl Into<Robj>) -> Self {
        self.details.push((name, value.into()));
        self
    }
}

impl From<StoreError> for RError {
    fn from(err: StoreError) -> Self {
        let mut r = RError::new(err.kind().into(), err.message());
        if let Some(file) = err.file() {
            r = r.with("file", file);
        }
        if let Some(line) = err.line() {
            r = r.with("line", line as f64);
        }
        if let Some(at) = err.drawing_at() {
            r = r.with("index", (at.index + 1) as f64).with("id", at.id as f64);
        }
        r
    }
}

impl From<OptionsError> for RError {
    fn from(err: OptionsError) -> Self {
        RError::new(err.kind().into(), err.0)
    }
}

/// A rendering error: the drawing's 1-based index and what is wrong with it.
impl From<BatchError> for RError {
    fn from(err: BatchError) -> Self {
        let class = err.kind().into();
        match err {
            BatchError::Drawing { index, error } => {
                RError::new(class, format!("drawing {}: {error}", index + 1)).with("index", (index + 1) as f64)
            }
            other => RError::new(class, other.to_string()),
        }
    }
}

pub type RResult = std::result::Result<Robj, RError>;

/// Runs an export's body: its value, or its error as a `doodles_rust_error` value. Panics are
/// left to extendr's wrapper.
pub fn guard<F: FnOnce() -> RResult>(body: F) -> Robj {
    match body() {
        Ok(value) => value,
        Err(err) => error_value(err),
    }
}

fn error_value(err: RError) -> Robj {
    let names: Vec<&str> = err.details.iter().map(|(name, _)| *name).collect();
    let values: Vec<Robj> = err.details.into_iter().map(|(_, value)| value).collect();
    let mut details = List::from_values(values);
    let _ = details.set_names(names);
    let mut value = list!(message = err.message, kind = err.class.name(), details = details);
    let _ = value.set_class(&["doodles_rust_error"]);
    value.into()
}

/// The condition classes of errors from Rust (for the test that ?doodles_error lists them all).
/// @noRd
#[extendr]
fn rust_error_classes() -> Robj {
    guard(|| Ok(Class::ALL.iter().map(|class| class.name()).collect::<Vec<_>>().into()))
}

extendr_module! {
    mod errors;
    fn rust_error_classes;
}
