//! One error type for the store: a kind (the R condition's sub-class), a message, and where the
//! problem is (file and 1-based line) when it comes from an input file.
use std::fmt;

#[derive(Debug, Clone)]
pub struct StoreError {
    pub kind: &'static str,
    pub message: String,
    pub file: Option<String>,
    pub line: Option<u64>,
}

pub type Result<T> = std::result::Result<T, StoreError>;

impl StoreError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        StoreError { kind, message: message.into(), file: None, line: None }
    }

    /// A problem in an input file, at a 1-based line when known.
    pub fn input(kind: &'static str, file: &str, line: Option<u64>, message: impl fmt::Display) -> Self {
        let place = match line {
            Some(line) => format!("{file}, line {line}"),
            None => file.to_string(),
        };
        StoreError { kind, message: format!("{place}: {message}"), file: Some(file.to_string()), line }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

impl From<duckdb::Error> for StoreError {
    fn from(err: duckdb::Error) -> Self {
        StoreError::new("db", format!("DuckDB: {err}"))
    }
}
