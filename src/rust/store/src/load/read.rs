//! Reading a source file on a thread of its own: CSV records or ndjson lines in chunks, each
//! chunk's rows checked in parallel on the loader's pool and sent, in order, to the feed.
use super::Target;
use crate::error::{ErrorKind, Result, StoreError};
use crate::feed::{FeedRow, Item, Message};
use crate::parse::{self, TestRow, TrainRow};
use crate::source::{self, Format, SourceFile};
use csv::ByteRecord;
use rayon::prelude::*;
use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Rows handed from the reader thread to the feed at a time.
const CHUNK_ROWS: usize = 8192;

type ReaderFn<R> = fn(&mut dyn Read, &SourceFile, &rayon::ThreadPool, &SyncSender<Message<R>>) -> Result<()>;

/// The size and CRC-32 of a file's contents, as read.
#[derive(Debug, Clone, Copy)]
pub(super) struct Checksum {
    pub bytes: u64,
    pub crc32: u32,
}

/// A reader thread: its channel of checked rows, and its result.
pub(super) struct RowReader<R> {
    pub rows: Receiver<Message<R>>,
    pub thread: JoinHandle<Result<Checksum>>,
}

/// A reader of either row kind (a loader's readers are all of its target's kind).
pub(super) enum Reader {
    Train(RowReader<TrainRow>),
    Test(RowReader<TestRow>),
}

/// A row kind and how rows of it are read from a file in `format`, if they can be.
pub(super) trait Loadable: FeedRow {
    fn reader(format: Format) -> Option<ReaderFn<Self>>;
    fn wrap(reader: RowReader<Self>) -> Reader;
    fn unwrap(reader: Reader) -> Option<RowReader<Self>>;
}

impl Loadable for TrainRow {
    fn reader(format: Format) -> Option<ReaderFn<Self>> {
        Some(match format {
            Format::Csv => train_csv_reader,
            Format::Ndjson => train_ndjson_reader,
        })
    }

    fn wrap(reader: RowReader<Self>) -> Reader {
        Reader::Train(reader)
    }

    fn unwrap(reader: Reader) -> Option<RowReader<Self>> {
        match reader {
            Reader::Train(reader) => Some(reader),
            Reader::Test(_) => None,
        }
    }
}

impl Loadable for TestRow {
    fn reader(format: Format) -> Option<ReaderFn<Self>> {
        (format == Format::Csv).then_some(test_csv_reader as ReaderFn<Self>)
    }

    fn wrap(reader: RowReader<Self>) -> Reader {
        Reader::Test(reader)
    }

    fn unwrap(reader: Reader) -> Option<RowReader<Self>> {
        match reader {
            Reader::Test(reader) => Some(reader),
            Reader::Train(_) => None,
        }
    }
}

/// Reads `source` on a new thread; `pool` checks its rows. `None` when rows of kind `R` cannot be
/// read from a file of its format.
pub(super) fn start<R: Loadable>(source: SourceFile, pool: Arc<rayon::ThreadPool>) -> Result<Option<RowReader<R>>> {
    let Some(read) = R::reader(source.format) else {
        return Ok(None);
    };
    let (sender, rows) = sync_channel::<Message<R>>(2);
    let thread = std::thread::Builder::new()
        .name("doodles-reader".to_string())
        .spawn(move || {
            let read_all = source::with_reader(&source, |input| read(input, &source, &pool, &sender));
            if let Err(err) = &read_all {
                // The feed stops at this message; a closed channel means it stopped already.
                let _ = sender.send(Message::Failed(err.clone()));
            }
            read_all.map(|(_, bytes, crc32)| Checksum { bytes, crc32 })
        })
        .map_err(|e| StoreError::new(ErrorKind::Internal, format!("cannot start a reader thread: {e}")))?;
    Ok(Some(RowReader { rows, thread }))
}

/// `threads` workers that check rows, started once for all the files of a load (their
/// per-thread parse buffers are kept from file to file).
#[doc(hidden)]
pub fn checker_pool(threads: usize) -> Result<Arc<rayon::ThreadPool>> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("doodles-check-{i}"))
        .build()
        .map_err(|e| StoreError::new(ErrorKind::Internal, format!("cannot start worker threads: {e}")))?;
    Ok(Arc::new(pool))
}

fn read_error(source: &SourceFile, line: Option<u64>, err: impl std::fmt::Display) -> StoreError {
    StoreError::input(
        ErrorKind::Zip,
        &source.display,
        line,
        format!("cannot read the file (truncated or corrupt?): {err}"),
    )
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
        Ok(true) => parse::check_header(&record, header)
            .map_err(|e| StoreError::input(ErrorKind::Input, &source.display, Some(1), e))?,
        Ok(false) => {
            return Err(StoreError::input(ErrorKind::Input, &source.display, Some(1), "empty file: no header"))
        }
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

/// A row's 1-based line, and its drawing or why it was rejected.
#[doc(hidden)]
pub type RowOutcome = (u64, std::result::Result<String, String>);

/// Reads `input`, the contents of `source`, as a load into `target` does (the same reader, rows
/// checked on `pool`) but on this thread and without a database: for the fuzzer. `None` when
/// such a file cannot be loaded into `target`.
#[doc(hidden)]
pub fn read_rows(
    input: &mut dyn Read,
    source: &SourceFile,
    target: Target,
    pool: &rayon::ThreadPool,
) -> Option<Result<Vec<RowOutcome>>> {
    match target {
        Target::Train => collect_rows(input, source, pool, |row: TrainRow| row.drawing),
        Target::Test => collect_rows(input, source, pool, |row: TestRow| row.drawing),
    }
}

fn collect_rows<R: Loadable>(
    input: &mut dyn Read,
    source: &SourceFile,
    pool: &rayon::ThreadPool,
    drawing: fn(R) -> String,
) -> Option<Result<Vec<RowOutcome>>> {
    let read = R::reader(source.format)?;
    let (sender, receiver) = sync_channel::<Message<R>>(2);
    // The channel is bounded as in a load, so it is drained on a thread of its own.
    Some(std::thread::scope(|scope| {
        let drain = scope.spawn(move || receiver.into_iter().collect::<Vec<_>>());
        let result = read(input, source, pool, &sender);
        drop(sender);
        let messages = drain.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        result?;
        let mut rows = Vec::new();
        for message in messages {
            match message {
                Message::Rows(items) => rows.extend(
                    items.into_iter().map(|item| (item.line, item.outcome.map(drawing).map_err(|(reason, _)| reason))),
                ),
                Message::Failed(err) => return Err(err),
            }
        }
        Ok(rows)
    }))
}
