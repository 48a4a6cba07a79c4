//! One file of a load, in the open transaction: skipped when `upload_log` has it, else read (by
//! the reader started ahead, or now), its rows inserted through a feed and its rejects recorded.
use super::read::{self, Loadable, RowReader};
use super::schema::{self, LogEntry, LoggedFile};
use super::{FileOutcome, FileStatus, Loader, ReadAhead, Target, READ_AHEAD};
use crate::db::Connection;
use crate::error::{ErrorKind, Result, StoreError};
use crate::feed::{self, Feed, Reject};
use crate::source::{self, SourceFile};
use std::collections::HashMap;
use std::sync::Arc;

impl Loader {
    /// Loads the file at `position` in the open transaction (begun here when needed);
    /// `first_id_used` gets the file's first id before any row is inserted, so that the caller can
    /// delete the rows of a refused file.
    pub(super) fn load_in_transaction(
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
