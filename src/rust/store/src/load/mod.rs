//! Loading: a [`Loader`] takes the files of one load in order. Each file is parsed and checked on
//! a reader thread (rows checked in parallel, the next files read ahead) while DuckDB inserts the
//! rows from a table function (see `feed`). A file's rows, its rejects and its `upload_log` entry
//! are written in one transaction (small files share one), so a load killed at any moment and
//! started again ends with every row exactly once.
//!
//! - this module: a load's types and [`Loader::load_next`], what a file's success or failure does
//!   to the open transaction.
//! - `transaction`: beginning, committing and rolling back the transaction files share.
//! - `file`: one file, from `upload_log`'s verdict and the reader started ahead to its inserted
//!   rows and rejects.
//! - [`read`]: the reader threads and the CSV and ndjson readers.
//! - [`schema`]: the tables, `upload_log`, ids, and [`finalize`] (labels and ids after a load).
mod file;
mod read;
mod schema;
mod transaction;

#[doc(hidden)]
pub use read::{checker_pool, read_rows, RowOutcome};
pub use schema::{ensure_schema, finalize};

use crate::db::Connection;
use crate::error::{ErrorKind, Result, StoreError};
use crate::source::SourceFile;
use read::Reader;
use schema::{LogEntry, LoggedFile};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Files read ahead of the one being inserted.
pub const READ_AHEAD: usize = 2;

/// Files are committed together until they hold this many rows: DuckDB writes a transaction's
/// row groups (122,880 rows each) straight to the database file, while a small commit goes to
/// the write-ahead log and is compressed once more at the next checkpoint. Commits of a few row
/// groups left partly filled ones behind: 2M rows took 315 MB at 122,880 rows per commit and
/// 169 MB at a million.
pub const TRANSACTION_ROWS: u64 = 1_000_000;

/// The table a file goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Train,
    Test,
}

impl Target {
    pub fn table(self) -> &'static str {
        match self {
            Target::Train => "doodles",
            Target::Test => "test",
        }
    }
}

/// What became of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    Loaded,
    /// Already in `upload_log` with the same size and checksum: not read again.
    Skipped,
}

impl FileStatus {
    pub fn name(self) -> &'static str {
        match self {
            FileStatus::Loaded => "loaded",
            FileStatus::Skipped => "skipped",
        }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOutcome {
    pub name: String,
    pub status: FileStatus,
    pub rows: u64,
    pub rejected: u64,
    /// Size and CRC-32 of the file's contents.
    pub bytes: u64,
    pub crc32: u32,
}

/// How a load treats its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Bad rows go to `rejects` instead of refusing their file.
    pub skip_bad_rows: bool,
    /// Threads that check rows.
    pub threads: usize,
    /// Rows after which the open transaction is committed (at least one file per transaction).
    pub transaction_rows: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { skip_bad_rows: false, threads: 1, transaction_rows: TRANSACTION_ROWS }
    }
}

/// The files loaded in the open transaction, not committed yet.
struct OpenTransaction {
    rows: u64,
    /// The files' `upload_log` rows, written just before COMMIT.
    log: Vec<LogEntry>,
}

/// A reader started ahead of its file's turn.
struct ReadAhead {
    /// The file's position in the load.
    position: usize,
    reader: Reader,
}

/// One load: its files, in order, into one table. [`Loader::load_next`] loads them one at a time
/// (the caller may stop between two); [`Loader::finish`] commits what is left uncommitted.
/// What a load learns once (each DuckDB statement costs about a millisecond, which adds up over
/// hundreds of small files) is kept here.
pub struct Loader {
    sources: Vec<SourceFile>,
    target: Target,
    options: LoadOptions,
    /// The position of the next file to load.
    next: usize,
    /// `upload_log` of the target, read at the first file.
    logged: Option<HashMap<String, LoggedFile>>,
    /// The next file's first id, when the previous file was loaded by this loader.
    next_id: Option<i64>,
    /// Readers of the next files, started while earlier files were being inserted, in order.
    started: VecDeque<ReadAhead>,
    open: Option<OpenTransaction>,
    /// The workers that check rows, made at the first file read.
    pool: Option<Arc<rayon::ThreadPool>>,
    /// The label_int rows are appended with: each word's rank among the words in `labels` and the
    /// words the files are named after, made at the first training file. When that guess is right
    /// [`finalize`] writes no row, instead of rewriting label_int in every row; a wrong guess
    /// costs only time: [`finalize`] corrects every row whose label_int is not its word's rank.
    label_guess: Option<Arc<HashMap<String, i32>>>,
}

impl Loader {
    pub fn new(sources: Vec<SourceFile>, target: Target, options: LoadOptions) -> Loader {
        Loader {
            sources,
            target,
            options,
            next: 0,
            logged: None,
            next_id: None,
            started: VecDeque::new(),
            open: None,
            pool: None,
            label_guess: None,
        }
    }

    pub fn sources(&self) -> &[SourceFile] {
        &self.sources
    }

    /// Loads the next file unless `upload_log` has it already; `None` after the last file.
    ///
    /// A file's rows, rejects and `upload_log` entry are written in the open transaction, which
    /// is committed once it holds `transaction_rows` rows, after the last file, or by
    /// [`Loader::finish`]: a load killed at any moment loses only uncommitted whole files. When a
    /// file is refused (a bad row, a damaged or changed file), its rows are deleted and the files
    /// before it are committed; after a database error the open transaction is rolled back.
    pub fn load_next(&mut self, conn: &Connection) -> Result<Option<FileOutcome>> {
        let Some(source) = self.sources.get(self.next).cloned() else {
            return Ok(None);
        };
        let position = self.next;
        self.next += 1;
        let mut first_id = None;
        let loaded = match self.load_in_transaction(conn, position, &source, &mut first_id) {
            Ok(outcome) => {
                let last = self.next == self.sources.len();
                if last || self.open.as_ref().is_some_and(|open| open.rows >= self.options.transaction_rows) {
                    self.finish(conn).map(|()| outcome)
                } else {
                    Ok(outcome)
                }
            }
            Err(err) => {
                // A refused file (bad row, damaged or changed file) loses its rows and the files
                // before it are committed; after a database error nothing of the transaction is kept.
                let refused_file =
                    !matches!(err.kind(), ErrorKind::Database | ErrorKind::DiskFull | ErrorKind::Internal);
                let kept = refused_file && self.delete_from(conn, first_id).and_then(|()| self.finish(conn)).is_ok();
                if !kept {
                    self.rollback(conn);
                }
                Err(err)
            }
        };
        loaded.map(Some).map_err(|err| match err.kind() {
            ErrorKind::DiskFull => StoreError::input(
                ErrorKind::DiskFull,
                &source.display,
                None,
                format!(
                    "the disk of the database is full: this file and the others not committed yet were \
                     rolled back (the files committed before are intact). Free space and run the load \
                     again: it skips the files committed. {}",
                    err.message()
                ),
            ),
            _ => err,
        })
    }
}
