//! The doodles store: an embedded DuckDB database of Quick, Draw! drawings, with no R in it.
//!
//! - [`db`]: one database handle per normalised path, connections, write tracking.
//! - [`query`] and [`convert`]: SQL for DBI, DuckDB types to R-shaped columns and back.
//! - [`source`], [`parse`] and [`load`]: resumable loading from a zip, a folder or ndjson files
//!   (rows reach DuckDB through the table functions of `feed`).
//! - [`index`] and [`batch`]: the memory-mapped stroke index and random batches through it.
//! - [`synthetic`]: drawings in the Kaggle layout for scale tests and benchmarks.
pub mod batch;
pub mod convert;
pub mod db;
pub mod error;
mod feed;
pub mod index;
pub mod load;
pub mod parse;
pub mod query;
pub mod source;
pub mod synthetic;

pub use duckdb;
pub use error::{Result, StoreError};
