//! Whether an index still agrees with its database (see the module documentation of `index`),
//! and the dirty byte that says a full check is due.
use super::fingerprint::{quick_fingerprint, Fingerprint};
use super::format::DIRTY_AT;
use super::{index_error, varying_start, StrokeIndex};
use crate::error::Result;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::Ordering;

/// Rows compared byte for byte with DuckDB when an index is checked.
const SAMPLE_ROWS: usize = 32;

impl StrokeIndex {
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
}
