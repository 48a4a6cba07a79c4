//! Fuzzing of the parsers that read outside input, on stable Rust: cargo-fuzz needs a nightly
//! toolchain, so this is a coverage-free mutation loop. Inputs start from the real sample in
//! `inst/extdata` and damaged copies of it; an input whose outcome is of a kind not seen before
//! (an error message with its details taken out, accept instead of reject) is kept in
//! `corpus/<target>/`, which the tests replay.
//!
//! - [`targets`]: what each target runs and checks, and the list of targets.
//! - [`mutate`]: the mutations.
//! - [`fuzz`]: the loop, with a watchdog for hangs and the resident memory sampled.
//! - [`sample`]: the real sample the seeds are made of.
pub mod fuzz;
pub mod mutate;
pub mod sample;
pub mod targets;

pub use fuzz::{fuzz, replay, Report};
pub use targets::{target, targets, Target};
