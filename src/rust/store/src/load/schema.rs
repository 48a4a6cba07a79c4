//! The tables a load writes, what `upload_log` says of the files loaded before, and the labels
//! and ids after a load.
use super::{FileOutcome, FileStatus, Target};
use crate::db::Connection;
use crate::error::Result;
use duckdb::params;
use duckdb::types::{TimeUnit, ToSqlOutput, ValueRef};
use std::collections::HashMap;

// Drawings are long and all different: DuckDB always picks FSST for them, and naming it spares the
// inserting thread the analysis of the other methods (4% of a load's time).
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS doodles (countrycode VARCHAR, drawing VARCHAR NOT NULL USING COMPRESSION fsst, key_id BIGINT,
  recognized BOOLEAN, timestamp TIMESTAMP, word VARCHAR NOT NULL, label_int INTEGER, id INTEGER);
CREATE TABLE IF NOT EXISTS test (key_id BIGINT, countrycode VARCHAR, drawing VARCHAR NOT NULL USING COMPRESSION fsst,
  id INTEGER);
CREATE TABLE IF NOT EXISTS upload_log (target VARCHAR NOT NULL, file_name VARCHAR NOT NULL,
  source VARCHAR, rows BIGINT NOT NULL, rejected BIGINT NOT NULL, bytes BIGINT NOT NULL,
  crc32 BIGINT NOT NULL, first_id INTEGER, loaded_at TIMESTAMP, PRIMARY KEY (target, file_name));
CREATE TABLE IF NOT EXISTS rejects (target VARCHAR NOT NULL, file_name VARCHAR NOT NULL,
  line BIGINT, reason VARCHAR NOT NULL, raw VARCHAR);
";

pub fn ensure_schema(conn: &Connection) -> Result<()> {
    conn.execute_batch(SCHEMA)
}

/// A file's entry in `upload_log`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LoggedFile {
    pub rows: u64,
    pub rejected: u64,
    pub bytes: u64,
    pub crc32: u32,
}

impl LoggedFile {
    pub fn of(outcome: &FileOutcome) -> LoggedFile {
        LoggedFile { rows: outcome.rows, rejected: outcome.rejected, bytes: outcome.bytes, crc32: outcome.crc32 }
    }
}

/// The files of `target` in `upload_log`, by name.
pub(super) fn logged_files(conn: &Connection, target: Target) -> Result<HashMap<String, LoggedFile>> {
    conn.with_statement("SELECT file_name, rows, rejected, bytes, crc32 FROM upload_log WHERE target = ?", |stmt| {
        let mut rows = stmt.query([target.table()])?;
        let mut logged = HashMap::new();
        while let Some(row) = rows.next()? {
            let file = LoggedFile {
                rows: row.get::<_, i64>(1)? as u64,
                rejected: row.get::<_, i64>(2)? as u64,
                bytes: row.get::<_, i64>(3)? as u64,
                crc32: row.get::<_, i64>(4)? as u32,
            };
            logged.insert(row.get::<_, String>(0)?, file);
        }
        Ok(logged)
    })
}

/// A file's `upload_log` row, written just before its transaction's COMMIT.
pub(super) struct LogEntry {
    pub target: Target,
    pub outcome: FileOutcome,
    pub display: String,
    pub first_id: Option<i64>,
    /// Microseconds since the epoch.
    pub loaded_at: i64,
}

/// Appends `log` to `upload_log` (one statement per file cost 3.5 ms, 1.2 s of a 340-file load).
pub(super) fn write_log(conn: &Connection, log: &[LogEntry]) -> Result<()> {
    let mut appender = conn.appender("upload_log", None)?;
    for entry in log {
        let outcome = &entry.outcome;
        debug_assert_eq!(outcome.status, FileStatus::Loaded);
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
    appender.flush()
}

/// The first id for the next file: after the last file in `upload_log`, which needs no scan of
/// the table, unless rows were added some other way (then after the largest id).
pub(super) fn next_id(conn: &Connection, target: Target) -> Result<i64> {
    let table = target.table();
    let logged: i64 = conn.query_row(
        "SELECT coalesce(max(first_id + rows), 1) FROM upload_log WHERE target = ? AND first_id IS NOT NULL",
        [table],
        |r| r.get(0),
    )?;
    let beyond: i64 = conn.query_row(&format!("SELECT count(*) FROM {table} WHERE id >= ?"), [logged], |r| r.get(0))?;
    if beyond == 0 {
        return Ok(logged);
    }
    conn.query_row(&format!("SELECT coalesce(max(id), 0) + 1 FROM {table}"), [], |r| r.get(0))
}

/// Each word's 0-based rank among the words of `labels` (from earlier loads) and `expected`:
/// the label_int [`finalize`] will give if no other word turns up.
pub(super) fn guess_labels(conn: &Connection, expected: &[String]) -> Result<HashMap<String, i32>> {
    let mut words: Vec<String> = expected.to_vec();
    let has_labels: bool = conn.query_row(
        "SELECT count(*) > 0 FROM duckdb_tables() WHERE table_name = 'labels' AND schema_name = current_schema()",
        [],
        |r| r.get(0),
    )?;
    if has_labels {
        conn.with_statement("SELECT word FROM labels", |stmt| {
            for word in stmt.query_map([], |r| r.get::<_, String>(0))? {
                words.push(word?);
            }
            Ok(())
        })?;
    }
    // Byte order, as DuckDB's ORDER BY word in finalize.
    words.sort_unstable();
    words.dedup();
    Ok(words.into_iter().enumerate().map(|(rank, word)| (word, rank as i32)).collect())
}

/// After loading: `labels` (label_int = 0-based rank of word in byte order, the order of R's
/// `sort(method = "radix")`) and `doodles.label_int` to match; ids are renumbered 1..N (keeping
/// their order) only if they are not dense already. Idempotent; in a transaction of its own, or
/// in the caller's when one is open.
pub fn finalize(conn: &Connection) -> Result<()> {
    ensure_schema(conn)?;
    let own = !conn.in_transaction()?;
    if own {
        conn.execute_batch("BEGIN TRANSACTION")?;
    }
    let done = (|| -> Result<()> {
        conn.execute_batch(
            "CREATE OR REPLACE TABLE labels AS
               SELECT (row_number() OVER (ORDER BY word) - 1)::INTEGER AS label_int, word
               FROM (SELECT DISTINCT word FROM doodles) ORDER BY label_int;
             UPDATE doodles SET label_int = labels.label_int FROM labels
               WHERE doodles.word = labels.word AND doodles.label_int IS DISTINCT FROM labels.label_int;",
        )?;
        let (rows, with_id, max_id): (i64, i64, i64) =
            conn.query_row("SELECT count(*), count(id), coalesce(max(id), 0) FROM doodles", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        if rows != with_id || rows != max_id {
            conn.execute_batch(
                "UPDATE doodles SET id = numbered.new_id FROM (
                   SELECT rowid AS row_key, row_number() OVER (ORDER BY id NULLS LAST, rowid)::INTEGER AS new_id
                   FROM doodles) AS numbered
                 WHERE doodles.rowid = numbered.row_key",
            )?;
        }
        Ok(())
    })();
    match done {
        Ok(()) if own => conn.execute_batch("COMMIT"),
        Ok(()) => Ok(()),
        Err(err) => {
            if own {
                let _ = conn.execute_batch("ROLLBACK");
            }
            Err(err)
        }
    }
}
