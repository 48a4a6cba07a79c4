//! What an index must agree with, as DuckDB computes it from `doodles` (and `upload_log`).
use crate::error::Result;

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
pub(super) fn quick_fingerprint(conn: &duckdb::Connection) -> Result<(u64, u64, u64)> {
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
