//! R glue for doodles-store: converts arguments and results, nothing else. Connections, results
//! and loads are external pointers ([`Handle`]); dropping them (dbDisconnect, dbClearResult or R's
//! garbage collector) closes them.
//!
//! - `dbi`: connections and results for the DBI methods; `columns` converts their values.
//! - `load`: loading files, the schema, labels and ids after a load, the stroke index.
//! - `batches`: batches of drawings through the stroke index, and the next one rendered ahead.
//! - `synthetic`: drawings made up in the Kaggle layout.
mod batches;
mod columns;
mod dbi;
mod load;
mod synthetic;

use crate::errors::RError;
use doodles_store::batch::NextBatch;
use doodles_store::db::Connection;
use extendr_api::prelude::*;
use std::cell::RefCell;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// A connection, the batch rendered ahead for its next store_batch call, and the flag its
/// producers read to refuse work once it is closed.
pub(crate) struct Open {
    pub(crate) conn: Connection,
    ahead: NextBatch,
    pub(crate) closed: Arc<AtomicBool>,
}

/// What R holds as an external pointer to a `RefCell<Option<Self>>`: `None` once its owner closed
/// it, so that every function taking it tells R the same thing about a stale handle.
pub(crate) trait Handle: Sized + 'static {
    /// The error for an R object that is not such a handle.
    const NOT_OURS: &'static str;
    /// The error for a pointer R has cleared (a handle saved and restored in another session).
    const GONE: &'static str;
    /// The error for a handle its owner closed.
    const CLOSED: &'static str;

    /// The external pointer R keeps.
    fn into_robj(self) -> Robj {
        ExternalPtr::new(RefCell::new(Some(self))).into()
    }
}

impl Handle for Open {
    const NOT_OURS: &'static str = "not a doodles connection";
    const GONE: &'static str = "the connection has been closed";
    const CLOSED: &'static str = "the connection has been closed (dbDisconnect)";
}

/// Runs `body` on what the external pointer `handle` holds, or says why it cannot (see [`Handle`]).
/// The one way in to a handle, for every function of the glue.
pub(crate) fn with_handle<H: Handle, T>(
    handle: &Robj,
    body: impl FnOnce(&mut H) -> Result<T, RError>,
) -> Result<T, RError> {
    let pointer = <&ExternalPtr<RefCell<Option<H>>>>::try_from(handle).map_err(|_| RError::argument(H::NOT_OURS))?;
    let cell = pointer.try_addr().map_err(|_| RError::argument(H::GONE))?;
    let mut guard = cell.borrow_mut();
    let held = guard.as_mut().ok_or_else(|| RError::argument(H::CLOSED))?;
    body(held)
}

/// Drops what a handle holds, once; whether it was still open.
fn close_handle<H: Handle>(handle: &Robj) -> Result<bool, RError> {
    let pointer = <&ExternalPtr<RefCell<Option<H>>>>::try_from(handle).map_err(|_| RError::argument(H::NOT_OURS))?;
    Ok(match pointer.try_addr() {
        Ok(cell) => cell.borrow_mut().take().is_some(),
        Err(_) => false,
    })
}

pub(crate) fn ids_arg(ids: &Robj, what: &str) -> Result<Vec<i64>, RError> {
    let bad = |i: usize| RError::argument(format!("{what}[{}] is not a whole number", i + 1));
    if let Some(ints) = ids.as_integer_slice() {
        ints.iter().enumerate().map(|(i, &v)| if v == i32::MIN { Err(bad(i)) } else { Ok(i64::from(v)) }).collect()
    } else if let Some(reals) = ids.as_real_slice() {
        reals
            .iter()
            .enumerate()
            .map(|(i, &v)| if v.is_finite() && v.fract() == 0.0 { Ok(v as i64) } else { Err(bad(i)) })
            .collect()
    } else {
        Err(RError::argument(format!("{what} must be numeric")))
    }
}

// The order of the modules is the order of the functions in R/extendr-wrappers.R.
extendr_module! {
    mod store;
    use dbi;
    use load;
    use batches;
    use synthetic;
}
