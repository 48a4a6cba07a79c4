//! One error type for the store, as rust-csv's `Error(Box<ErrorKind>)`: a kind to act on (the R
//! glue maps each to a condition class), a message, and where the problem is: the file and
//! 1-based line of an input file, or the drawing of a batch; and the error it came from, if any
//! (DuckDB's), as its `source()`.
use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// What went wrong. The crate is not published: its one caller matches every kind, so that a new
/// kind must be given a condition class there rather than fall into a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A bad argument (an id outside the table, a statement's parameters, a path).
    Argument,
    /// A bad row or header in an input file.
    Input,
    /// A truncated or corrupt zip file, or an entry that cannot be read.
    Zip,
    /// A file whose name was loaded before with other contents.
    ChangedFile,
    /// The database file is in use by another process.
    Locked,
    /// A file or folder that cannot be read or written.
    Io,
    /// The database's file system is full (or a file reached the size limit of the process).
    DiskFull,
    /// The stroke index cannot be built from the table.
    Index,
    /// A drawing of a batch that cannot be drawn.
    Drawing,
    /// DuckDB refused a statement or failed.
    Database,
    /// A bug in doodles.
    Internal,
}

/// The drawing an error is about: its 0-based position in the batch and its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrawingAt {
    pub index: usize,
    pub id: i64,
}

#[derive(Debug, Clone)]
struct Repr {
    kind: ErrorKind,
    message: String,
    file: Option<String>,
    line: Option<u64>,
    drawing: Option<DrawingAt>,
    // Shared, so that the error stays cloneable (duckdb::Error is not).
    source: Option<Arc<dyn Error + Send + Sync>>,
}

#[derive(Debug, Clone)]
pub struct StoreError(Box<Repr>);

pub type Result<T> = std::result::Result<T, StoreError>;

impl StoreError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        StoreError(Box::new(Repr {
            kind,
            message: message.into(),
            file: None,
            line: None,
            drawing: None,
            source: None,
        }))
    }

    /// A problem in an input file, at a 1-based line when known.
    pub fn input(kind: ErrorKind, file: &str, line: Option<u64>, message: impl fmt::Display) -> Self {
        let place = match line {
            Some(line) => format!("{file}, line {line}"),
            None => file.to_string(),
        };
        let mut err = StoreError::new(kind, format!("{place}: {message}"));
        err.0.file = Some(file.to_string());
        err.0.line = line;
        err
    }

    /// A drawing of a batch that cannot be drawn.
    pub fn drawing(at: DrawingAt, message: impl Into<String>) -> Self {
        let mut err = StoreError::new(ErrorKind::Drawing, message);
        err.0.drawing = Some(at);
        err
    }

    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The input file the error is about.
    pub fn file(&self) -> Option<&str> {
        self.0.file.as_deref()
    }

    /// The 1-based line of [`StoreError::file`].
    pub fn line(&self) -> Option<u64> {
        self.0.line
    }

    pub fn drawing_at(&self) -> Option<DrawingAt> {
        self.0.drawing
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.source.as_deref().map(|err| err as &(dyn Error + 'static))
    }
}

impl From<duckdb::Error> for StoreError {
    fn from(err: duckdb::Error) -> Self {
        let message = format!("DuckDB: {err}");
        // DuckDB reports a failed write as an IO Error with the system's words (ENOSPC, EFBIG)
        // in its text only: its C API gives no errno (duckdb-rs' code is always Unknown, with
        // DuckDB's 0/1 state), so the text is what there is to match.
        let full = ["No space left on device", "File too large"].iter().any(|words| message.contains(words));
        let mut store = StoreError::new(if full { ErrorKind::DiskFull } else { ErrorKind::Database }, message);
        store.0.source = Some(Arc::new(err));
        store
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duckdb_error_is_the_source_of_the_database_error() {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        let err = StoreError::from(conn.execute_batch("SELECT * FROM no_such_table").unwrap_err());
        assert_eq!(err.kind(), ErrorKind::Database);
        let source = err.source().expect("DuckDB's error as source()");
        assert!(source.downcast_ref::<duckdb::Error>().is_some());
        assert_eq!(err.message(), format!("DuckDB: {source}"));
        assert!(err.clone().source().is_some());
    }
}
