//! Type conversion between DuckDB (through its Arrow results) and R-shaped columns, with no R in
//! sight: integers up to 32 bits become R integers, wider integers, decimals and floats R doubles
//! (as duckdb-r does by default), text stays text, timestamps become seconds since the epoch
//! (POSIXct, UTC), dates days (Date), times seconds (difftime), NULL becomes NA.
use crate::error::{ErrorKind, Result, StoreError};
use duckdb::arrow::array::{Array, AsArray};
use duckdb::arrow::compute::cast;
use duckdb::arrow::datatypes::*;
use duckdb::arrow::error::ArrowError;
use duckdb::types::{TimeUnit as DuckTimeUnit, Value};

/// The R type a DuckDB column becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Logical,
    Integer,
    Double,
    Text,
    Timestamp,
    Date,
    Time,
    Blob,
}

impl ColumnKind {
    pub fn name(self) -> &'static str {
        match self {
            ColumnKind::Logical => "logical",
            ColumnKind::Integer => "integer",
            ColumnKind::Double => "double",
            ColumnKind::Text => "character",
            ColumnKind::Timestamp => "timestamp",
            ColumnKind::Date => "date",
            ColumnKind::Time => "time",
            ColumnKind::Blob => "blob",
        }
    }

    pub fn from_name(name: &str) -> Option<ColumnKind> {
        Some(match name {
            "logical" => ColumnKind::Logical,
            "integer" => ColumnKind::Integer,
            "double" => ColumnKind::Double,
            "character" => ColumnKind::Text,
            "timestamp" => ColumnKind::Timestamp,
            "date" => ColumnKind::Date,
            "time" => ColumnKind::Time,
            "blob" => ColumnKind::Blob,
            _ => return None,
        })
    }

    pub fn of(data_type: &DataType) -> ColumnKind {
        match data_type {
            DataType::Boolean => ColumnKind::Logical,
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => {
                ColumnKind::Integer
            }
            DataType::Int64
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Float16
            | DataType::Float32
            | DataType::Float64
            | DataType::Decimal32(_, _)
            | DataType::Decimal64(_, _)
            | DataType::Decimal128(_, _)
            | DataType::Decimal256(_, _) => ColumnKind::Double,
            DataType::Timestamp(_, _) => ColumnKind::Timestamp,
            DataType::Date32 | DataType::Date64 => ColumnKind::Date,
            DataType::Time32(_) | DataType::Time64(_) => ColumnKind::Time,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
                ColumnKind::Blob
            }
            _ => ColumnKind::Text,
        }
    }
}

/// A column of values in R's shape; `None` is NA.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    Logical(Vec<Option<bool>>),
    Integer(Vec<Option<i32>>),
    Double(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
    /// Seconds since 1970-01-01 00:00:00 UTC.
    Timestamp(Vec<Option<f64>>),
    /// Days since 1970-01-01.
    Date(Vec<Option<f64>>),
    /// Seconds since midnight.
    Time(Vec<Option<f64>>),
    Blob(Vec<Option<Vec<u8>>>),
}

impl Column {
    pub fn empty(kind: ColumnKind) -> Column {
        match kind {
            ColumnKind::Logical => Column::Logical(Vec::new()),
            ColumnKind::Integer => Column::Integer(Vec::new()),
            ColumnKind::Double => Column::Double(Vec::new()),
            ColumnKind::Text => Column::Text(Vec::new()),
            ColumnKind::Timestamp => Column::Timestamp(Vec::new()),
            ColumnKind::Date => Column::Date(Vec::new()),
            ColumnKind::Time => Column::Time(Vec::new()),
            ColumnKind::Blob => Column::Blob(Vec::new()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Column::Logical(v) => v.len(),
            Column::Integer(v) => v.len(),
            Column::Double(v) | Column::Timestamp(v) | Column::Date(v) | Column::Time(v) => v.len(),
            Column::Text(v) => v.len(),
            Column::Blob(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at `row` as a DuckDB parameter.
    pub fn value(&self, row: usize) -> Value {
        let null = Value::Null;
        match self {
            Column::Logical(v) => v[row].map_or(null, Value::Boolean),
            Column::Integer(v) => v[row].map_or(null, Value::Int),
            Column::Double(v) => v[row].map_or(null, Value::Double),
            Column::Text(v) => v[row].as_ref().map_or(null, |s| Value::Text(s.clone())),
            Column::Timestamp(v) => {
                v[row].map_or(null, |secs| Value::Timestamp(DuckTimeUnit::Microsecond, (secs * 1e6).round() as i64))
            }
            Column::Date(v) => v[row].map_or(null, |days| Value::Date32(days.floor() as i32)),
            Column::Time(v) => {
                v[row].map_or(null, |secs| Value::Time64(DuckTimeUnit::Microsecond, (secs * 1e6).round() as i64))
            }
            Column::Blob(v) => v[row].as_ref().map_or(null, |b| Value::Blob(b.clone())),
        }
    }

    /// Appends the values of an Arrow array (of a type that maps to this column's kind).
    pub fn extend_from(&mut self, array: &dyn Array) -> Result<()> {
        let conversion =
            |e: ArrowError| StoreError::new(ErrorKind::Database, format!("cannot convert a result column: {e}"));
        match self {
            Column::Logical(out) => {
                let a = array.as_boolean();
                out.extend((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i))));
            }
            Column::Integer(out) => {
                let a = cast(array, &DataType::Int32).map_err(conversion)?;
                let a = a.as_primitive::<Int32Type>();
                out.extend(a.iter());
            }
            Column::Double(out) => {
                let a = cast(array, &DataType::Float64).map_err(conversion)?;
                out.extend(a.as_primitive::<Float64Type>().iter());
            }
            Column::Timestamp(out) => {
                let a = cast(array, &DataType::Timestamp(TimeUnit::Microsecond, None)).map_err(conversion)?;
                let a = a.as_primitive::<TimestampMicrosecondType>();
                out.extend(a.iter().map(|v| v.map(|us| us as f64 / 1e6)));
            }
            Column::Date(out) => {
                let a = cast(array, &DataType::Date32).map_err(conversion)?;
                out.extend(a.as_primitive::<Date32Type>().iter().map(|v| v.map(f64::from)));
            }
            Column::Time(out) => {
                let a = cast(array, &DataType::Time64(TimeUnit::Microsecond)).map_err(conversion)?;
                let a = a.as_primitive::<Time64MicrosecondType>();
                out.extend(a.iter().map(|v| v.map(|us| us as f64 / 1e6)));
            }
            Column::Text(out) => {
                let a = cast(array, &DataType::LargeUtf8).map_err(conversion)?;
                out.extend(a.as_string::<i64>().iter().map(|v| v.map(str::to_string)));
            }
            Column::Blob(out) => {
                let a = cast(array, &DataType::LargeBinary).map_err(conversion)?;
                out.extend(a.as_binary::<i64>().iter().map(|v| v.map(<[u8]>::to_vec)));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use duckdb::arrow::array::{Int64Array, StringArray};

    #[test]
    fn kinds_follow_r_types() {
        assert_eq!(ColumnKind::of(&DataType::Int32), ColumnKind::Integer);
        assert_eq!(ColumnKind::of(&DataType::Int64), ColumnKind::Double);
        assert_eq!(ColumnKind::of(&DataType::Utf8), ColumnKind::Text);
        assert_eq!(ColumnKind::of(&DataType::Timestamp(TimeUnit::Microsecond, None)), ColumnKind::Timestamp);
    }

    #[test]
    fn arrays_convert_with_nulls() {
        let mut col = Column::empty(ColumnKind::Double);
        col.extend_from(&Int64Array::from(vec![Some(1), None, Some(1 << 40)])).unwrap();
        assert_eq!(col, Column::Double(vec![Some(1.0), None, Some((1u64 << 40) as f64)]));
        let mut text = Column::empty(ColumnKind::Text);
        text.extend_from(&StringArray::from(vec![Some("a"), None])).unwrap();
        assert_eq!(text, Column::Text(vec![Some("a".into()), None]));
    }
}
