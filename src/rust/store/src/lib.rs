//! The doodles store: an embedded DuckDB database of Quick, Draw! drawings, with no R in it.
//!
//! - [`db`]: one database handle per normalised path; connections, the only way to DuckDB, each
//!   statement counted as a write unless it can only read; the stroke index kept fresh by that.
//! - [`error`]: the error type and its kinds.
//! - [`query`] and [`convert`]: SQL for DBI, DuckDB types to R-shaped columns and back.
//! - [`source`], [`parse`] and [`load`]: resumable loading from a zip, a folder or ndjson files
//!   by a [`load::Loader`] (rows reach DuckDB through the table functions of `feed`).
//! - [`index`] and [`batch`]: the memory-mapped stroke index and random batches through it.
//! - [`producer`]: batches in the Keras form made ahead on threads of their own, for Python.
//! - [`synthetic`]: drawings in the Kaggle layout for scale tests and benchmarks.
pub mod batch;
pub mod convert;
pub mod db;
pub mod error;
mod feed;
pub mod index;
pub mod load;
pub mod parse;
pub mod producer;
pub mod query;
pub mod source;
pub mod synthetic;

pub use duckdb;
pub use error::{DrawingAt, ErrorKind, Result, StoreError};

/// Opens a database with what the store needs in it (the loader's table functions), or returns
/// the handle this process already has for it (see [`db::open_database`]).
pub fn open_database(dbdir: &str, memory_key: &str, read_only: bool) -> Result<std::sync::Arc<db::Database>> {
    db::open_database(dbdir, memory_key, read_only, feed::register)
}
