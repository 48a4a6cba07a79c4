//! Running SQL for DBI: a statement, optionally with parameters bound row by row (dbBind), gives a
//! materialised result that dbFetch reads in pieces.
use crate::convert::{Column, ColumnKind};
use crate::db::Connection;
use crate::error::{ErrorKind, Result, StoreError};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::ffi;
use std::ffi::{CStr, CString};
use std::sync::{Mutex, OnceLock};

/// The result of one statement (all parameter rows): Arrow batches read on demand.
pub struct QueryResult {
    pub names: Vec<String>,
    pub kinds: Vec<ColumnKind>,
    batches: Vec<RecordBatch>,
    batch: usize,
    offset: usize,
    pub rows_affected: usize,
    pub rows_fetched: usize,
}

impl QueryResult {
    pub fn total_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    pub fn has_completed(&self) -> bool {
        self.rows_fetched >= self.total_rows()
    }

    /// The next `n` rows (all remaining rows when `n` is `None`).
    pub fn fetch(&mut self, n: Option<usize>) -> Result<Vec<Column>> {
        let mut columns: Vec<Column> = self.kinds.iter().map(|k| Column::empty(*k)).collect();
        let mut wanted = n.unwrap_or(usize::MAX);
        while wanted > 0 && self.batch < self.batches.len() {
            let batch = &self.batches[self.batch];
            let available = batch.num_rows() - self.offset;
            if available == 0 {
                self.batch += 1;
                self.offset = 0;
                continue;
            }
            let take = available.min(wanted);
            let piece = batch.slice(self.offset, take);
            for (column, array) in columns.iter_mut().zip(piece.columns()) {
                column.extend_from(array.as_ref())?;
            }
            self.offset += take;
            wanted -= take;
            self.rows_fetched += take;
        }
        Ok(columns)
    }
}

/// What [`run`] did with a statement.
pub enum Sent {
    Ran(QueryResult),
    /// Nothing: the statement has this many placeholders and no parameters were given.
    AwaitsParameters(usize),
}

/// Runs `sql` once, or once per row of `params` (columns of equal length, bound positionally);
/// prepares it once either way.
pub fn run(conn: &Connection, sql: &str, params: Option<&[Column]>) -> Result<Sent> {
    conn.with_statement(sql, |stmt| {
        let expected = stmt.parameter_count();
        let rows = match params {
            None if expected > 0 => return Ok(Sent::AwaitsParameters(expected)),
            None => 1,
            Some(params) => {
                if params.len() != expected {
                    return Err(StoreError::new(
                        ErrorKind::Argument,
                        format!("the statement has {expected} placeholders but {} parameters were bound", params.len()),
                    ));
                }
                let lengths: Vec<usize> = params.iter().map(Column::len).collect();
                if lengths.windows(2).any(|w| w[0] != w[1]) {
                    return Err(StoreError::new(ErrorKind::Argument, "all bound parameters must have the same length"));
                }
                lengths.first().copied().unwrap_or(1)
            }
        };
        let mut result = QueryResult {
            names: Vec::new(),
            kinds: Vec::new(),
            batches: Vec::new(),
            batch: 0,
            offset: 0,
            rows_affected: 0,
            rows_fetched: 0,
        };
        for row in 0..rows {
            if let Some(params) = params {
                for (i, column) in params.iter().enumerate() {
                    stmt.raw_bind_parameter(i + 1, column.value(row))?;
                }
            }
            result.rows_affected += stmt.raw_execute()?;
            if result.names.is_empty() {
                let schema = stmt.schema();
                result.names = schema.fields().iter().map(|f| f.name().clone()).collect();
                result.kinds = schema.fields().iter().map(|f| ColumnKind::of(f.data_type())).collect();
            }
            while let Some(array) = stmt.step()? {
                result.batches.push(RecordBatch::from(&array));
            }
        }
        Ok(Sent::Ran(result))
    })
}

/// A connection to an in-memory DuckDB database of its own, used only to split SQL into
/// statements with DuckDB's parser: duckdb-rs gives no access to the raw connection of a
/// `duckdb::Connection`, and its `prepare` runs every statement but the last before returning the
/// last one. Splitting is parsing alone (no catalog), so any database splits alike.
struct Splitter(ffi::duckdb_connection);

// DuckDB's connections may be used from any thread; this one is used under a mutex.
unsafe impl Send for Splitter {}

impl Splitter {
    /// Opens the database (kept for the life of the process) and connects to it.
    fn open() -> std::result::Result<Splitter, String> {
        // SAFETY: every handle is initialised by DuckDB before use, and freed on failure.
        unsafe {
            let mut config = std::ptr::null_mut();
            if ffi::duckdb_create_config(&mut config) != ffi::DuckDBSuccess {
                return Err("cannot create a DuckDB configuration".into());
            }
            // Parsing needs no worker threads.
            ffi::duckdb_set_config(config, c"threads".as_ptr(), c"1".as_ptr());
            let mut db = std::ptr::null_mut();
            let mut error = std::ptr::null_mut();
            let opened = ffi::duckdb_open_ext(std::ptr::null(), &mut db, config, &mut error);
            ffi::duckdb_destroy_config(&mut config);
            if opened != ffi::DuckDBSuccess {
                let message = if error.is_null() {
                    "unknown error".to_string()
                } else {
                    CStr::from_ptr(error).to_string_lossy().into_owned()
                };
                ffi::duckdb_free(error.cast());
                return Err(message);
            }
            let mut con = std::ptr::null_mut();
            if ffi::duckdb_connect(db, &mut con) != ffi::DuckDBSuccess {
                ffi::duckdb_close(&mut db);
                return Err("cannot connect".into());
            }
            Ok(Splitter(con))
        }
    }

    fn count(&self, sql: &CStr) -> std::result::Result<usize, String> {
        // SAFETY: `extracted` is destroyed once, after its error message has been copied.
        unsafe {
            let mut extracted = std::ptr::null_mut();
            let count = ffi::duckdb_extract_statements(self.0, sql.as_ptr(), &mut extracted);
            let error = ffi::duckdb_extract_statements_error(extracted);
            let error = (!error.is_null()).then(|| CStr::from_ptr(error).to_string_lossy().into_owned());
            ffi::duckdb_destroy_extracted(&mut extracted);
            match error {
                Some(error) => Err(error),
                None => Ok(count as usize),
            }
        }
    }
}

/// The number of statements in `sql`, as DuckDB splits it (strings, quoted identifiers, comments
/// and dollar quotes included), without running any; SQL that DuckDB cannot parse is an error
/// with DuckDB's message, as running it would be.
pub fn statement_count(sql: &str) -> Result<usize> {
    static SPLITTER: OnceLock<std::result::Result<Mutex<Splitter>, String>> = OnceLock::new();
    let database = |message: String| StoreError::new(ErrorKind::Database, format!("DuckDB: {message}"));
    let splitter = SPLITTER
        .get_or_init(|| Splitter::open().map(Mutex::new))
        .as_ref()
        .map_err(|e| database(format!("cannot open the database that splits statements: {e}")))?;
    let sql =
        CString::new(sql).map_err(|_| StoreError::new(ErrorKind::Argument, "the SQL contains a NUL character"))?;
    let splitter =
        splitter.lock().map_err(|_| StoreError::new(ErrorKind::Internal, "the statement splitter is poisoned"))?;
    splitter.count(&sql).map_err(database)
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Appends rows (columns of equal length, matched to the table's columns by `names`) to `table`
/// (of `schema` when given) with
/// DuckDB's Appender, or with a prepared INSERT where no appender can be made (e.g. a temporary
/// table).
pub fn append(
    conn: &Connection,
    schema: Option<&str>,
    table: &str,
    names: &[String],
    columns: &[Column],
) -> Result<usize> {
    let rows = columns.first().map_or(0, Column::len);
    if columns.iter().any(|c| c.len() != rows) || names.len() != columns.len() {
        return Err(StoreError::new(ErrorKind::Argument, "all columns must have the same length and a name"));
    }
    let names_ref: Vec<&str> = names.iter().map(String::as_str).collect();
    // A temporary table has no appender.
    if let Ok(mut appender) = conn.appender_in(schema, table, Some(&names_ref)) {
        for row in 0..rows {
            let values: Vec<duckdb::types::Value> = columns.iter().map(|c| c.value(row)).collect();
            appender.append_row(duckdb::appender_params_from_iter(values))?;
        }
        appender.flush()?;
        return Ok(rows);
    }
    let sql = format!(
        "INSERT INTO {}{} ({}) VALUES ({})",
        schema.map(|schema| format!("{}.", quote_identifier(schema))).unwrap_or_default(),
        quote_identifier(table),
        names.iter().map(|n| quote_identifier(n)).collect::<Vec<_>>().join(", "),
        vec!["?"; names.len()].join(", ")
    );
    conn.with_statement(&sql, |stmt| {
        for row in 0..rows {
            for (i, column) in columns.iter().enumerate() {
                stmt.raw_bind_parameter(i + 1, column.value(row))?;
            }
            stmt.raw_execute()?;
        }
        Ok(rows)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_counted_as_duckdb_splits_them() {
        assert_eq!(statement_count("SELECT 1; DROP TABLE doodles").unwrap(), 2);
        assert_eq!(statement_count("SELECT 'a;b', \"c;d\" FROM t -- ;\n").unwrap(), 1);
        assert_eq!(statement_count("SELECT /* ; */ $x$;$x$;").unwrap(), 1);
        assert_eq!(statement_count("SELEC 1").unwrap_err().kind(), ErrorKind::Database);
    }
}
