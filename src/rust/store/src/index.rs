//! The stroke index: a compact, memory-mapped copy of `doodles(id, label_int, drawing)` keyed by
//! the dense id, so that a random batch costs the same at 1M or 50M rows (two array reads per id
//! instead of a scan), and parses no JSON: each drawing is stored as a binary record
//! (`doodles_raster::compact`: a byte per coordinate, or the text itself when bytes cannot hold
//! it exactly).
//!
//! It lives next to the database file (`<dbdir>.strokes`; in memory databases, an unlinked
//! temporary file) and is derived data, rebuilt whenever it does not match the database. How
//! "match" is checked depends on what may have happened since the file was written:
//!
//! - Opened by a new process ([`StrokeIndex::matches_quickly`]): the file's own structure, its
//!   header's CRC-32 and the CRC-32s of a few of its 1 MiB blocks; the row count and largest id;
//!   a hash of the table `upload_log` (which loads made the database); and 32 rows spread over
//!   the ids compared with DuckDB's byte for byte. This costs milliseconds at 50M rows.
//! - After a statement made through this package that may have written ([`StrokeIndex::matches`]):
//!   all of the above plus the XOR of DuckDB's `hash(id, label_int, drawing)` over every row. Such
//!   a statement first marks the file *dirty* on disk ([`StrokeIndex::mark_dirty`]), so that a
//!   process that ends before the check leaves the full check (and every block's CRC) to the
//!   next one; a passed check marks it clean again.
//!
//! A write from outside this package (another DuckDB client) does not mark the file: the quick
//! check sees it only if it changes the row count, the largest id, `upload_log` or a sampled row.
//!
//! File layout (little endian): a header of [`HEADER`] bytes (see the `*_AT` constants), `rows + 1`
//! u64 offsets into the records, `rows` i32 labels, padding to 8 bytes, the records back to back,
//! then one u32 CRC-32 per [`BLOCK`] bytes of everything between the header and the CRCs.
use crate::error::{ErrorKind, Result, StoreError};
use doodles_raster::{Drawing, RecordEncoder};
use duckdb::arrow::array::{Array, AsArray, PrimitiveArray};
use duckdb::arrow::datatypes::{DataType, Int32Type};
use duckdb::arrow::record_batch::RecordBatch;
use memmap2::Mmap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

const MAGIC: &[u8; 8] = b"DOODLIX2";
const HEADER: usize = 128;
/// Where each u64 field of the header is (the magic takes bytes 0..8).
const ROWS_AT: usize = 8;
const MAX_ID_AT: usize = 16;
const HASH_AT: usize = 24;
const LOG_HASH_AT: usize = 32;
const DATA_LEN_AT: usize = 40;
const DATA_AT: usize = 48;
const COMPACT_ROWS_AT: usize = 56;
const CRCS_AT: usize = 64;
/// The CRC-32 of the block CRCs.
const CRCS_CRC_AT: usize = 72;
/// The CRC-32 of the header's other bytes, but the dirty byte.
const HEADER_CRC_AT: usize = 88;
/// One byte, outside the header's CRC: 1 while a write made through this package may not have
/// been checked against the index yet.
const DIRTY_AT: usize = 96;
/// Bytes per block CRC.
const BLOCK: usize = 1 << 20;
/// Blocks whose CRC the quick check verifies, besides the first and the last.
const SAMPLE_BLOCKS: usize = 6;
/// Ids read from DuckDB per query while building.
const BUILD_RANGE: i64 = 262_144;
/// Rows compared byte for byte with DuckDB when an index is checked.
const SAMPLE_ROWS: usize = 32;

/// What the index must agree with: computed by DuckDB from `doodles` (and `upload_log`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub rows: u64,
    pub max_id: u64,
    /// XOR of `hash(id, label_int, drawing)` over all rows: reads the whole table.
    pub hash: u64,
    /// XOR of the hashes of `upload_log`'s rows for `doodles` (0 without that table).
    pub log_hash: u64,
}

/// The cheap part of a [`Fingerprint`]: (rows, largest id, log hash).
fn quick_fingerprint(conn: &duckdb::Connection) -> Result<(u64, u64, u64)> {
    let (rows, max_id) =
        conn.query_row("SELECT count(*)::UBIGINT, coalesce(max(id), 0)::UBIGINT FROM doodles", [], |r| {
            Ok((r.get::<_, u64>(0)?, r.get::<_, u64>(1)?))
        })?;
    // Asked first, as a failed statement would end the caller's transaction.
    let has_log: bool = conn.query_row(
        "SELECT count(*) > 0 FROM duckdb_tables() WHERE database_name = current_database()
           AND schema_name = current_schema() AND table_name = 'upload_log'",
        [],
        |r| r.get(0),
    )?;
    let log_hash = if has_log {
        conn.query_row(
            "SELECT coalesce(bit_xor(hash(file_name, source, rows, rejected, bytes, crc32, first_id, loaded_at)),
                    0)::UBIGINT FROM upload_log WHERE target = 'doodles'",
            [],
            |r| r.get::<_, u64>(0),
        )?
    } else {
        0
    };
    Ok((rows, max_id, log_hash))
}

impl Fingerprint {
    pub fn of_database(conn: &duckdb::Connection) -> Result<Fingerprint> {
        let (rows, max_id, log_hash) = quick_fingerprint(conn)?;
        let hash = conn.query_row(
            "SELECT coalesce(bit_xor(hash(id, label_int, drawing)), 0)::UBIGINT FROM doodles",
            [],
            |r| r.get::<_, u64>(0),
        )?;
        Ok(Fingerprint { rows, max_id, hash, log_hash })
    }
}

pub struct StrokeIndex {
    map: Mmap,
    pub fingerprint: Fingerprint,
    rows: usize,
    data_at: usize,
    /// Rows held as bytes rather than text.
    pub compact_rows: u64,
    /// Whether the file is marked dirty (as it was when mapped, until [`StrokeIndex::mark_clean`]).
    dirty: AtomicBool,
    pub path: Option<PathBuf>,
}

fn index_error(message: impl Into<String>) -> StoreError {
    StoreError::new(ErrorKind::Index, message)
}

fn damaged(why: &str) -> StoreError {
    index_error(format!("the stroke index file is damaged ({why})"))
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

fn layout(rows: usize) -> (usize, usize, usize) {
    let offsets_at = HEADER;
    let labels_at = offsets_at + (rows + 1) * 8;
    let data_at = (labels_at + rows * 4).div_ceil(8) * 8;
    (offsets_at, labels_at, data_at)
}

/// The CRC-32 of the header but its own field and the dirty byte.
fn header_crc(header: &[u8]) -> u64 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&header[..HEADER_CRC_AT]);
    crc.update(&header[DIRTY_AT + 1..HEADER]);
    u64::from(crc.finalize())
}

/// The CRC-32 of block `k` of `body` (the bytes between the header and the block CRCs).
fn block_crc(body: &[u8], k: usize) -> u32 {
    crc32fast::hash(&body[k * BLOCK..((k + 1) * BLOCK).min(body.len())])
}

impl StrokeIndex {
    /// The path of the index of a database file.
    pub fn path_for(db_path: &Path) -> PathBuf {
        let mut name = db_path.as_os_str().to_owned();
        name.push(".strokes");
        PathBuf::from(name)
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Bytes of the file (or of the in-memory copy).
    pub fn size(&self) -> usize {
        self.map.len()
    }

    /// Whether the file is marked dirty (see the module documentation).
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::SeqCst)
    }

    /// The drawing and label of `id` (1-based), `None` outside 1..=len.
    pub fn get(&self, id: i64) -> Option<(Drawing<'_>, i32)> {
        if id < 1 || id as u64 > self.rows as u64 {
            return None;
        }
        let i = (id - 1) as usize;
        let (offsets_at, labels_at, _) = layout(self.rows);
        let start = read_u64(&self.map, offsets_at + i * 8) as usize;
        let end = read_u64(&self.map, offsets_at + (i + 1) * 8) as usize;
        let mut label = [0u8; 4];
        label.copy_from_slice(&self.map[labels_at + i * 4..labels_at + i * 4 + 4]);
        // Offsets damaged in a way the checks missed give an empty, hence damaged, record.
        let record = (self.data_at.checked_add(start).zip(self.data_at.checked_add(end)))
            .and_then(|(start, end)| self.map.get(start..end))
            .unwrap_or(&[]);
        Some((Drawing::Record(record), i32::from_le_bytes(label)))
    }

    /// Maps an existing index file, checking its structure, its header's CRC and a sample of its
    /// blocks' CRCs (all of them when it is marked dirty).
    pub fn open(path: &Path) -> Result<StrokeIndex> {
        let file = File::open(path).map_err(|e| index_error(format!("cannot open {}: {e}", path.display())))?;
        // SAFETY: index files are written under a temporary name and renamed into place; after
        // that only the dirty byte changes, which is read once, here, before any other use.
        let map =
            unsafe { Mmap::map(&file) }.map_err(|e| index_error(format!("cannot map {}: {e}", path.display())))?;
        let index = Self::from_map(map, Some(path.to_path_buf()))?;
        index.verify_blocks(if index.is_dirty() { None } else { Some(SAMPLE_BLOCKS) })?;
        Ok(index)
    }

    fn from_map(map: Mmap, path: Option<PathBuf>) -> Result<StrokeIndex> {
        if map.len() < HEADER || &map[..8] != MAGIC {
            return Err(damaged("no stroke index header"));
        }
        if read_u64(&map, HEADER_CRC_AT) != header_crc(&map) {
            return Err(damaged("header checksum"));
        }
        let fingerprint = Fingerprint {
            rows: read_u64(&map, ROWS_AT),
            max_id: read_u64(&map, MAX_ID_AT),
            hash: read_u64(&map, HASH_AT),
            log_hash: read_u64(&map, LOG_HASH_AT),
        };
        let data_len = read_u64(&map, DATA_LEN_AT) as usize;
        // Each row takes 12 bytes of offsets and labels: a larger count cannot be this file's.
        let rows = usize::try_from(fingerprint.rows)
            .ok()
            .filter(|&rows| rows <= map.len() / 12 && data_len <= map.len())
            .ok_or_else(|| damaged("its length does not match its header: truncated?"))?;
        let (_, _, data_at) = layout(rows);
        let crcs_at = data_at + data_len;
        let blocks = (crcs_at - HEADER).div_ceil(BLOCK);
        if read_u64(&map, DATA_AT) as usize != data_at
            || read_u64(&map, CRCS_AT) as usize != crcs_at
            || map.len() != crcs_at + blocks * 4
        {
            return Err(damaged("its length does not match its header: truncated?"));
        }
        if read_u64(&map, CRCS_CRC_AT) != u64::from(crc32fast::hash(&map[crcs_at..])) {
            return Err(damaged("block checksums"));
        }
        if read_u64(&map, HEADER + rows * 8) as usize != data_len {
            return Err(damaged("offsets"));
        }
        let compact_rows = read_u64(&map, COMPACT_ROWS_AT);
        let dirty = AtomicBool::new(map[DIRTY_AT] != 0);
        Ok(StrokeIndex { map, fingerprint, rows, data_at, compact_rows, dirty, path })
    }

    /// Checks the CRCs of the first and last blocks and `sample` others spread over the file, or
    /// of every block when `sample` is `None`.
    fn verify_blocks(&self, sample: Option<usize>) -> Result<()> {
        let crcs_at = read_u64(&self.map, CRCS_AT) as usize;
        let body = &self.map[HEADER..crcs_at];
        let blocks = body.len().div_ceil(BLOCK);
        let chosen: Vec<usize> = match sample {
            None => (0..blocks).collect(),
            Some(n) => {
                let start = varying_start();
                let mut chosen: Vec<usize> = (0..n).map(|k| (start + k * blocks / n.max(1)) % blocks.max(1)).collect();
                chosen.extend([0, blocks.saturating_sub(1)]);
                chosen.sort_unstable();
                chosen.dedup();
                chosen.retain(|&k| k < blocks);
                chosen
            }
        };
        for k in chosen {
            let stored =
                u32::from_le_bytes(self.map[crcs_at + k * 4..crcs_at + k * 4 + 4].try_into().unwrap_or_default());
            if stored != block_crc(body, k) {
                return Err(damaged(&format!("checksum of block {} of {blocks}", k + 1)));
            }
        }
        Ok(())
    }

    /// The quick check of a file opened by a new process (see the module documentation); the
    /// full one ([`StrokeIndex::matches`]) if the file was marked dirty.
    pub fn matches_quickly(&self, conn: &duckdb::Connection) -> Result<bool> {
        if self.is_dirty() {
            return self.matches(conn);
        }
        let (rows, max_id, log_hash) = quick_fingerprint(conn)?;
        let known = &self.fingerprint;
        if (rows, max_id, log_hash) != (known.rows, known.max_id, known.log_hash) {
            return Ok(false);
        }
        self.sample_matches(conn)
    }

    /// Whether the index agrees with the database now, every row included (see the module
    /// documentation).
    pub fn matches(&self, conn: &duckdb::Connection) -> Result<bool> {
        if Fingerprint::of_database(conn)? != self.fingerprint {
            return Ok(false);
        }
        if self.is_dirty() {
            self.verify_blocks(None)?;
        }
        self.sample_matches(conn)
    }

    /// Whether 32 rows spread over the ids (another set each time) are the same in DuckDB. One
    /// query per id: DuckDB skips the row groups whose ids cannot match one id (5 ms at 50M
    /// rows), not those of a list spread over the table (a whole scan, ~0.8 s).
    fn sample_matches(&self, conn: &duckdb::Connection) -> Result<bool> {
        if self.rows == 0 {
            return Ok(true);
        }
        let start = varying_start();
        let step = (self.rows / SAMPLE_ROWS).max(1);
        let mut stmt = conn.prepare("SELECT label_int, drawing FROM doodles WHERE id = ?")?;
        for k in 0..SAMPLE_ROWS.min(self.rows) {
            let id = ((start + k * step) % self.rows) as i64 + 1;
            let mut rows = stmt.query([id])?;
            let Some(row) = rows.next()? else { return Ok(false) };
            let label: Option<i32> = row.get(0)?;
            let drawing: String = row.get(1)?;
            let same = match (self.get(id), label) {
                (Some((record, l)), Some(label)) => l == label && record.json().is_ok_and(|text| text == drawing),
                _ => false,
            };
            // A second row with the id would mean ids are not unique.
            if !same || rows.next()?.is_some() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Marks the index file of a database dirty, durably, before a write that has not been checked
    /// against it; nothing to do when there is no file.
    pub fn mark_dirty(path: &Path) -> Result<()> {
        Self::set_dirty(path, true)
    }

    /// Marks the file clean after a full check passed (a failure to do so costs the next process
    /// one more full check, so it is not an error).
    pub fn mark_clean(&self) {
        if let Some(path) = &self.path {
            let _ = Self::set_dirty(path, false);
        }
        self.dirty.store(false, Ordering::SeqCst);
    }

    fn set_dirty(path: &Path, dirty: bool) -> Result<()> {
        let file = match OpenOptions::new().write(true).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(index_error(format!("cannot mark {} as out of date: {e}", path.display()))),
        };
        let io = |e: std::io::Error| index_error(format!("cannot mark {} as out of date: {e}", path.display()));
        file.write_all_at(&[u8::from(dirty)], DIRTY_AT as u64).map_err(io)?;
        if dirty {
            file.sync_data().map_err(io)?;
        }
        Ok(())
    }

    /// Builds the index of `doodles` into a new file renamed to `path` when complete (or an
    /// unlinked temporary file when `path` is `None`). `conn` must see one consistent snapshot of
    /// the database (see `db::Connection::stroke_index`).
    pub fn build(conn: &duckdb::Connection, path: Option<&Path>) -> Result<StrokeIndex> {
        let fingerprint = Fingerprint::of_database(conn)?;
        let rows = usize::try_from(fingerprint.rows).map_err(|_| index_error("too many rows"))?;
        if fingerprint.max_id != fingerprint.rows {
            return Err(index_error(format!(
                "doodles.id is not dense 1..{} (largest id {}); load_doodles() (or index_doodles()) renumbers it",
                fingerprint.rows, fingerprint.max_id
            )));
        }
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let unique = format!("{}-{}", std::process::id(), COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
        let temp = match path {
            Some(path) => {
                let mut name = path.as_os_str().to_owned();
                name.push(format!(".tmp-{unique}"));
                PathBuf::from(name)
            }
            None => std::env::temp_dir().join(format!("doodles-index-{unique}.strokes")),
        };
        let io = |e: std::io::Error| index_error(format!("cannot write the stroke index {}: {e}", temp.display()));
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&temp).map_err(io)?;
        // On any failure the temporary file is removed below.
        let written = Self::write(conn, &file, rows, fingerprint)
            .and_then(|()| Self::seal(&file).map_err(io))
            .and_then(|()| file.sync_all().map_err(io));
        let placed = written.and_then(|()| match path {
            Some(path) => std::fs::rename(&temp, path).map_err(io),
            None => Ok(()),
        });
        if let Err(err) = placed {
            let _ = std::fs::remove_file(&temp);
            return Err(err);
        }
        // SAFETY: see `open`; this file is complete.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        if path.is_none() {
            // The mapping keeps the data; nothing is left behind on disk.
            let _ = std::fs::remove_file(&temp);
        }
        Self::from_map(map, path.map(Path::to_path_buf))
    }

    /// Appends the block CRCs and writes the checksums into the header.
    fn seal(file: &File) -> std::io::Result<()> {
        // Read block by block, not mapped, so that the file does not count as this process's memory.
        let crcs_at = file.metadata()?.len() as usize;
        let mut block = vec![0u8; BLOCK];
        let mut crcs = Vec::new();
        let mut at = HEADER;
        while at < crcs_at {
            let len = BLOCK.min(crcs_at - at);
            file.read_exact_at(&mut block[..len], at as u64)?;
            crcs.extend_from_slice(&crc32fast::hash(&block[..len]).to_le_bytes());
            at += len;
        }
        file.write_all_at(&crcs, crcs_at as u64)?;
        let mut header = vec![0u8; HEADER];
        file.read_exact_at(&mut header, 0)?;
        header[CRCS_AT..CRCS_AT + 8].copy_from_slice(&(crcs_at as u64).to_le_bytes());
        header[CRCS_CRC_AT..CRCS_CRC_AT + 8].copy_from_slice(&u64::from(crc32fast::hash(&crcs)).to_le_bytes());
        let crc = header_crc(&header);
        header[HEADER_CRC_AT..HEADER_CRC_AT + 8].copy_from_slice(&crc.to_le_bytes());
        file.write_all_at(&header, 0)
    }

    fn write(conn: &duckdb::Connection, file: &File, rows: usize, fingerprint: Fingerprint) -> Result<()> {
        let io = |e: std::io::Error| index_error(format!("cannot write the stroke index: {e}"));
        let (offsets_at, labels_at, data_at) = layout(rows);
        file.set_len(data_at as u64).map_err(io)?;
        // Offsets and labels of one range of ids at a time, written with pwrite: a map of the
        // whole table (600 MB at 50M rows) would count as the process's memory.
        let (mut offsets, mut label_bytes) = (Vec::new(), Vec::new());
        let mut data = BufWriter::with_capacity(1 << 20, file.try_clone().map_err(io)?);
        data.seek(SeekFrom::Start(data_at as u64)).map_err(io)?;
        let mut offset = 0u64;
        let mut compact_rows = 0u64;
        let mut encoder = RecordEncoder::default();
        let mut record = Vec::with_capacity(4096);
        let mut expected_id = 1i64;
        let mut stmt =
            conn.prepare("SELECT id, label_int, drawing FROM doodles WHERE id BETWEEN ? AND ? ORDER BY id")?;
        let mut low = 1i64;
        while low <= rows as i64 {
            let high = (low + BUILD_RANGE - 1).min(rows as i64);
            offsets.clear();
            label_bytes.clear();
            stmt.execute([low, high])?;
            while let Some(array) = stmt.step()? {
                let batch = RecordBatch::from(&array);
                let ids = integers(&batch, 0, "id")?;
                let labels = integers(&batch, 1, "label_int")?;
                let drawings = batch.column(2);
                for i in 0..batch.num_rows() {
                    let id = i64::from(ids.value(i));
                    if ids.is_null(i) || id != expected_id {
                        return Err(index_error(format!(
                            "doodles.id is not dense: expected id {expected_id}, found {}",
                            if ids.is_null(i) { "NULL".to_string() } else { id.to_string() }
                        )));
                    }
                    if labels.is_null(i) {
                        return Err(index_error(format!(
                            "doodles.label_int is NULL at id {id}; load_doodles() (or index_doodles()) assigns it"
                        )));
                    }
                    offsets.extend_from_slice(&offset.to_le_bytes());
                    label_bytes.extend_from_slice(&labels.value(i).to_le_bytes());
                    record.clear();
                    compact_rows += u64::from(encoder.encode(string_at(drawings.as_ref(), i)?, &mut record));
                    data.write_all(&record).map_err(io)?;
                    offset += record.len() as u64;
                    expected_id += 1;
                }
            }
            let k = (low - 1) as usize;
            file.write_all_at(&offsets, (offsets_at + k * 8) as u64).map_err(io)?;
            file.write_all_at(&label_bytes, (labels_at + k * 4) as u64).map_err(io)?;
            low = high + 1;
        }
        if expected_id != rows as i64 + 1 {
            return Err(index_error(format!("doodles.id is not dense: ids stop at {}", expected_id - 1)));
        }
        file.write_all_at(&offset.to_le_bytes(), (offsets_at + rows * 8) as u64).map_err(io)?;
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(MAGIC);
        for (at, value) in [
            (ROWS_AT, fingerprint.rows),
            (MAX_ID_AT, fingerprint.max_id),
            (HASH_AT, fingerprint.hash),
            (LOG_HASH_AT, fingerprint.log_hash),
            (DATA_LEN_AT, offset),
            (DATA_AT, data_at as u64),
            (COMPACT_ROWS_AT, compact_rows),
        ] {
            header[at..at + 8].copy_from_slice(&value.to_le_bytes());
        }
        file.write_all_at(&header, 0).map_err(io)?;
        data.flush().map_err(io)?;
        Ok(())
    }
}

/// A start for sampled rows and blocks that differs from one check to the next.
fn varying_start() -> usize {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() as usize)
}

/// Column `i` of `batch` as INTEGER values: another type is an error, not a panic.
fn integers<'a>(batch: &'a RecordBatch, i: usize, name: &str) -> Result<&'a PrimitiveArray<Int32Type>> {
    let column = batch.column(i);
    column
        .as_primitive_opt::<Int32Type>()
        .ok_or_else(|| index_error(format!("doodles.{name} has type {}, expected INTEGER", column.data_type())))
}

fn string_at(array: &dyn Array, i: usize) -> Result<&str> {
    match array.data_type() {
        DataType::Utf8 => Ok(array.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => Ok(array.as_string::<i64>().value(i)),
        DataType::Utf8View => Ok(array.as_string_view().value(i)),
        other => Err(index_error(format!("doodles.drawing has type {other}, expected text"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database(drawings: &[&str]) -> duckdb::Connection {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE doodles (id INTEGER, label_int INTEGER, drawing VARCHAR)").unwrap();
        for (i, drawing) in drawings.iter().enumerate() {
            conn.execute("INSERT INTO doodles VALUES (?, ?, ?)", duckdb::params![i as i32 + 1, i as i32 % 3, drawing])
                .unwrap();
        }
        conn
    }

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("doodles-index-test-{}-{name}.strokes", std::process::id()))
    }

    #[test]
    fn records_and_labels_come_back_and_the_quick_check_sees_changes() {
        let drawings = ["[[[1, 2], [3, 4]]]", "[[[0.5], [1]]]", "[]", "[[[255, 0, 7], [9, 9, 9]], [[1], [1]]]"];
        let conn = database(&drawings);
        let path = temp_path("round-trip");
        let built = StrokeIndex::build(&conn, Some(&path)).unwrap();
        assert_eq!((built.len(), built.compact_rows), (4, 3));
        let index = StrokeIndex::open(&path).unwrap();
        for (i, drawing) in drawings.iter().enumerate() {
            let (record, label) = index.get(i as i64 + 1).unwrap();
            assert_eq!((record.json().unwrap().as_ref(), label), (*drawing, i as i32 % 3));
        }
        assert!(index.get(0).is_none() && index.get(5).is_none());
        assert!(index.matches_quickly(&conn).unwrap() && index.matches(&conn).unwrap());
        // Same count and ids, another label on one row: the full check sees it (the quick one
        // samples all 4 rows here, so it does too).
        conn.execute_batch("UPDATE doodles SET label_int = 9 WHERE id = 2").unwrap();
        assert!(!index.matches(&conn).unwrap());
        assert!(!index.matches_quickly(&conn).unwrap());
        // The dirty byte: read when mapped, outside the header's checksum.
        StrokeIndex::mark_dirty(&path).unwrap();
        let reopened = StrokeIndex::open(&path).unwrap();
        assert!(reopened.is_dirty());
        reopened.mark_clean();
        assert!(!reopened.is_dirty() && !StrokeIndex::open(&path).unwrap().is_dirty());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_damaged_or_truncated_file_is_an_error_or_reads_without_panicking() {
        let conn = database(&["[[[1, 2], [3, 4]]]", "[[[10, 20, 30], [1, 2, 3]]]", "[[[5], [6]]]"]);
        let path = temp_path("damaged");
        StrokeIndex::build(&conn, Some(&path)).unwrap();
        let good = std::fs::read(&path).unwrap();
        let read_all = |bytes: &[u8]| {
            std::fs::write(&path, bytes).unwrap();
            StrokeIndex::open(&path).map(|index| {
                (1..=index.len() as i64).for_each(|id| drop(index.get(id).map(|(record, _)| record.json())))
            })
        };
        for len in 0..good.len() {
            assert!(read_all(&good[..len]).is_err(), "truncated to {len} bytes");
        }
        for at in 0..good.len() {
            let mut bytes = good.clone();
            bytes[at] ^= 0x5a;
            // Only the dirty byte is outside the checksums.
            assert_eq!(read_all(&bytes).is_ok(), at == DIRTY_AT, "byte {at} changed");
        }
        std::fs::remove_file(&path).unwrap();
    }
}
