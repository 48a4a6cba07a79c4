//! A file's checked rows as a DuckDB table function, so that `INSERT INTO doodles SELECT * FROM
//! doodles_feed_train(key)` stores them with DuckDB's parallel insert: its threads fill vectors
//! and compress row groups side by side, where an Appender did all of that on one thread.
//!
//! The reader thread's chunks are taken in order under one lock (ids are given there, bad rows
//! set aside); filling DuckDB's vectors happens outside it. A bad row or a reader failure ends
//! the feed early without failing the statement (a failed statement would abort the whole open
//! transaction, with the files before this one); the loader reads [`Feed::finish`] afterwards.
use crate::db::Database;
use crate::error::{ErrorKind, StoreError};
use crate::parse::{TestRow, TrainRow};
use duckdb::core::{DataChunkHandle, FlatVector, LogicalTypeId};
use duckdb::vtab::{BindInfo, InitInfo, TableFunctionInfo, VTab};
use std::collections::{HashMap, VecDeque};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, OnceLock};

/// A checked row, or why it was rejected and its text.
pub(crate) struct Item<R> {
    pub line: u64,
    pub outcome: std::result::Result<R, (String, String)>,
}

/// What a reader thread sends: checked rows, or why it stopped.
pub(crate) enum Message<R> {
    Rows(Vec<Item<R>>),
    Failed(StoreError),
}

/// A rejected row: its 1-based line, the reason and its text.
pub(crate) struct Reject {
    pub line: u64,
    pub reason: String,
    pub raw: String,
}

/// A row kind the feed can hand to DuckDB: its table function and columns, in table order.
pub(crate) trait FeedRow: Sized + Send + 'static {
    const FUNCTION: &'static str;
    const COLUMNS: &'static [(&'static str, LogicalTypeId)];
    /// The feeds of this row kind being inserted.
    fn feeds() -> &'static Feeds<Self>;
    fn fill(rows: &[(i32, Self)], labels: &HashMap<String, i32>, output: &mut DataChunkHandle);
}

/// Text from Rust strings, which are valid UTF-8 already: DuckDB's checked assignment validated
/// every byte again on the inserting thread (4% of a load's time).
fn fill_text<'a>(output: &DataChunkHandle, column: usize, values: impl Iterator<Item = Option<&'a str>>) {
    let mut nulls = Vec::new();
    // SAFETY: the chunk and its vectors live while `output` does; `column` is one of COLUMNS'
    // VARCHAR columns and the feed never hands out more rows than the chunk's capacity.
    let vector = unsafe { duckdb::ffi::duckdb_data_chunk_get_vector(output.get_ptr(), column as u64) };
    for (row, value) in values.enumerate() {
        match value {
            // SAFETY: `text` is a &str, so valid UTF-8; DuckDB copies it before returning.
            Some(text) => unsafe {
                duckdb::ffi::duckdb_unsafe_vector_assign_string_element_len(
                    vector,
                    row as u64,
                    text.as_ptr().cast(),
                    text.len() as u64,
                )
            },
            None => nulls.push(row),
        }
    }
    if !nulls.is_empty() {
        let mut vector = output.flat_vector(column);
        for row in nulls {
            vector.set_null(row);
        }
    }
}

fn fill_values<T: Copy>(output: &DataChunkHandle, column: usize, values: impl ExactSizeIterator<Item = T>) {
    let mut vector = output.flat_vector(column);
    // SAFETY: T is the physical type of the column's logical type (see COLUMNS), and the chunk
    // holds at least `values.len()` rows (the feed never hands out more than its capacity).
    let slots = unsafe { vector.as_mut_slice_with_len::<T>(values.len()) };
    for (slot, value) in slots.iter_mut().zip(values) {
        *slot = value;
    }
}

fn fill_nullable_ints(output: &DataChunkHandle, column: usize, values: impl ExactSizeIterator<Item = Option<i32>>) {
    let mut vector: FlatVector<'_> = output.flat_vector(column);
    let n = values.len();
    let mut nulls = Vec::new();
    {
        // SAFETY: INTEGER columns hold i32; the chunk holds at least n rows.
        let slots = unsafe { vector.as_mut_slice_with_len::<i32>(n) };
        for (row, (slot, value)) in slots.iter_mut().zip(values).enumerate() {
            match value {
                Some(v) => *slot = v,
                None => nulls.push(row),
            }
        }
    }
    for row in nulls {
        vector.set_null(row);
    }
}

impl FeedRow for TrainRow {
    const FUNCTION: &'static str = "doodles_feed_train";

    fn feeds() -> &'static Feeds<Self> {
        static FEEDS: OnceLock<Feeds<TrainRow>> = OnceLock::new();
        FEEDS.get_or_init(Feeds::default)
    }

    const COLUMNS: &'static [(&'static str, LogicalTypeId)] = &[
        ("countrycode", LogicalTypeId::Varchar),
        ("drawing", LogicalTypeId::Varchar),
        ("key_id", LogicalTypeId::Bigint),
        ("recognized", LogicalTypeId::Boolean),
        ("timestamp", LogicalTypeId::Timestamp),
        ("word", LogicalTypeId::Varchar),
        ("label_int", LogicalTypeId::Integer),
        ("id", LogicalTypeId::Integer),
    ];

    fn fill(rows: &[(i32, Self)], labels: &HashMap<String, i32>, output: &mut DataChunkHandle) {
        fill_text(output, 0, rows.iter().map(|(_, r)| r.countrycode.as_deref()));
        fill_text(output, 1, rows.iter().map(|(_, r)| Some(r.drawing.as_str())));
        fill_values(output, 2, rows.iter().map(|(_, r)| r.key_id));
        fill_values(output, 3, rows.iter().map(|(_, r)| r.recognized));
        fill_values(output, 4, rows.iter().map(|(_, r)| r.timestamp));
        fill_text(output, 5, rows.iter().map(|(_, r)| Some(r.word.as_str())));
        fill_nullable_ints(output, 6, rows.iter().map(|(_, r)| labels.get(&r.word).copied()));
        fill_values(output, 7, rows.iter().map(|(id, _)| *id));
    }
}

impl FeedRow for TestRow {
    const FUNCTION: &'static str = "doodles_feed_test";

    fn feeds() -> &'static Feeds<Self> {
        static FEEDS: OnceLock<Feeds<TestRow>> = OnceLock::new();
        FEEDS.get_or_init(Feeds::default)
    }

    const COLUMNS: &'static [(&'static str, LogicalTypeId)] = &[
        ("key_id", LogicalTypeId::Bigint),
        ("countrycode", LogicalTypeId::Varchar),
        ("drawing", LogicalTypeId::Varchar),
        ("id", LogicalTypeId::Integer),
    ];

    fn fill(rows: &[(i32, Self)], _labels: &HashMap<String, i32>, output: &mut DataChunkHandle) {
        fill_values(output, 0, rows.iter().map(|(_, r)| r.key_id));
        fill_text(output, 1, rows.iter().map(|(_, r)| r.countrycode.as_deref()));
        fill_text(output, 2, rows.iter().map(|(_, r)| Some(r.drawing.as_str())));
        fill_values(output, 3, rows.iter().map(|(id, _)| *id));
    }
}

/// One file's rows on their way into DuckDB.
pub(crate) struct Feed<R> {
    state: Mutex<FeedState<R>>,
    labels: Arc<HashMap<String, i32>>,
    threads: usize,
}

struct FeedState<R> {
    receiver: Receiver<Message<R>>,
    pending: VecDeque<(i32, R)>,
    first_id: i64,
    next_id: i64,
    rejects: Vec<Reject>,
    skip_bad_rows: bool,
    display: String,
    /// Why the feed ended early: the first bad row (unless skipped), or the reader's error.
    stopped: Option<StoreError>,
    /// No more messages will come (the reader finished or failed, or a bad row stopped it).
    ended: bool,
}

impl<R: FeedRow> Feed<R> {
    pub(crate) fn new(
        receiver: Receiver<Message<R>>,
        display: &str,
        first_id: i64,
        skip_bad_rows: bool,
        labels: Arc<HashMap<String, i32>>,
        threads: usize,
    ) -> Self {
        Feed {
            state: Mutex::new(FeedState {
                receiver,
                pending: VecDeque::new(),
                first_id,
                next_id: first_id,
                rejects: Vec::new(),
                skip_bad_rows,
                display: display.to_string(),
                stopped: None,
                ended: false,
            }),
            labels,
            threads: threads.max(1),
        }
    }

    /// The next rows to insert, at most `capacity`; empty once the feed has ended.
    fn take(&self, capacity: usize) -> Result<Vec<(i32, R)>, StoreError> {
        let mut state =
            self.state.lock().map_err(|_| StoreError::new(ErrorKind::Internal, "a loader thread panicked"))?;
        while state.pending.len() < capacity && !state.ended {
            match state.receiver.recv() {
                Ok(Message::Rows(items)) => state.accept(items)?,
                Ok(Message::Failed(err)) => {
                    state.stopped = Some(err);
                    state.ended = true;
                }
                Err(_) => state.ended = true,
            }
        }
        let n = capacity.min(state.pending.len());
        Ok(state.pending.drain(..n).collect())
    }

    /// After the insert: the rows inserted and the rejected ones, or why the file is refused. A
    /// reader's error found after a bad row (a damaged zip entry) is the one reported.
    pub(crate) fn finish(&self) -> Result<(u64, Vec<Reject>), StoreError> {
        let mut state =
            self.state.lock().map_err(|_| StoreError::new(ErrorKind::Internal, "a loader thread panicked"))?;
        if !state.ended {
            return Err(StoreError::new(ErrorKind::Internal, "DuckDB stopped reading the rows before their end"));
        }
        while let Ok(message) = state.receiver.recv() {
            if let Message::Failed(err) = message {
                state.stopped = Some(err);
            }
        }
        if let Some(err) = state.stopped.take() {
            return Err(err);
        }
        Ok(((state.next_id - state.first_id) as u64, std::mem::take(&mut state.rejects)))
    }
}

impl<R> FeedState<R> {
    fn accept(&mut self, items: Vec<Item<R>>) -> Result<(), StoreError> {
        for item in items {
            match item.outcome {
                Ok(row) => {
                    let id = i32::try_from(self.next_id).map_err(|_| {
                        StoreError::input(ErrorKind::Input, &self.display, Some(item.line), "more than 2^31 rows")
                    })?;
                    self.pending.push_back((id, row));
                    self.next_id += 1;
                }
                Err((reason, raw)) if self.skip_bad_rows => self.rejects.push(Reject { line: item.line, reason, raw }),
                Err((reason, _)) => {
                    self.stopped = Some(StoreError::input(ErrorKind::Input, &self.display, Some(item.line), reason));
                    self.ended = true;
                    // Rows checked before the bad one stay pending: they are inserted and then
                    // deleted with the file, which keeps this path simple.
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

/// The feeds of one row kind being inserted, by the key their statement passes to the table
/// function.
pub(crate) type Feeds<R> = Mutex<HashMap<u64, Arc<Feed<R>>>>;

/// A feed made reachable from SQL for as long as this lives.
pub(crate) struct Published<R: FeedRow> {
    pub key: u64,
    rows: PhantomData<R>,
}

impl<R: FeedRow> Drop for Published<R> {
    fn drop(&mut self) {
        if let Ok(mut feeds) = R::feeds().lock() {
            feeds.remove(&self.key);
        }
    }
}

pub(crate) fn publish<R: FeedRow>(feed: Arc<Feed<R>>) -> Published<R> {
    static NEXT_KEY: AtomicU64 = AtomicU64::new(1);
    let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
    if let Ok(mut feeds) = R::feeds().lock() {
        feeds.insert(key, feed);
    }
    Published { key, rows: PhantomData }
}

struct FeedFunction<R>(PhantomData<R>);

impl<R: FeedRow> VTab for FeedFunction<R> {
    type BindData = Arc<Feed<R>>;
    type InitData = ();

    fn bind(bind: &BindInfo) -> Result<Self::BindData, Box<dyn std::error::Error>> {
        for (name, kind) in R::COLUMNS {
            bind.add_result_column(name, (*kind).into());
        }
        let key = bind.get_parameter(0).to_int64();
        let feed = R::feeds()
            .lock()
            .map_err(|_| "the feed registry is poisoned")?
            .get(&(key as u64))
            .cloned()
            .ok_or("no such feed: doodles_feed_* is called by the loader only")?;
        Ok(feed)
    }

    fn init(init: &InitInfo) -> Result<Self::InitData, Box<dyn std::error::Error>> {
        // SAFETY: DuckDB hands back the bind data `bind` returned, which lives until the scan ends.
        let feed = unsafe { &*init.get_bind_data::<Arc<Feed<R>>>() };
        init.set_max_threads(feed.threads as u64);
        Ok(())
    }

    fn func(func: &TableFunctionInfo<Self>, output: &mut DataChunkHandle) -> Result<(), Box<dyn std::error::Error>> {
        let feed = func.get_bind_data();
        let capacity = output.flat_vector(0).capacity();
        let rows = feed.take(capacity)?;
        R::fill(&rows, &feed.labels, output);
        output.set_len(rows.len());
        Ok(())
    }

    fn parameters() -> Option<Vec<duckdb::core::LogicalTypeHandle>> {
        Some(vec![LogicalTypeId::Bigint.into()])
    }
}

/// Registers the feed functions with a database (when it is opened).
pub(crate) fn register(db: &Database) -> Result<(), StoreError> {
    db.register_table_function::<FeedFunction<TrainRow>>(TrainRow::FUNCTION)?;
    db.register_table_function::<FeedFunction<TestRow>>(TestRow::FUNCTION)
}
