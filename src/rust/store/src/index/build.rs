//! Writing an index file from `doodles`: offsets, labels and records one range of ids at a time,
//! then the checksums, under a temporary name renamed into place once complete.
use super::fingerprint::Fingerprint;
use super::format::*;
use super::{index_error, StrokeIndex};
use crate::error::Result;
use doodles_raster::RecordEncoder;
use duckdb::arrow::array::{Array, AsArray, PrimitiveArray};
use duckdb::arrow::datatypes::{DataType, Int32Type};
use duckdb::arrow::record_batch::RecordBatch;
use memmap2::Mmap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Ids read from DuckDB per query while building.
const BUILD_RANGE: i64 = 262_144;

impl StrokeIndex {
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
