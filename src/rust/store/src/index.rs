//! The stroke index: a compact, memory-mapped copy of `doodles(id, label_int, drawing)` keyed by
//! the dense id, so that a random batch costs the same at 1M or 50M rows (two array reads per id
//! instead of a scan).
//!
//! It lives next to the database file (`<dbdir>.strokes`; in memory databases, an unlinked
//! temporary file) and is derived data: it is rebuilt whenever it is missing or does not match
//! the database. It matches when (1) its header's fingerprint equals the one DuckDB computes from
//! the table now: row count, largest id and the XOR of `hash(id, label_int, drawing)` over all
//! rows, and (2) a sample of rows read from DuckDB equals the index's copies byte for byte. The
//! check runs when the index is first used by a process and again after any statement that may
//! have written to the database (see `db::Connection::stroke_index`).
//!
//! An index file read from disk is also checked against itself first: its header holds the
//! CRC-32 of everything after the header, so a damaged file is rebuilt, not served.
//!
//! File layout (little endian): header (64 bytes: magic, rows, max id, hash, data length, data
//! offset, CRC-32), `rows + 1` u64 offsets into the data, `rows` i32 labels, padding, then the
//! drawings' bytes back to back.
use crate::error::{ErrorKind, Result, StoreError};
use duckdb::arrow::array::{Array, AsArray, PrimitiveArray};
use duckdb::arrow::datatypes::{DataType, Int32Type};
use duckdb::arrow::record_batch::RecordBatch;
use memmap2::{Mmap, MmapMut};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"DOODLIX1";
const HEADER: usize = 64;
/// Where each u64 field of the header is (the magic takes bytes 0..8).
const ROWS_AT: usize = 8;
const MAX_ID_AT: usize = 16;
const HASH_AT: usize = 24;
const DATA_LEN_AT: usize = 32;
const DATA_OFFSET_AT: usize = 40;
const CRC_AT: usize = 48;
/// Ids read from DuckDB per query while building.
const BUILD_RANGE: i64 = 262_144;
/// Rows compared byte for byte with DuckDB when an index is checked.
const SAMPLE_ROWS: usize = 32;

/// What the index must agree with: computed by DuckDB from `doodles`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub rows: u64,
    pub max_id: u64,
    pub hash: u64,
}

impl Fingerprint {
    pub fn of_database(conn: &duckdb::Connection) -> Result<Fingerprint> {
        let (rows, max_id, hash) = conn.query_row(
            "SELECT count(*)::UBIGINT, coalesce(max(id), 0)::UBIGINT,
                    coalesce(bit_xor(hash(id, label_int, drawing)), 0)::UBIGINT FROM doodles",
            [],
            |r| Ok((r.get::<_, u64>(0)?, r.get::<_, u64>(1)?, r.get::<_, u64>(2)?)),
        )?;
        Ok(Fingerprint { rows, max_id, hash })
    }
}

pub struct StrokeIndex {
    map: Mmap,
    pub fingerprint: Fingerprint,
    rows: usize,
    data_at: usize,
    pub path: Option<PathBuf>,
}

fn index_error(message: impl Into<String>) -> StoreError {
    StoreError::new(ErrorKind::Index, message)
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

    /// The drawing and label of `id` (1-based), `None` outside 1..=len.
    pub fn get(&self, id: i64) -> Option<(&str, i32)> {
        if id < 1 || id as u64 > self.rows as u64 {
            return None;
        }
        let i = (id - 1) as usize;
        let (offsets_at, labels_at, _) = layout(self.rows);
        let start = read_u64(&self.map, offsets_at + i * 8) as usize;
        let end = read_u64(&self.map, offsets_at + (i + 1) * 8) as usize;
        let mut label = [0u8; 4];
        label.copy_from_slice(&self.map[labels_at + i * 4..labels_at + i * 4 + 4]);
        let bytes = self.map.get(self.data_at + start..self.data_at + end)?;
        Some((std::str::from_utf8(bytes).ok()?, i32::from_le_bytes(label)))
    }

    /// Maps an existing index file, checking only its own structure.
    pub fn open(path: &Path) -> Result<StrokeIndex> {
        let file = File::open(path).map_err(|e| index_error(format!("cannot open {}: {e}", path.display())))?;
        // SAFETY: index files are written once under a temporary name and renamed into place,
        // never modified afterwards; a replaced file keeps this mapping's inode alive.
        let map =
            unsafe { Mmap::map(&file) }.map_err(|e| index_error(format!("cannot map {}: {e}", path.display())))?;
        if map.len() < HEADER || read_u64(&map, CRC_AT) != u64::from(crc32fast::hash(&map[HEADER..])) {
            return Err(index_error("the stroke index file is damaged"));
        }
        Self::from_map(map, Some(path.to_path_buf()))
    }

    fn from_map(map: Mmap, path: Option<PathBuf>) -> Result<StrokeIndex> {
        let broken = || index_error("the stroke index file is damaged");
        if map.len() < HEADER || &map[..8] != MAGIC {
            return Err(broken());
        }
        let fingerprint = Fingerprint {
            rows: read_u64(&map, ROWS_AT),
            max_id: read_u64(&map, MAX_ID_AT),
            hash: read_u64(&map, HASH_AT),
        };
        let data_len = read_u64(&map, DATA_LEN_AT) as usize;
        let rows = usize::try_from(fingerprint.rows).map_err(|_| broken())?;
        let (_, _, data_at) = layout(rows);
        if read_u64(&map, DATA_OFFSET_AT) as usize != data_at || map.len() != data_at + data_len {
            return Err(broken());
        }
        if rows > 0 && read_u64(&map, HEADER + rows * 8) as usize != data_len {
            return Err(broken());
        }
        Ok(StrokeIndex { map, fingerprint, rows, data_at, path })
    }

    /// Whether the index agrees with the database now (see the module documentation).
    pub fn matches(&self, conn: &duckdb::Connection) -> Result<bool> {
        if Fingerprint::of_database(conn)? != self.fingerprint {
            return Ok(false);
        }
        if self.rows == 0 {
            return Ok(true);
        }
        // Spread over the whole id range, with a different start each time.
        let start =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() as usize);
        let step = (self.rows / SAMPLE_ROWS).max(1);
        let ids: Vec<i64> =
            (0..SAMPLE_ROWS.min(self.rows)).map(|k| ((start + k * step) % self.rows) as i64 + 1).collect();
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let mut stmt = conn.prepare(&format!("SELECT id, label_int, drawing FROM doodles WHERE id IN ({list})"))?;
        let mut rows = stmt.query([])?;
        let mut seen = 0;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let label: Option<i32> = row.get(1)?;
            let drawing: String = row.get(2)?;
            match (self.get(id), label) {
                (Some((text, l)), Some(label)) if text == drawing && l == label => seen += 1,
                _ => return Ok(false),
            }
        }
        Ok(seen == ids.len())
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
        // SAFETY: see `open`; this file is complete and no longer written.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        if path.is_none() {
            // The mapping keeps the data; nothing is left behind on disk.
            let _ = std::fs::remove_file(&temp);
        }
        Self::from_map(map, path.map(Path::to_path_buf))
    }

    /// Writes the CRC-32 of everything after the header into the header.
    fn seal(file: &File) -> std::io::Result<()> {
        use std::os::unix::fs::FileExt;
        // SAFETY: see `write`; the file is complete and only this process knows its name.
        let map = unsafe { Mmap::map(file) }?;
        let crc = u64::from(crc32fast::hash(&map[HEADER..]));
        file.write_all_at(&crc.to_le_bytes(), CRC_AT as u64)
    }

    fn write(conn: &duckdb::Connection, file: &File, rows: usize, fingerprint: Fingerprint) -> Result<()> {
        let io = |e: std::io::Error| index_error(format!("cannot write the stroke index: {e}"));
        let (offsets_at, labels_at, data_at) = layout(rows);
        file.set_len(data_at as u64).map_err(io)?;
        // SAFETY: the file was just created by this process under a unique name.
        let mut fixed = unsafe { MmapMut::map_mut(file) }.map_err(io)?;
        let mut data = BufWriter::with_capacity(1 << 20, file.try_clone().map_err(io)?);
        data.seek(SeekFrom::Start(data_at as u64)).map_err(io)?;
        let mut offset = 0u64;
        let mut expected_id = 1i64;
        let mut stmt =
            conn.prepare("SELECT id, label_int, drawing FROM doodles WHERE id BETWEEN ? AND ? ORDER BY id")?;
        let mut low = 1i64;
        while low <= rows as i64 {
            let high = (low + BUILD_RANGE - 1).min(rows as i64);
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
                    let k = (id - 1) as usize;
                    fixed[offsets_at + k * 8..offsets_at + k * 8 + 8].copy_from_slice(&offset.to_le_bytes());
                    fixed[labels_at + k * 4..labels_at + k * 4 + 4].copy_from_slice(&labels.value(i).to_le_bytes());
                    let bytes = string_at(drawings.as_ref(), i)?;
                    data.write_all(bytes).map_err(io)?;
                    offset += bytes.len() as u64;
                    expected_id += 1;
                }
            }
            low = high + 1;
        }
        if expected_id != rows as i64 + 1 {
            return Err(index_error(format!("doodles.id is not dense: ids stop at {}", expected_id - 1)));
        }
        fixed[offsets_at + rows * 8..offsets_at + rows * 8 + 8].copy_from_slice(&offset.to_le_bytes());
        let mut header = [0u8; HEADER];
        header[..8].copy_from_slice(MAGIC);
        for (at, value) in [
            (ROWS_AT, fingerprint.rows),
            (MAX_ID_AT, fingerprint.max_id),
            (HASH_AT, fingerprint.hash),
            (DATA_LEN_AT, offset),
            (DATA_OFFSET_AT, data_at as u64),
        ] {
            header[at..at + 8].copy_from_slice(&value.to_le_bytes());
        }
        fixed[..HEADER].copy_from_slice(&header);
        fixed.flush().map_err(io)?;
        data.flush().map_err(io)?;
        Ok(())
    }
}

/// Column `i` of `batch` as INTEGER values: another type is an error, not a panic.
fn integers<'a>(batch: &'a RecordBatch, i: usize, name: &str) -> Result<&'a PrimitiveArray<Int32Type>> {
    let column = batch.column(i);
    column
        .as_primitive_opt::<Int32Type>()
        .ok_or_else(|| index_error(format!("doodles.{name} has type {}, expected INTEGER", column.data_type())))
}

fn string_at(array: &dyn Array, i: usize) -> Result<&[u8]> {
    match array.data_type() {
        DataType::Utf8 => Ok(array.as_string::<i32>().value(i).as_bytes()),
        DataType::LargeUtf8 => Ok(array.as_string::<i64>().value(i).as_bytes()),
        DataType::Utf8View => Ok(array.as_string_view().value(i).as_bytes()),
        other => Err(index_error(format!("doodles.drawing has type {other}, expected text"))),
    }
}
