//! The database registry: one DuckDB database handle per normalised path (or per in-memory key),
//! shared by every connection of this process, and closed when the last connection goes.
//!
//! The DuckDB connection of a [`Connection`] is private to this module: every statement goes
//! through a method that counts it as a write unless it can only read, so that the stroke index
//! (kept here too, see [`Connection::stroke_index`]) is checked against the tables again before it
//! serves the next batch, whoever wrote.
use crate::error::{ErrorKind, Result, StoreError};
use crate::index::StrokeIndex;
use duckdb::vtab::VTab;
use duckdb::{AccessMode, Appender, AppenderParams, Config, Params, Row, Statement};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// A database opened by this process.
pub struct Database {
    /// The registry key: the normalised path, or `:memory:<key>`.
    pub key: String,
    /// The file, `None` in memory.
    pub path: Option<PathBuf>,
    pub read_only: bool,
    root: Mutex<duckdb::Connection>,
    /// Incremented by every statement that may write.
    write_epoch: AtomicU64,
    /// Whether this process marked the index file dirty and has not checked it since.
    marked_dirty: AtomicBool,
    /// The stroke index and the write epoch at which it was last checked against the tables.
    index: Mutex<Option<(Arc<StrokeIndex>, u64)>>,
}

fn registry() -> &'static Mutex<HashMap<String, Weak<Database>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Weak<Database>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The absolute path with symbolic links and `..` resolved; the file itself may not exist yet.
pub fn normalise_path(dbdir: &str) -> Result<PathBuf> {
    let path = Path::new(dbdir);
    let absolute = std::path::absolute(path)
        .map_err(|e| StoreError::new(ErrorKind::Argument, format!("cannot resolve database path '{dbdir}': {e}")))?;
    let parent = absolute.parent().unwrap_or(Path::new("/"));
    let name = absolute
        .file_name()
        .ok_or_else(|| StoreError::new(ErrorKind::Argument, format!("database path '{dbdir}' names no file")))?;
    let parent = parent.canonicalize().map_err(|e| {
        StoreError::new(ErrorKind::Argument, format!("the folder of database '{dbdir}' does not exist: {e}"))
    })?;
    Ok(parent.join(name))
}

/// Opens a database or returns the handle this process already has for it. `memory_key`
/// separates in-memory databases (one per R driver object). `setup` runs once, when the database
/// is opened by this process (`crate::open_database` registers the loader's table functions).
pub fn open_database(
    dbdir: &str,
    memory_key: &str,
    read_only: bool,
    setup: impl FnOnce(&Database) -> Result<()>,
) -> Result<Arc<Database>> {
    let in_memory = dbdir.is_empty() || dbdir == ":memory:";
    let (key, path) = if in_memory {
        (format!(":memory:{memory_key}"), None)
    } else {
        let path = normalise_path(dbdir)?;
        (path.to_string_lossy().into_owned(), Some(path))
    };
    let mut registry =
        registry().lock().map_err(|_| StoreError::new(ErrorKind::Internal, "database registry poisoned"))?;
    if let Some(db) = registry.get(&key).and_then(Weak::upgrade) {
        if db.read_only && !read_only {
            return Err(StoreError::new(
                ErrorKind::Argument,
                format!("{key} is already open read-only in this session; disconnect it first"),
            ));
        }
        return Ok(db);
    }
    let root = match &path {
        None => duckdb::Connection::open_in_memory()?,
        Some(path) => {
            let mode = if read_only { AccessMode::ReadOnly } else { AccessMode::ReadWrite };
            let config = Config::default().access_mode(mode)?;
            duckdb::Connection::open_with_flags(path, config).map_err(|e| open_error(path, e))?
        }
    };
    let db = Arc::new(Database {
        key: key.clone(),
        path,
        read_only,
        root: Mutex::new(root),
        write_epoch: AtomicU64::new(0),
        marked_dirty: AtomicBool::new(false),
        index: Mutex::new(None),
    });
    setup(&db)?;
    registry.retain(|_, weak| weak.strong_count() > 0);
    registry.insert(key, Arc::downgrade(&db));
    Ok(db)
}

fn open_error(path: &Path, err: duckdb::Error) -> StoreError {
    let text = err.to_string();
    if text.contains("Could not set lock") || text.contains("Conflicting lock") {
        StoreError::new(
            ErrorKind::Locked,
            format!(
                "the database {} is in use by another process; close it there first (DuckDB allows \
                 one writing process at a time). DuckDB said: {text}",
                path.display()
            ),
        )
    } else {
        StoreError::new(ErrorKind::Database, format!("cannot open the database {}: {text}", path.display()))
    }
}

fn poisoned(what: &str) -> StoreError {
    StoreError::new(ErrorKind::Internal, format!("{what} is poisoned (a thread panicked)"))
}

impl Database {
    pub fn write_epoch(&self) -> u64 {
        self.write_epoch.load(Ordering::SeqCst)
    }

    fn note_write(&self) {
        self.write_epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Marks the index file dirty before a write (once until the next check), so that a process
    /// ending before it checks the index leaves that check to the next one.
    fn before_write(&self) -> Result<()> {
        match &self.path {
            Some(path) if !self.read_only && !self.marked_dirty.load(Ordering::SeqCst) => {
                StrokeIndex::mark_dirty(&StrokeIndex::path_for(path))?;
                self.marked_dirty.store(true, Ordering::SeqCst);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A new DuckDB connection to this database, with its own transactions.
    pub fn connect(self: &Arc<Self>) -> Result<Connection> {
        let root = self.root.lock().map_err(|_| poisoned("the database handle"))?;
        Ok(Connection { db: Arc::clone(self), conn: root.try_clone()? })
    }

    /// Registers the table function `T` as `name` with this database.
    pub(crate) fn register_table_function<T: VTab>(&self, name: &str) -> Result<()> {
        let root = self.root.lock().map_err(|_| poisoned("the database handle"))?;
        Ok(root.register_table_function::<T>(name)?)
    }
}

/// One DBI connection: a DuckDB connection plus the shared database it belongs to.
pub struct Connection {
    db: Arc<Database>,
    conn: duckdb::Connection,
}

impl Connection {
    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }

    /// Before running `sql`: marks the index dirty unless `sql` can only read. Being conservative
    /// costs at worst one extra check of the index; missing a write could serve stale rows.
    fn before_statement(&self, sql: &str) -> Result<()> {
        if is_read_only_statement(sql) {
            Ok(())
        } else {
            self.db.before_write()
        }
    }

    /// After running `sql`: counts it as a write unless it can only read.
    fn note_statement(&self, sql: &str) {
        if !is_read_only_statement(sql) {
            self.db.note_write();
        }
    }

    /// Runs statements (separated by `;`) without results.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        self.before_statement(sql)?;
        let done = self.conn.execute_batch(sql);
        self.note_statement(sql);
        Ok(done?)
    }

    /// Runs one statement; the number of rows it changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        self.before_statement(sql)?;
        let done = self.conn.execute(sql, params);
        self.note_statement(sql);
        Ok(done?)
    }

    /// The first row of a query, through `read`.
    pub fn query_row<T, P: Params>(
        &self,
        sql: &str,
        params: P,
        read: impl FnOnce(&Row<'_>) -> duckdb::Result<T>,
    ) -> Result<T> {
        self.before_statement(sql)?;
        let row = self.conn.query_row(sql, params, read);
        self.note_statement(sql);
        Ok(row?)
    }

    /// Prepares `sql` for `body`, which may run it any number of times; counted as a write (unless
    /// it can only read) after `body`.
    pub fn with_statement<T>(&self, sql: &str, body: impl FnOnce(&mut Statement<'_>) -> Result<T>) -> Result<T> {
        self.before_statement(sql)?;
        let outcome = self.conn.prepare(sql).map_err(StoreError::from).and_then(|mut stmt| body(&mut stmt));
        self.note_statement(sql);
        outcome
    }

    /// An appender to `table` (to the named columns only, if any); counted as a write.
    pub fn appender(&self, table: &str, columns: Option<&[&str]>) -> Result<Appending<'_>> {
        self.appender_in(None, table, columns)
    }

    /// As [`Connection::appender`], to a table of `schema` when given.
    pub fn appender_in(&self, schema: Option<&str>, table: &str, columns: Option<&[&str]>) -> Result<Appending<'_>> {
        self.db.before_write()?;
        let appender = match (schema, columns) {
            (Some(schema), Some(columns)) => self.conn.appender_with_columns_to_db(table, schema, columns)?,
            (Some(schema), None) => self.conn.appender_to_db(table, schema)?,
            (None, Some(columns)) => self.conn.appender_with_columns(table, columns)?,
            (None, None) => self.conn.appender(table)?,
        };
        Ok(Appending { appender, db: &self.db })
    }

    /// Whether a transaction is open on this connection (dbBegin()). DuckDB gives each statement
    /// outside one a transaction of its own, so two statements see the same transaction id only
    /// inside one (duckdb-rs' `is_autocommit` is always true).
    pub fn in_transaction(&self) -> Result<bool> {
        let id = || self.conn.query_row("SELECT txid_current()", [], |r| r.get::<_, i64>(0));
        Ok(id()? == id()?)
    }

    pub fn duckdb_version(&self) -> Result<String> {
        Ok(self.conn.version()?)
    }

    /// Runs `body` on one consistent snapshot: in a transaction of its own, or in the one the
    /// caller has open (never a BEGIN inside it). The COMMIT of a transaction of its own only ends
    /// a read, but its failure is still an error.
    fn in_snapshot<T>(&self, body: impl FnOnce(&duckdb::Connection) -> Result<T>) -> Result<T> {
        if self.in_transaction()? {
            return body(&self.conn);
        }
        self.conn.execute_batch("BEGIN TRANSACTION")?;
        match body(&self.conn) {
            Ok(value) => {
                self.conn.execute_batch("COMMIT")?;
                Ok(value)
            }
            Err(err) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(err)
            }
        }
    }

    /// The stroke index of the database: the one this process checked at the current write
    /// epoch; else checked against the tables (fully if anything may have been written since it
    /// was last checked, quickly if it was just opened and is not marked dirty, see
    /// `crate::index`) and rebuilt if it does not match.
    pub fn stroke_index(&self) -> Result<Arc<StrokeIndex>> {
        self.index_at_epoch(false)
    }

    /// Builds the stroke index anew from the tables, whatever the checks would say.
    pub fn rebuild_stroke_index(&self) -> Result<Arc<StrokeIndex>> {
        self.index_at_epoch(true)
    }

    /// The index for the current write epoch: checked (or, with `rebuild`, built anew) and kept.
    fn index_at_epoch(&self, rebuild: bool) -> Result<Arc<StrokeIndex>> {
        let epoch = self.db.write_epoch();
        let mut slot = self.db.index.lock().map_err(|_| poisoned("the stroke index"))?;
        if let Some((index, checked)) = slot.as_ref() {
            if *checked == epoch && !rebuild {
                return Ok(Arc::clone(index));
            }
        }
        let path = self.db.path.as_deref().map(StrokeIndex::path_for);
        let matching = match slot.take() {
            _ if rebuild => None,
            Some((index, _)) => self.in_snapshot(|conn| index.matches(conn))?.then_some(index),
            None => match path.as_deref().and_then(|p| StrokeIndex::open(p).ok()) {
                Some(index) => self.in_snapshot(|conn| index.matches_quickly(conn))?.then(|| Arc::new(index)),
                None => None,
            },
        };
        // Rows a transaction of the caller's has not committed yet may be rolled back, also by a
        // crash: an index that holds them is left marked dirty for the next process.
        let uncommitted = self.in_transaction()?;
        let index = match matching {
            Some(index) => {
                if !uncommitted
                    && !self.db.read_only
                    && (index.is_dirty() || self.db.marked_dirty.load(Ordering::SeqCst))
                {
                    index.mark_clean();
                }
                index
            }
            None => self.build_index(uncommitted)?,
        };
        if !uncommitted {
            self.db.marked_dirty.store(false, Ordering::SeqCst);
        }
        *slot = Some((Arc::clone(&index), self.db.write_epoch()));
        Ok(index)
    }

    /// Builds the index file (it replaces the old one only when complete); `uncommitted`: see
    /// [`Connection::stroke_index`].
    fn build_index(&self, uncommitted: bool) -> Result<Arc<StrokeIndex>> {
        let built = match self.db.path.as_deref().map(StrokeIndex::path_for) {
            // A read-only database's folder may not be writable: keep the index in memory then.
            Some(p) => {
                self.in_snapshot(|conn| StrokeIndex::build(conn, Some(&p))).or_else(|err| match self.db.read_only {
                    true => self.in_snapshot(|conn| StrokeIndex::build(conn, None)),
                    false => Err(err),
                })?
            }
            None => self.in_snapshot(|conn| StrokeIndex::build(conn, None))?,
        };
        if uncommitted {
            if let Some(p) = &built.path {
                StrokeIndex::mark_dirty(p)?;
            }
        }
        Ok(Arc::new(built))
    }
}

/// DuckDB's appender, counted as a write when it is dropped (it flushes its last rows then).
pub struct Appending<'a> {
    appender: Appender<'a>,
    db: &'a Database,
}

impl Appending<'_> {
    pub fn append_row<P: AppenderParams>(&mut self, row: P) -> Result<()> {
        Ok(self.appender.append_row(row)?)
    }

    /// Writes the appended rows now (a failure shows here rather than at drop).
    pub fn flush(&mut self) -> Result<()> {
        Ok(self.appender.flush()?)
    }
}

impl Drop for Appending<'_> {
    fn drop(&mut self) {
        self.db.note_write();
    }
}

/// True for one statement that cannot change table contents (SELECT, SHOW, DESCRIBE, ...). Several
/// statements (DuckDB runs all of them) count as a write, as does a `;` inside a string.
pub fn is_read_only_statement(sql: &str) -> bool {
    if sql.trim_end().trim_end_matches(';').contains(';') {
        return false;
    }
    let mut rest = sql.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map(|(_, tail)| tail).unwrap_or("").trim_start();
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map(|(_, tail)| tail).unwrap_or("").trim_start();
        } else if let Some(after) = rest.strip_prefix('(') {
            rest = after.trim_start();
        } else {
            break;
        }
    }
    let word: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect::<String>().to_ascii_lowercase();
    // SET and RESET change settings, never table contents.
    matches!(
        word.as_str(),
        "select" | "show" | "describe" | "explain" | "summarize" | "values" | "from" | "table" | "set" | "reset"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_statements_are_recognised() {
        assert!(is_read_only_statement("  select 1"));
        assert!(is_read_only_statement("-- note\n(SELECT 1)"));
        assert!(is_read_only_statement("/* x */ FROM doodles"));
        assert!(!is_read_only_statement("UPDATE doodles SET id = 1"));
        assert!(!is_read_only_statement("WITH x AS (SELECT 1) DELETE FROM doodles"));
        assert!(!is_read_only_statement("insert into t values (1)"));
        assert!(is_read_only_statement("SELECT 1;"));
        assert!(!is_read_only_statement("SELECT 1; DELETE FROM doodles"));
        assert!(is_read_only_statement("SET memory_limit = '160MB'"));
    }

    #[test]
    fn one_handle_per_normalised_path() {
        let dir = std::env::temp_dir().join(format!("doodles-db-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("x.duckdb");
        let b = dir.join("sub/../x.duckdb");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let open = |dbdir: &str, key: &str| open_database(dbdir, key, false, |_| Ok(())).unwrap();
        let db1 = open(a.to_str().unwrap(), "");
        let db2 = open(b.to_str().unwrap(), "");
        assert!(Arc::ptr_eq(&db1, &db2));
        let m1 = open(":memory:", "k1");
        let m2 = open(":memory:", "k2");
        assert!(!Arc::ptr_eq(&m1, &m2));
        let conn = m1.connect().unwrap();
        assert!(!conn.in_transaction().unwrap());
        conn.execute_batch("BEGIN TRANSACTION").unwrap();
        assert!(conn.in_transaction().unwrap());
        assert!(!m1.connect().unwrap().in_transaction().unwrap());
        conn.execute_batch("COMMIT").unwrap();
        assert!(!conn.in_transaction().unwrap());
        drop((db1, db2));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
