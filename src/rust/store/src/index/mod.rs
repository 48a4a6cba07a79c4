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
//! By concern: this module maps a file, checks its structure and reads its rows; `format` knows
//! the file's layout, `fingerprint` what DuckDB says of the table, `check` whether an index still
//! agrees with it (and the dirty byte), `build` writes a new file.
mod build;
mod check;
mod fingerprint;
mod format;

pub use fingerprint::Fingerprint;

use crate::error::{ErrorKind, Result, StoreError};
use doodles_raster::Drawing;
use format::*;
use memmap2::Mmap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Blocks whose CRC the quick check verifies, besides the first and the last.
const SAMPLE_BLOCKS: usize = 6;

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

pub(super) fn index_error(message: impl Into<String>) -> StoreError {
    StoreError::new(ErrorKind::Index, message)
}

fn damaged(why: &str) -> StoreError {
    index_error(format!("the stroke index file is damaged ({why})"))
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

    pub(super) fn from_map(map: Mmap, path: Option<PathBuf>) -> Result<StrokeIndex> {
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
    pub(super) fn verify_blocks(&self, sample: Option<usize>) -> Result<()> {
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
}

/// A start for sampled rows and blocks that differs from one check to the next.
pub(super) fn varying_start() -> usize {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use format::DIRTY_AT;

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
