//! The transaction a load's files share: begun before the first file not yet loaded, committed
//! with the files' `upload_log` rows once it holds enough rows, rolled back after a database error.
use super::{schema, Loader, OpenTransaction};
use crate::db::Connection;
use crate::error::{ErrorKind, Result, StoreError};

impl Loader {
    /// Commits the open transaction, if any.
    pub fn finish(&mut self, conn: &Connection) -> Result<()> {
        let Some(open) = &self.open else {
            return Ok(());
        };
        let committed = schema::write_log(conn, &open.log).and_then(|()| conn.execute_batch("COMMIT"));
        match committed {
            Ok(()) => {
                self.open = None;
                Ok(())
            }
            Err(err) => {
                self.rollback(conn);
                Err(err)
            }
        }
    }

    /// Deletes the rows of the open transaction from id `first` on (a refused file's).
    pub(super) fn delete_from(&self, conn: &Connection, first: Option<i64>) -> Result<()> {
        if let Some(first) = first {
            conn.execute(&format!("DELETE FROM {} WHERE id >= ?", self.target.table()), [first])?;
        }
        Ok(())
    }

    /// Rolls back the open transaction and forgets what was learnt of its files.
    pub(super) fn rollback(&mut self, conn: &Connection) {
        if let Some(open) = self.open.take() {
            let _ = conn.execute_batch("ROLLBACK");
            if let Some(logged) = self.logged.as_mut() {
                for entry in &open.log {
                    logged.remove(&entry.outcome.name);
                }
            }
            self.next_id = None;
        }
    }

    /// Begins a transaction unless one is open; refuses to run inside the caller's own.
    pub(super) fn begin(&mut self, conn: &Connection) -> Result<()> {
        if self.open.is_some() {
            return Ok(());
        }
        if conn.in_transaction()? {
            return Err(StoreError::new(
                ErrorKind::Argument,
                "a transaction is open on this connection (dbBegin()); a load commits its own \
                 transactions: dbCommit() or dbRollback() first",
            ));
        }
        conn.execute_batch("BEGIN TRANSACTION")?;
        self.open = Some(OpenTransaction { rows: 0, log: Vec::new() });
        Ok(())
    }
}
