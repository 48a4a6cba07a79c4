//! Loading: each source file is parsed and checked on a reader thread (rows checked in parallel)
//! while DuckDB inserts the rows from a table function (see `feed`). A file's rows, its rejects
//! and its `upload_log` entry are written in one transaction (small files share one), so a load
//! killed at any moment and started again ends with every row exactly once.
use crate::db::Connection;
use crate::error::{Result, StoreError};
use crate::feed::{self, Feed, FeedRow};
use crate::parse::{self, TestRow, TrainRow};
use crate::source::{self, Format, SourceFile};
use csv::ByteRecord;
use duckdb::types::{TimeUnit, ToSqlOutput, ValueRef};
use duckdb::{params, ToSql};
use rayon::prelude::*;
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS doodles (countrycode VARCHAR, drawing VARCHAR NOT NULL, key_id BIGINT,
  recognized BOOLEAN, timestamp TIMESTAMP, word VARCHAR NOT NULL, label_int INTEGER, id INTEGER);
CREATE TABLE IF NOT EXISTS test (key_id BIGINT, countrycode VARCHAR, drawing VARCHAR NOT NULL, id INTEGER);
CREATE TABLE IF NOT EXISTS upload_log (target VARCHAR NOT NULL, file_name VARCHAR NOT NULL,
  source VARCHAR, rows BIGINT NOT NULL, rejected BIGINT NOT NULL, bytes BIGINT NOT NULL,
  crc32 BIGINT NOT NULL, first_id INTEGER, loaded_at TIMESTAMP, PRIMARY KEY (target, file_name));
CREATE TABLE IF NOT EXISTS rejects (target VARCHAR NOT NULL, file_name VARCHAR NOT NULL,
  line BIGINT, reason VARCHAR NOT NULL, raw VARCHAR);
";

/// Files read ahead of the one being inserted.
pub const READ_AHEAD: usize = 2;

/// Rows handed from the reader thread to the feed at a time.
const CHUNK_ROWS: usize = 8192;

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

pub fn ensure_schema(conn: &Connection) -> Result<()> {
    conn.db.note_write();
    conn.conn.execute_batch(SCHEMA)?;
    Ok(())
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOutcome {
    pub name: String,
    /// "loaded" or "skipped" (already in `upload_log` with the same size and checksum).
    pub status: &'static str,
    pub rows: u64,
    pub rejected: u64,
    /// Size and CRC-32 of the file's contents.
    pub bytes: u64,
    pub crc32: u32,
}

/// A checked row, or why it was rejected and its text.
pub(crate) struct Item<R> {
    pub line: u64,
    pub outcome: std::result::Result<R, (String, String)>,
}

pub(crate) enum Message<R> {
    Rows(Vec<Item<R>>),
    Failed(StoreError),
}

/// A row kind and how rows of it are read from a file in `format`, if they can be.
trait Loadable: FeedRow {
    fn reader(format: Format) -> Option<ReaderFn<Self>>;
}

impl Loadable for TrainRow {
    fn reader(format: Format) -> Option<ReaderFn<Self>> {
        Some(match format {
            Format::Csv => train_csv_reader,
            Format::Ndjson => train_ndjson_reader,
        })
    }
}

impl Loadable for TestRow {
    fn reader(format: Format) -> Option<ReaderFn<Self>> {
        (format == Format::Csv).then_some(test_csv_reader as ReaderFn<Self>)
    }
}

/// What a sequence of [`load_file`] calls on one connection learns once instead of per file
/// (each DuckDB statement costs about a millisecond, which adds up over hundreds of small files),
/// and the transaction they share.
pub struct LoadSession {
    /// `upload_log` of the target: file name to (rows, rejected, bytes, crc32).
    logged: Option<(Target, HashMap<String, (i64, i64, i64, i64)>)>,
    /// The next file's first id, when the previous file was loaded in this session.
    next_id: Option<(Target, i64)>,
    /// The files the next `load_file` calls will load (see [`LoadSession::read_ahead`]).
    upcoming: Vec<SourceFile>,
    /// Readers of upcoming files, started while earlier files were being inserted, in order.
    started: VecDeque<ReadAhead>,
    /// Files loaded in the open transaction and their rows, not committed yet.
    open: Option<OpenTransaction>,
    /// Rows after which the open transaction is committed.
    transaction_rows: u64,
    /// The workers that check rows (see `checker_pool`).
    pool: Option<Arc<rayon::ThreadPool>>,
    /// Words expected in this load (see [`LoadSession::expect_words`]).
    expected_words: Vec<String>,
    /// The label_int rows are appended with: each word's rank among the words in `labels` and
    /// the expected words, made on the first training file.
    label_guess: Option<Arc<HashMap<String, i32>>>,
}

/// Files are committed together until they hold this many rows: DuckDB writes a transaction's
/// row groups (122,880 rows each) straight to the database file, while a small commit goes to
/// the write-ahead log and is compressed once more at the next checkpoint. Commits of a few row
/// groups left partly filled ones behind: 2M rows took 315 MB at 122,880 rows per commit and
/// 169 MB at a million.
pub const TRANSACTION_ROWS: u64 = 1_000_000;

impl Default for LoadSession {
    fn default() -> Self {
        LoadSession {
            logged: None,
            next_id: None,
            upcoming: Vec::new(),
            started: VecDeque::new(),
            open: None,
            transaction_rows: TRANSACTION_ROWS,
            pool: None,
            expected_words: Vec::new(),
            label_guess: None,
        }
    }
}

struct OpenTransaction {
    rows: u64,
    /// The files' `upload_log` rows, written just before COMMIT (one statement per file cost
    /// 3.5 ms, 1.2 s of a 340-file load).
    log: Vec<LogEntry>,
}

struct LogEntry {
    target: Target,
    outcome: FileOutcome,
    display: String,
    first_id: Option<i64>,
    /// Microseconds since the epoch.
    loaded_at: i64,
}

fn write_log(conn: &Connection, log: &[LogEntry]) -> Result<()> {
    let mut appender = conn.conn.appender("upload_log")?;
    for entry in log {
        let outcome = &entry.outcome;
        let loaded_at = ToSqlOutput::Borrowed(ValueRef::Timestamp(TimeUnit::Microsecond, entry.loaded_at));
        appender.append_row(params![
            entry.target.table(),
            outcome.name,
            entry.display,
            outcome.rows as i64,
            outcome.rejected as i64,
            outcome.bytes as i64,
            i64::from(outcome.crc32),
            entry.first_id,
            loaded_at
        ])?;
    }
    appender.flush()?;
    Ok(())
}

impl LoadSession {
    /// Names the files the next [`load_file`] calls will load (up to [`READ_AHEAD`]): they are
    /// read and checked while the current file's rows are inserted, so parsing overlaps DuckDB's
    /// work. Empty when the current file is the last: its transaction is then committed.
    pub fn read_ahead(&mut self, upcoming: Vec<SourceFile>) {
        self.upcoming = upcoming;
    }

    /// Commits after this many rows (at least one file per transaction, whatever its size).
    pub fn set_transaction_rows(&mut self, rows: u64) {
        self.transaction_rows = rows;
    }

    /// Words the files are expected to hold (the Kaggle files are named after their word). Rows
    /// are appended with label_int as if these were all the new words; when that guess is right
    /// [`finalize`] writes no row, instead of rewriting label_int in every row. A wrong guess
    /// costs only time: [`finalize`] corrects every row whose label_int is not its word's rank.
    pub fn expect_words(&mut self, words: Vec<String>) {
        self.expected_words = words;
        self.label_guess = None;
    }
}

/// A reader started ahead of its file's `load_file` call; `reader` holds a [`Started`].
struct ReadAhead {
    display: String,
    target: Target,
    reader: Box<dyn std::any::Any + Send>,
}

/// A reader thread's channel of checked rows, and its result: the file's size and CRC-32.
type Started<R> = (Receiver<Message<R>>, std::thread::JoinHandle<Result<(u64, u32)>>);

/// Loads one file unless `upload_log` has it already; `skip_bad_rows` sends bad rows to
/// `rejects` instead of failing. `threads` check rows in parallel.
///
/// A file's rows, rejects and `upload_log` entry are written in the session's open transaction,
/// which is committed once it holds [`LoadSession::set_transaction_rows`] rows, after the last
/// file, or by [`finish`]: a load killed at any moment loses only uncommitted whole files. When
/// a file is refused (a bad row, a damaged or changed file), its rows are deleted and the files
/// before it are committed; after a database error the open transaction is rolled back.
pub fn load_file(
    conn: &Connection,
    source: &SourceFile,
    target: Target,
    skip_bad_rows: bool,
    threads: usize,
    session: &mut LoadSession,
) -> Result<FileOutcome> {
    let is_last = session.upcoming.is_empty();
    let mut first_id = None;
    let loaded = load_in_transaction(conn, source, target, skip_bad_rows, threads, session, &mut first_id);
    match loaded {
        Ok(outcome) => {
            if is_last || session.open.as_ref().is_some_and(|open| open.rows >= session.transaction_rows) {
                finish(conn, session)?;
            }
            Ok(outcome)
        }
        Err(err) => {
            // A refused file (bad row, damaged or changed file) loses its rows and the files
            // before it are committed; after a database error nothing of the transaction is kept.
            let refused_file = !matches!(err.kind, "db" | "internal");
            let kept = refused_file && delete_from(conn, target, first_id).and_then(|()| finish(conn, session)).is_ok();
            if !kept {
                rollback(conn, session);
            }
            Err(err)
        }
    }
}

/// Deletes the rows of the open transaction from id `first` on (a refused file's).
fn delete_from(conn: &Connection, target: Target, first: Option<i64>) -> Result<()> {
    if let Some(first) = first {
        conn.conn.execute(&format!("DELETE FROM {} WHERE id >= ?", target.table()), [first])?;
    }
    Ok(())
}

/// Commits the session's open transaction, if any.
pub fn finish(conn: &Connection, session: &mut LoadSession) -> Result<()> {
    let Some(open) = &session.open else {
        return Ok(());
    };
    let committed = write_log(conn, &open.log).and_then(|()| Ok(conn.conn.execute_batch("COMMIT")?));
    match committed {
        Ok(()) => {
            session.open = None;
            Ok(())
        }
        Err(err) => {
            rollback(conn, session);
            Err(err)
        }
    }
}

/// Rolls back the open transaction and forgets what the session learnt of its files.
fn rollback(conn: &Connection, session: &mut LoadSession) {
    if let Some(open) = session.open.take() {
        let _ = conn.conn.execute_batch("ROLLBACK");
        if let Some((_, logged)) = session.logged.as_mut() {
            for entry in &open.log {
                logged.remove(&entry.outcome.name);
            }
        }
        session.next_id = None;
    }
}

fn load_in_transaction(
    conn: &Connection,
    source: &SourceFile,
    target: Target,
    skip_bad_rows: bool,
    threads: usize,
    session: &mut LoadSession,
    first_id_used: &mut Option<i64>,
) -> Result<FileOutcome> {
    if let Some(outcome) = already_loaded(conn, source, target, session)? {
        return Ok(outcome);
    }
    conn.db.note_write();
    let first_id = match session.next_id.take() {
        Some((known, id)) if known == target => id,
        _ => next_id(conn, target)?,
    };
    if session.open.is_none() {
        conn.conn.execute_batch("BEGIN TRANSACTION")?;
        session.open = Some(OpenTransaction { rows: 0, log: Vec::new() });
    }
    *first_id_used = Some(first_id);
    let (skip, id) = (skip_bad_rows, first_id);
    let outcome = match (target, source.format) {
        (Target::Train, Format::Csv) => load_rows(conn, source, target, skip, threads, id, session, train_csv_reader),
        (Target::Train, Format::Ndjson) => {
            load_rows(conn, source, target, skip, threads, id, session, train_ndjson_reader)
        }
        (Target::Test, Format::Csv) => load_rows(conn, source, target, skip, threads, id, session, test_csv_reader),
        (Target::Test, Format::Ndjson) => Err(StoreError::input(
            "argument",
            &source.display,
            None,
            "the test set is a CSV file (key_id,countrycode,drawing)",
        )),
    }?;
    session.next_id = Some((target, first_id + outcome.rows as i64));
    if let Some((_, logged)) = session.logged.as_mut() {
        let entry = (outcome.rows as i64, outcome.rejected as i64, outcome.bytes as i64, i64::from(outcome.crc32));
        logged.insert(outcome.name.clone(), entry);
    }
    if let Some(open) = session.open.as_mut() {
        open.rows += outcome.rows;
        let loaded_at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_micros() as i64);
        let first_id = (outcome.rows > 0).then_some(first_id);
        open.log.push(LogEntry {
            target,
            outcome: outcome.clone(),
            display: source.display.clone(),
            first_id,
            loaded_at,
        });
    }
    Ok(outcome)
}

fn already_loaded(
    conn: &Connection,
    source: &SourceFile,
    target: Target,
    session: &mut LoadSession,
) -> Result<Option<FileOutcome>> {
    if !matches!(&session.logged, Some((known, _)) if *known == target) {
        let mut stmt =
            conn.conn.prepare("SELECT file_name, rows, rejected, bytes, crc32 FROM upload_log WHERE target = ?")?;
        let mut rows = stmt.query([target.table()])?;
        let mut logged = HashMap::new();
        while let Some(row) = rows.next()? {
            logged.insert(row.get::<_, String>(0)?, (row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?));
        }
        session.logged = Some((target, logged));
    }
    let entry = session.logged.as_ref().and_then(|(_, logged)| logged.get(&source.name)).copied();
    let Some((count, rejected, bytes, crc)) = entry else {
        return Ok(None);
    };
    let (now_bytes, now_crc) = source::checksum(source)?;
    if now_bytes as i64 != bytes || i64::from(now_crc) != crc {
        return Err(StoreError::input(
            "changed_file",
            &source.display,
            None,
            format!(
                "a file named '{}' was loaded before with different contents ({bytes} bytes, CRC-32 {crc:08x}; \
                 now {now_bytes} bytes, CRC-32 {now_crc:08x}); it is not loaded twice. Rename it, or delete \
                 its rows and its upload_log entry to replace it",
                source.name
            ),
        ));
    }
    Ok(Some(FileOutcome {
        name: source.name.clone(),
        status: "skipped",
        rows: count as u64,
        rejected: rejected as u64,
        bytes: now_bytes,
        crc32: now_crc,
    }))
}

type ReaderFn<R> = fn(&mut dyn Read, &SourceFile, &rayon::ThreadPool, &SyncSender<Message<R>>) -> Result<()>;

fn load_rows<R: Loadable>(
    conn: &Connection,
    source: &SourceFile,
    target: Target,
    skip_bad_rows: bool,
    threads: usize,
    first_id: i64,
    session: &mut LoadSession,
    read: ReaderFn<R>,
) -> Result<FileOutcome> {
    let table = target.table();
    // Readers started for files before this one (skipped since) are dropped, which stops them.
    let position = session.started.iter().position(|ahead| ahead.display == source.display && ahead.target == target);
    let ahead = position.and_then(|i| session.started.drain(..=i).last());
    let (receiver, reader) = match ahead.map(|ahead| ahead.reader.downcast::<Started<R>>()) {
        Some(Ok(started)) => *started,
        _ => start_reader(source.clone(), checker_pool(session, threads)?, read)?,
    };
    // The next files are read while this one is inserted.
    start_next_readers::<R>(session, target, threads)?;
    if target == Target::Train && session.label_guess.is_none() {
        session.label_guess = Some(Arc::new(guess_labels(conn, &session.expected_words)?));
    }
    let labels = session.label_guess.clone().filter(|_| target == Target::Train).unwrap_or_default();
    let appended = insert_all(conn, source, table, skip_bad_rows, first_id, labels, threads, receiver);
    let read_result = reader
        .join()
        .map_err(|_| StoreError::input("internal", &source.display, None, "the reader thread panicked"))?;
    let (rows, rejects) = appended?;
    let (bytes, crc) = read_result?;
    record_rejects(conn, source, target, &rejects)?;
    Ok(FileOutcome {
        name: source.name.clone(),
        status: "loaded",
        rows,
        rejected: rejects.len() as u64,
        bytes,
        crc32: crc,
    })
}

/// Each word's 0-based rank among the words of `labels` (from earlier loads) and `expected`:
/// the label_int [`finalize`] will give if no other word turns up.
fn guess_labels(conn: &Connection, expected: &[String]) -> Result<HashMap<String, i32>> {
    let mut words: Vec<String> = expected.to_vec();
    let has_labels: bool = conn.conn.query_row(
        "SELECT count(*) > 0 FROM duckdb_tables() WHERE table_name = 'labels' AND schema_name = current_schema()",
        [],
        |r| r.get(0),
    )?;
    if has_labels {
        let mut stmt = conn.conn.prepare("SELECT word FROM labels")?;
        let known = stmt.query_map([], |r| r.get::<_, String>(0))?;
        for word in known {
            words.push(word?);
        }
    }
    // Byte order, as DuckDB's ORDER BY word in finalize.
    words.sort_unstable();
    words.dedup();
    Ok(words.into_iter().enumerate().map(|(rank, word)| (word, rank as i32)).collect())
}

/// Starts reading the session's upcoming files, unless started already or in `upload_log` (they
/// are then skipped or refused without being read). Dropping an unused reader's channel stops it.
fn start_next_readers<R: Loadable>(session: &mut LoadSession, target: Target, threads: usize) -> Result<()> {
    for next in std::mem::take(&mut session.upcoming) {
        let started = session.started.iter().any(|ahead| ahead.display == next.display && ahead.target == target);
        let logged =
            session.logged.as_ref().is_some_and(|(known, logged)| *known == target && logged.contains_key(&next.name));
        let Some(read) = R::reader(next.format).filter(|_| !logged && !started) else {
            continue;
        };
        let display = next.display.clone();
        let reader: Box<dyn std::any::Any + Send> =
            Box::new(start_reader(next, checker_pool(session, threads)?, read)?);
        session.started.push_back(ReadAhead { display, target, reader });
    }
    Ok(())
}

/// The session's `threads` workers that check rows, started once for all its files (their
/// per-thread parse buffers are kept from file to file).
fn checker_pool(session: &mut LoadSession, threads: usize) -> Result<Arc<rayon::ThreadPool>> {
    let threads = threads.max(1);
    match &session.pool {
        Some(pool) if pool.current_num_threads() == threads => Ok(Arc::clone(pool)),
        _ => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("doodles-check-{i}"))
                .build()
                .map_err(|e| StoreError::new("internal", format!("cannot start worker threads: {e}")))?;
            let pool = Arc::new(pool);
            session.pool = Some(Arc::clone(&pool));
            Ok(pool)
        }
    }
}

/// Reads `source` on a new thread; `pool` checks its rows.
fn start_reader<R: Send + 'static>(
    source: SourceFile,
    pool: Arc<rayon::ThreadPool>,
    read: ReaderFn<R>,
) -> Result<Started<R>> {
    let (sender, receiver) = sync_channel::<Message<R>>(2);
    let reader = std::thread::Builder::new()
        .name("doodles-reader".to_string())
        .spawn(move || {
            let read_all = source::with_reader(&source, |input| read(input, &source, &pool, &sender));
            if let Err(err) = &read_all {
                // The feed stops at this message; a closed channel means it stopped already.
                let _ = sender.send(Message::Failed(err.clone()));
            }
            read_all.map(|(_, bytes, crc)| (bytes, crc))
        })
        .map_err(|e| StoreError::new("internal", format!("cannot start a reader thread: {e}")))?;
    Ok((receiver, reader))
}

/// The first id for the next file: after the last file in `upload_log`, which needs no scan of
/// the table, unless rows were added some other way (then after the largest id).
fn next_id(conn: &Connection, target: Target) -> Result<i64> {
    let table = target.table();
    let logged: i64 = conn.conn.query_row(
        "SELECT coalesce(max(first_id + rows), 1) FROM upload_log WHERE target = ? AND first_id IS NOT NULL",
        [table],
        |r| r.get(0),
    )?;
    let beyond: i64 =
        conn.conn.query_row(&format!("SELECT count(*) FROM {table} WHERE id >= ?"), [logged], |r| r.get(0))?;
    if beyond == 0 {
        return Ok(logged);
    }
    Ok(conn.conn.query_row(&format!("SELECT coalesce(max(id), 0) + 1 FROM {table}"), [], |r| r.get(0))?)
}

pub(crate) type Reject = (u64, String, String);

/// Inserts the reader's rows with one `INSERT ... SELECT` from the feed table function.
fn insert_all<R: Loadable>(
    conn: &Connection,
    source: &SourceFile,
    table: &str,
    skip_bad_rows: bool,
    first_id: i64,
    labels: Arc<HashMap<String, i32>>,
    threads: usize,
    receiver: Receiver<Message<R>>,
) -> Result<(u64, Vec<Reject>)> {
    let feed = Arc::new(Feed::new(receiver, &source.display, first_id, skip_bad_rows, labels, threads));
    let published = feed::publish(Arc::clone(&feed));
    let columns: Vec<&str> = R::COLUMNS.iter().map(|(name, _)| *name).collect();
    let sql = format!("INSERT INTO {table} ({0}) SELECT {0} FROM {1}(?)", columns.join(", "), R::FUNCTION);
    let inserted = conn.conn.execute(&sql, [published.key as i64]);
    drop(published);
    inserted?;
    feed.finish()
}

fn record_rejects(conn: &Connection, source: &SourceFile, target: Target, rejects: &[Reject]) -> Result<()> {
    if rejects.is_empty() {
        return Ok(());
    }
    let mut appender = conn.conn.appender("rejects")?;
    for (line, reason, raw) in rejects {
        let values: [&dyn ToSql; 5] = [&target.table(), &source.name, &(*line as i64), reason, raw];
        appender.append_row(values)?;
    }
    appender.flush()?;
    Ok(())
}

fn read_error(source: &SourceFile, line: Option<u64>, err: impl std::fmt::Display) -> StoreError {
    StoreError::input("zip", &source.display, line, format!("cannot read the file (truncated or corrupt?): {err}"))
}

/// Reads CSV records in chunks, checks each chunk's rows in parallel, and sends them on.
fn csv_reader<R: Send + 'static>(
    input: &mut dyn Read,
    source: &SourceFile,
    pool: &rayon::ThreadPool,
    sender: &SyncSender<Message<R>>,
    header: &[&str],
    check: fn(&ByteRecord) -> std::result::Result<R, String>,
) -> Result<()> {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).buffer_capacity(1 << 20).from_reader(input);
    let mut record = ByteRecord::new();
    match reader.read_byte_record(&mut record) {
        Ok(true) => {
            parse::check_header(&record, header).map_err(|e| StoreError::input("input", &source.display, Some(1), e))?
        }
        Ok(false) => return Err(StoreError::input("input", &source.display, Some(1), "empty file: no header")),
        Err(e) => return Err(read_error(source, Some(1), e)),
    }
    // Records are read into the same buffers chunk after chunk (made as needed: most files
    // hold less than a chunk).
    let mut records: Vec<ByteRecord> = Vec::new();
    loop {
        let mut filled = 0;
        while filled < CHUNK_ROWS {
            if filled == records.len() {
                records.push(ByteRecord::new());
            }
            match reader.read_byte_record(&mut records[filled]) {
                Ok(true) => filled += 1,
                Ok(false) => break,
                Err(e) => return Err(read_error(source, None, e)),
            }
        }
        if filled == 0 {
            return Ok(());
        }
        let sent = check_and_send(pool, sender, &records[..filled], |record| Item {
            line: record.position().map_or(0, |p| p.line()),
            outcome: check(record).map_err(|reason| (reason, raw_csv(record))),
        });
        if !sent {
            return Ok(());
        }
    }
}

/// Checks a chunk's rows on the pool (kept in order) and sends them on; false once the receiving
/// side has stopped.
fn check_and_send<T: Sync, R: Send>(
    pool: &rayon::ThreadPool,
    sender: &SyncSender<Message<R>>,
    rows: &[T],
    check: impl Fn(&T) -> Item<R> + Sync + Send,
) -> bool {
    let items: Vec<Item<R>> = pool.install(|| rows.par_iter().map(check).collect());
    sender.send(Message::Rows(items)).is_ok()
}

fn raw_csv(record: &ByteRecord) -> String {
    record.iter().map(String::from_utf8_lossy).collect::<Vec<_>>().join(",")
}

fn train_csv_reader(
    input: &mut dyn Read,
    source: &SourceFile,
    pool: &rayon::ThreadPool,
    sender: &SyncSender<Message<TrainRow>>,
) -> Result<()> {
    csv_reader(input, source, pool, sender, &parse::TRAIN_HEADER, parse::train_csv)
}

fn test_csv_reader(
    input: &mut dyn Read,
    source: &SourceFile,
    pool: &rayon::ThreadPool,
    sender: &SyncSender<Message<TestRow>>,
) -> Result<()> {
    csv_reader(input, source, pool, sender, &parse::TEST_HEADER, parse::test_csv)
}

fn train_ndjson_reader(
    input: &mut dyn Read,
    source: &SourceFile,
    pool: &rayon::ThreadPool,
    sender: &SyncSender<Message<TrainRow>>,
) -> Result<()> {
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let mut line_number = 0u64;
    loop {
        let mut lines = Vec::with_capacity(CHUNK_ROWS);
        while lines.len() < CHUNK_ROWS {
            let mut line = Vec::new();
            let n = reader.read_until(b'\n', &mut line).map_err(|e| read_error(source, Some(line_number + 1), e))?;
            if n == 0 {
                break;
            }
            line_number += 1;
            while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                line.pop();
            }
            if !line.is_empty() {
                lines.push((line_number, line));
            }
        }
        if lines.is_empty() {
            return Ok(());
        }
        let sent = check_and_send(pool, sender, &lines, |(number, line)| Item {
            line: *number,
            outcome: parse::train_ndjson(line).map_err(|reason| (reason, String::from_utf8_lossy(line).into_owned())),
        });
        if !sent {
            return Ok(());
        }
    }
}

/// After loading: `labels` (label_int = 0-based rank of word in byte order, the order of R's
/// `sort(method = "radix")`) and `doodles.label_int` to match; ids are renumbered 1..N (keeping
/// their order) only if they are not dense already. Idempotent.
pub fn finalize(conn: &Connection) -> Result<()> {
    ensure_schema(conn)?;
    conn.conn.execute_batch("BEGIN TRANSACTION")?;
    let done = (|| -> Result<()> {
        conn.conn.execute_batch(
            "CREATE OR REPLACE TABLE labels AS
               SELECT (row_number() OVER (ORDER BY word) - 1)::INTEGER AS label_int, word
               FROM (SELECT DISTINCT word FROM doodles) ORDER BY label_int;
             UPDATE doodles SET label_int = labels.label_int FROM labels
               WHERE doodles.word = labels.word AND doodles.label_int IS DISTINCT FROM labels.label_int;",
        )?;
        let (rows, with_id, max_id): (i64, i64, i64) =
            conn.conn.query_row("SELECT count(*), count(id), coalesce(max(id), 0) FROM doodles", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        if rows != with_id || rows != max_id {
            conn.conn.execute_batch(
                "UPDATE doodles SET id = numbered.new_id FROM (
                   SELECT rowid AS row_key, row_number() OVER (ORDER BY id NULLS LAST, rowid)::INTEGER AS new_id
                   FROM doodles) AS numbered
                 WHERE doodles.rowid = numbered.row_key",
            )?;
        }
        Ok(())
    })();
    match done {
        Ok(()) => {
            conn.conn.execute_batch("COMMIT")?;
            Ok(())
        }
        Err(err) => {
            let _ = conn.conn.execute_batch("ROLLBACK");
            Err(err)
        }
    }
}
