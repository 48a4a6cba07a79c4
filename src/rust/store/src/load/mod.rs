//! Loading: a [`Loader`] takes the files of one load in order. Each file is parsed and checked on
//! a reader thread (rows checked in parallel, the next files read ahead) while DuckDB inserts the
//! rows from a table function (see `feed`). A file's rows, its rejects and its `upload_log` entry
//! are written in one transaction (small files share one), so a load killed at any moment and
//! started again ends with every row exactly once.
//!
//! - [`read`]: the reader threads and the CSV and ndjson readers.
//! - [`schema`]: the tables, `upload_log`, ids, and [`finalize`] (labels and ids after a load).
mod read;
mod schema;

#[doc(hidden)]
pub use read::{checker_pool, read_rows, RowOutcome};
pub use schema::{ensure_schema, finalize};

use crate::db::Connection;
use crate::error::{ErrorKind, Result, StoreError};
use crate::feed::{self, Feed, Reject};
use crate::source::{self, SourceFile};
use read::{Loadable, Reader, RowReader};
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

    /// Commits the open transaction, if any.
    pub fn finish(&mut self, conn: &Connection) -> Result<()> {
        let Some(open) = &self.open else {
            return Ok(());
        };
        let committed = schema::write_log(conn, &open.log).and_then(|()| conn.execute_batch("COMMIT"));
        match committed {
            Ok(()) => {
                self.open = None;
                Ok(())
            }
            Err(err) => {
                self.rollback(conn);
                Err(err)
            }
        }
    }

    /// Deletes the rows of the open transaction from id `first` on (a refused file's).
    fn delete_from(&self, conn: &Connection, first: Option<i64>) -> Result<()> {
        if let Some(first) = first {
            conn.execute(&format!("DELETE FROM {} WHERE id >= ?", self.target.table()), [first])?;
        }
        Ok(())
    }

    /// Rolls back the open transaction and forgets what was learnt of its files.
    fn rollback(&mut self, conn: &Connection) {
        if let Some(open) = self.open.take() {
            let _ = conn.execute_batch("ROLLBACK");
            if let Some(logged) = self.logged.as_mut() {
                for entry in &open.log {
                    logged.remove(&entry.outcome.name);
                }
            }
            self.next_id = None;
        }
    }

    fn begin(&mut self, conn: &Connection) -> Result<()> {
        if self.open.is_some() {
            return Ok(());
        }
        if conn.in_transaction()? {
            return Err(StoreError::new(
                ErrorKind::Argument,
                "a transaction is open on this connection (dbBegin()); a load commits its own \
                 transactions: dbCommit() or dbRollback() first",
            ));
        }
        conn.execute_batch("BEGIN TRANSACTION")?;
        self.open = Some(OpenTransaction { rows: 0, log: Vec::new() });
        Ok(())
    }

    fn load_in_transaction(
        &mut self,
        conn: &Connection,
        position: usize,
        source: &SourceFile,
        first_id_used: &mut Option<i64>,
    ) -> Result<FileOutcome> {
        if let Some(outcome) = self.already_loaded(conn, source)? {
            return Ok(outcome);
        }
        self.begin(conn)?;
        let first_id = match self.next_id.take() {
            Some(id) => id,
            None => schema::next_id(conn, self.target)?,
        };
        *first_id_used = Some(first_id);
        let outcome = match self.target {
            Target::Train => self.load_rows::<crate::parse::TrainRow>(conn, position, source, first_id),
            Target::Test => self.load_rows::<crate::parse::TestRow>(conn, position, source, first_id),
        }?;
        self.next_id = Some(first_id + outcome.rows as i64);
        if let Some(logged) = self.logged.as_mut() {
            logged.insert(outcome.name.clone(), LoggedFile::of(&outcome));
        }
        if let Some(open) = self.open.as_mut() {
            open.rows += outcome.rows;
            let loaded_at = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_micros() as i64);
            open.log.push(LogEntry {
                target: self.target,
                outcome: outcome.clone(),
                display: source.display.clone(),
                first_id: (outcome.rows > 0).then_some(first_id),
                loaded_at,
            });
        }
        Ok(outcome)
    }

    /// The outcome of a file `upload_log` has with the same size and checksum; an error if it has
    /// one of that name with other contents.
    fn already_loaded(&mut self, conn: &Connection, source: &SourceFile) -> Result<Option<FileOutcome>> {
        if self.logged.is_none() {
            self.logged = Some(schema::logged_files(conn, self.target)?);
        }
        let Some(logged) = self.logged.as_ref().and_then(|logged| logged.get(&source.name)).copied() else {
            return Ok(None);
        };
        let (bytes, crc32) = source::checksum(source)?;
        if bytes != logged.bytes || crc32 != logged.crc32 {
            return Err(StoreError::input(
                ErrorKind::ChangedFile,
                &source.display,
                None,
                format!(
                    "a file named '{}' was loaded before with different contents ({} bytes, CRC-32 {:08x}; \
                     now {bytes} bytes, CRC-32 {crc32:08x}); it is not loaded twice. Rename it, or delete \
                     its rows and its upload_log entry to replace it",
                    source.name, logged.bytes, logged.crc32
                ),
            ));
        }
        Ok(Some(FileOutcome {
            name: source.name.clone(),
            status: FileStatus::Skipped,
            rows: logged.rows,
            rejected: logged.rejected,
            bytes,
            crc32,
        }))
    }

    fn pool(&mut self) -> Result<Arc<rayon::ThreadPool>> {
        if let Some(pool) = &self.pool {
            return Ok(Arc::clone(pool));
        }
        let pool = read::checker_pool(self.options.threads)?;
        self.pool = Some(Arc::clone(&pool));
        Ok(pool)
    }

    /// The reader of the file at `position`: started ahead, or now. Readers started for files
    /// before it (skipped since) are dropped, which stops them.
    fn reader<R: Loadable>(&mut self, position: usize, source: &SourceFile) -> Result<RowReader<R>> {
        while self.started.front().is_some_and(|ahead| ahead.position < position) {
            self.started.pop_front();
        }
        if self.started.front().is_some_and(|ahead| ahead.position == position) {
            if let Some(reader) = self.started.pop_front().and_then(|ahead| R::unwrap(ahead.reader)) {
                return Ok(reader);
            }
        }
        read::start::<R>(source.clone(), self.pool()?)?.ok_or_else(|| {
            StoreError::input(
                ErrorKind::Argument,
                &source.display,
                None,
                "the test set is a CSV file (key_id,countrycode,drawing)",
            )
        })
    }

    /// Starts reading the next [`READ_AHEAD`] files, unless started already or in `upload_log`
    /// (they are then skipped or refused without being read).
    fn read_ahead<R: Loadable>(&mut self) -> Result<()> {
        let end = (self.next + READ_AHEAD).min(self.sources.len());
        for position in self.next..end {
            let next = &self.sources[position];
            let started = self.started.iter().any(|ahead| ahead.position == position);
            let logged = self.logged.as_ref().is_some_and(|logged| logged.contains_key(&next.name));
            if started || logged {
                continue;
            }
            let pool = self.pool()?;
            if let Some(reader) = read::start::<R>(self.sources[position].clone(), pool)? {
                self.started.push_back(ReadAhead { position, reader: R::wrap(reader) });
            }
        }
        Ok(())
    }

    fn load_rows<R: Loadable>(
        &mut self,
        conn: &Connection,
        position: usize,
        source: &SourceFile,
        first_id: i64,
    ) -> Result<FileOutcome> {
        let reader = self.reader::<R>(position, source)?;
        // The next files are read while this one is inserted.
        self.read_ahead::<R>()?;
        let labels = match self.target {
            Target::Train => self.labels(conn)?,
            Target::Test => Arc::default(),
        };
        let feed = Arc::new(Feed::new(
            reader.rows,
            &source.display,
            first_id,
            self.options.skip_bad_rows,
            labels,
            self.options.threads,
        ));
        let inserted = insert_all::<R>(conn, self.target, &feed);
        let read = reader
            .thread
            .join()
            .map_err(|_| StoreError::input(ErrorKind::Internal, &source.display, None, "the reader thread panicked"))?;
        let (rows, rejects) = inserted?;
        let checksum = read?;
        record_rejects(conn, source, self.target, &rejects)?;
        Ok(FileOutcome {
            name: source.name.clone(),
            status: FileStatus::Loaded,
            rows,
            rejected: rejects.len() as u64,
            bytes: checksum.bytes,
            crc32: checksum.crc32,
        })
    }

    /// The label_int of each word rows are appended with (see `label_guess`).
    fn labels(&mut self, conn: &Connection) -> Result<Arc<HashMap<String, i32>>> {
        if self.label_guess.is_none() {
            let words: Vec<String> = self.sources.iter().map(|s| s.word_guess().to_string()).collect();
            self.label_guess = Some(Arc::new(schema::guess_labels(conn, &words)?));
        }
        Ok(self.label_guess.clone().unwrap_or_default())
    }
}

/// Inserts a feed's rows with one `INSERT ... SELECT` from its table function; the rows inserted
/// and the rejected ones, or why the file is refused.
fn insert_all<R: Loadable>(conn: &Connection, target: Target, feed: &Arc<Feed<R>>) -> Result<(u64, Vec<Reject>)> {
    let published = feed::publish(Arc::clone(feed));
    let columns: Vec<&str> = R::COLUMNS.iter().map(|(name, _)| *name).collect();
    let sql = format!("INSERT INTO {} ({1}) SELECT {1} FROM {2}(?)", target.table(), columns.join(", "), R::FUNCTION);
    let inserted = conn.execute(&sql, [published.key as i64]);
    drop(published);
    inserted?;
    feed.finish()
}

fn record_rejects(conn: &Connection, source: &SourceFile, target: Target, rejects: &[Reject]) -> Result<()> {
    if rejects.is_empty() {
        return Ok(());
    }
    let mut appender = conn.appender("rejects", None)?;
    for reject in rejects {
        appender.append_row(duckdb::params![
            target.table(),
            source.name,
            reject.line as i64,
            reject.reason,
            reject.raw
        ])?;
    }
    appender.flush()
}
