//! R values to the store's columns and back: query parameters and appended data frames in,
//! fetched results out.
use crate::errors::RError;
use doodles_store::convert::{Column, ColumnKind};
use extendr_api::prelude::*;

/// The columns of a list of R vectors, `kinds` naming their types (see `store_query`).
pub(super) fn columns_from_r(values: Robj, kinds: Robj) -> Result<Vec<Column>, RError> {
    let list = List::try_from(values).map_err(|_| RError::argument("values must be a list"))?;
    let kinds = kinds.as_str_vector().ok_or_else(|| RError::argument("kinds must be a character vector"))?;
    list.values()
        .zip(kinds)
        .map(|(value, kind)| {
            let kind = ColumnKind::from_name(kind).ok_or_else(|| RError::argument(format!("unknown kind {kind}")))?;
            column_from_r(&value, kind)
        })
        .collect()
}

/// One R vector as a column of `kind`; NA becomes NULL.
fn column_from_r(value: &Robj, kind: ColumnKind) -> Result<Column, RError> {
    let bad = || RError::argument(format!("cannot bind a parameter of type {:?} as {}", value.rtype(), kind.name()));
    Ok(match kind {
        ColumnKind::Logical => Column::Logical(
            value.as_logical_slice().ok_or_else(bad)?.iter().map(|b| (!b.is_na()).then(|| b.is_true())).collect(),
        ),
        ColumnKind::Integer => Column::Integer(
            value.as_integer_slice().ok_or_else(bad)?.iter().map(|&i| (i != i32::MIN).then_some(i)).collect(),
        ),
        ColumnKind::Double | ColumnKind::Timestamp | ColumnKind::Date | ColumnKind::Time => {
            let values: Vec<Option<f64>> =
                value.as_real_slice().ok_or_else(bad)?.iter().map(|&x| (!x.is_nan()).then_some(x)).collect();
            match kind {
                ColumnKind::Timestamp => Column::Timestamp(values),
                ColumnKind::Date => Column::Date(values),
                ColumnKind::Time => Column::Time(values),
                _ => Column::Double(values),
            }
        }
        ColumnKind::Text => {
            let strings = Strings::try_from(value.clone()).map_err(|_| bad())?;
            Column::Text(strings.iter().map(|s| (!s.is_na()).then(|| s.to_string())).collect())
        }
        ColumnKind::Blob => {
            let list = List::try_from(value.clone()).map_err(|_| bad())?;
            Column::Blob(list.values().map(|item| item.as_raw_slice().map(<[u8]>::to_vec)).collect())
        }
    })
}

/// A column as the R vector DBI returns (dates and times with their classes).
pub(super) fn column_to_r(column: Column) -> Robj {
    fn doubles(values: Vec<Option<f64>>) -> Robj {
        Doubles::from_values(values.into_iter().map(Rfloat::from)).into()
    }
    match column {
        Column::Logical(v) => Logicals::from_values(v.into_iter().map(Rbool::from)).into(),
        Column::Integer(v) => Integers::from_values(v.into_iter().map(Rint::from)).into(),
        Column::Double(v) => doubles(v),
        Column::Text(v) => {
            let mut strings = Strings::new(v.len());
            for (i, s) in v.into_iter().enumerate() {
                strings.set_elt(i, Rstr::from(s));
            }
            strings.into()
        }
        Column::Timestamp(v) => {
            let mut r = doubles(v);
            let _ = r.set_class(&["POSIXct", "POSIXt"]);
            let _ = r.set_attrib("tzone", "UTC");
            r
        }
        Column::Date(v) => {
            let mut r = doubles(v);
            let _ = r.set_class(&["Date"]);
            r
        }
        Column::Time(v) => {
            let mut r = doubles(v);
            let _ = r.set_class(&["difftime"]);
            let _ = r.set_attrib("units", "secs");
            r
        }
        Column::Blob(v) => {
            let items: Vec<Robj> =
                v.into_iter().map(|b| b.map_or(().into(), |bytes| Raw::from_bytes(&bytes).into())).collect();
            List::from_values(items).into()
        }
    }
}
