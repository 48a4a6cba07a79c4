//! The database registry: one DuckDB database handle per normalised path (or per in-memory key),
//! shared by every connection of this process, and closed when the last connection goes.
//! It also counts writes, so that the stroke index knows when to check itself again.
use crate::error::{Result, StoreError};
use crate::index::StrokeIndex;
use duckdb::{AccessMode, Config};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// A database opened by this process.
pub struct Database {
    /// The registry key: the normalised path, or `:memory:<key>`.
    pub key: String,
    /// The file, `None` in memory.
    pub path: Option<PathBuf>,
    pub read_only: bool,
    root: Mutex<duckdb::Connection>,
    /// Incremented by every statement that may write (see [`Connection::note_statement`]).
    write_epoch: AtomicU64,
    /// The stroke index and the write epoch at which it was last checked against the tables.
    pub(crate) index: Mutex<Option<(Arc<StrokeIndex>, u64)>>,
}

fn registry() -> &'static Mutex<HashMap<String, Weak<Database>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Weak<Database>>>> = OnceLock::new();
    REGISTRY.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The absolute path with symbolic links and `..` resolved; the file itself may not exist yet.
pub fn normalise_path(dbdir: &str) -> Result<PathBuf> {
    let path = Path::new(dbdir);
    let absolute = std::path::absolute(path)
        .map_err(|e| StoreError::new("argument", format!("cannot resolve database path '{dbdir}': {e}")))?;
    let parent = absolute.parent().unwrap_or(Path::new("/"));
    let name = absolute
        .file_name()
        .ok_or_else(|| StoreError::new("argument", format!("database path '{dbdir}' names no file")))?;
    let parent = parent
        .canonicalize()
        .map_err(|e| StoreError::new("argument", format!("the folder of database '{dbdir}' does not exist: {e}")))?;
    Ok(parent.join(name))
}

/// Opens a database or returns the handle this process already has for it. `memory_key`
/// separates in-memory databases (one per R driver object).
pub fn open_database(dbdir: &str, memory_key: &str, read_only: bool) -> Result<Arc<Database>> {
    let in_memory = dbdir.is_empty() || dbdir == ":memory:";
    let (key, path) = if in_memory {
        (format!(":memory:{memory_key}"), None)
    } else {
        let path = normalise_path(dbdir)?;
        (path.to_string_lossy().into_owned(), Some(path))
    };
    let mut registry = registry().lock().map_err(|_| StoreError::new("internal", "database registry poisoned"))?;
    if let Some(db) = registry.get(&key).and_then(Weak::upgrade) {
        if db.read_only && !read_only {
            return Err(StoreError::new(
                "argument",
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
    crate::feed::register(&root)?;
    let db = Arc::new(Database {
        key: key.clone(),
        path,
        read_only,
        root: Mutex::new(root),
        write_epoch: AtomicU64::new(0),
        index: Mutex::new(None),
    });
    registry.retain(|_, weak| weak.strong_count() > 0);
    registry.insert(key, Arc::downgrade(&db));
    Ok(db)
}

fn open_error(path: &Path, err: duckdb::Error) -> StoreError {
    let text = err.to_string();
    if text.contains("Could not set lock") || text.contains("Conflicting lock") {
        StoreError::new(
            "locked",
            format!(
                "the database {} is in use by another process; close it there first (DuckDB allows \
                 one writing process at a time). DuckDB said: {text}",
                path.display()
            ),
        )
    } else {
        StoreError::new("db", format!("cannot open the database {}: {text}", path.display()))
    }
}

impl Database {
    pub fn write_epoch(&self) -> u64 {
        self.write_epoch.load(Ordering::SeqCst)
    }

    pub fn note_write(&self) {
        self.write_epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// A new DuckDB connection to this database, with its own transactions.
    pub fn connect(self: &Arc<Self>) -> Result<Connection> {
        let root = self.root.lock().map_err(|_| StoreError::new("internal", "database handle poisoned"))?;
        Ok(Connection { db: Arc::clone(self), conn: root.try_clone()?, prefetch: Mutex::new(None) })
    }
}

/// One DBI connection: a DuckDB connection plus the shared database it belongs to.
pub struct Connection {
    pub db: Arc<Database>,
    pub conn: duckdb::Connection,
    /// The batch being rendered in the background for this connection's next `doodle_batch`.
    pub(crate) prefetch: Mutex<Option<crate::batch::Prefetched>>,
}

impl Connection {
    /// Counts a statement as a write unless it can only read, so that the stroke index is checked
    /// against the tables again before it serves the next batch. Being conservative costs at worst
    /// one extra check; missing a write could serve stale rows.
    pub fn note_statement(&self, sql: &str) {
        if !is_read_only_statement(sql) {
            self.db.note_write();
        }
    }
}

/// True for statements that cannot change table contents (SELECT, SHOW, DESCRIBE, ...).
pub fn is_read_only_statement(sql: &str) -> bool {
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
    matches!(word.as_str(), "select" | "show" | "describe" | "explain" | "summarize" | "values" | "from" | "table")
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
    }

    #[test]
    fn one_handle_per_normalised_path() {
        let dir = std::env::temp_dir().join(format!("doodles-db-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("x.duckdb");
        let b = dir.join("sub/../x.duckdb");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let db1 = open_database(a.to_str().unwrap(), "", false).unwrap();
        let db2 = open_database(b.to_str().unwrap(), "", false).unwrap();
        assert!(Arc::ptr_eq(&db1, &db2));
        let m1 = open_database(":memory:", "k1", false).unwrap();
        let m2 = open_database(":memory:", "k2", false).unwrap();
        assert!(!Arc::ptr_eq(&m1, &m2));
        drop((db1, db2));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
