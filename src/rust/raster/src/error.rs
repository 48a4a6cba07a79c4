//! The kinds of this crate's errors, for callers that act on them (the R glue maps each kind to a
//! condition class).
use crate::{BatchError, OptionsError};

/// What went wrong. The crate is not published: its one caller matches every kind, so that a new
/// kind must be given a condition class there rather than fall into a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Rendering options outside their limits.
    Argument,
    /// A drawing that cannot be drawn.
    Drawing,
    /// A bug in the caller or in this crate (an output of the wrong size, no worker threads).
    Internal,
}

impl OptionsError {
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Argument
    }
}

impl BatchError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            BatchError::Drawing { .. } => ErrorKind::Drawing,
            BatchError::OutputLength { .. } | BatchError::Layout { .. } | BatchError::Threads(_) => ErrorKind::Internal,
        }
    }
}
