//! Running SQL for DBI: a statement, optionally with parameters bound row by row (dbBind), gives a
//! materialised result that dbFetch reads in pieces.
use crate::convert::{Column, ColumnKind};
use crate::db::Connection;
use crate::error::{ErrorKind, Result, StoreError};
use duckdb::arrow::record_batch::RecordBatch;

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

/// Runs `sql` once, or once per row of `params` (columns of equal length, bound positionally).
pub fn run(conn: &Connection, sql: &str, params: Option<&[Column]>) -> Result<QueryResult> {
    conn.with_statement(sql, |stmt| {
        let expected = stmt.parameter_count();
        let rows = match params {
            None if expected > 0 => {
                return Err(StoreError::new(
                    ErrorKind::Argument,
                    format!("the statement has {expected} placeholders but no parameters were bound"),
                ));
            }
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
        Ok(result)
    })
}

/// The number of placeholders (`?`, `$1`) in `sql`.
pub fn placeholders(conn: &Connection, sql: &str) -> Result<usize> {
    conn.with_statement(sql, |stmt| Ok(stmt.parameter_count()))
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
