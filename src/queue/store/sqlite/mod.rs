//! The SQLite backend: one file in WAL mode with a busy timeout, so a TUI
//! polling while workers write never sees "database is locked". The only
//! module that names the driver; its errors become [`StoreError`] here.

mod history;
mod ledger;
mod queue;
mod schema;
mod workers;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, Row, TransactionBehavior};

use super::record::RunRecord;
use super::row::columns_for;
use crate::queue::error::{StoreError, StoreResult};
use crate::queue::run::Run;
use schema::{APPLICATION_ID, LATEST, MIGRATIONS};

/// The database's file name in the data folder.
pub const DB_FILE: &str = "atelier.db";

/// How long a writer waits for another before giving up.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub struct SqliteBackend {
    conn: Connection,
    path: PathBuf,
    /// Opened read-only (the file or its folder is not writable by this
    /// user): readable, no journal mode change, no migration.
    read_only: bool,
}

/// Its files stay in the data folder, where every worker on this host finds
/// them: it keeps no blobs.
impl super::BlobStore for SqliteBackend {}

impl SqliteBackend {
    /// Opens (creating if needed) the database at `path`. A file that is
    /// not an atelier database is refused and left untouched.
    pub fn open(path: &Path) -> StoreResult<Self> {
        // The file is only ever read through SQLite: reading it any other way
        // (say, to check its header) and closing that descriptor would drop
        // every POSIX lock this process holds on it, and the next process to
        // close its connection would take itself for the last one and delete
        // the WAL that this process's other stores still write to.
        let folder = path.parent().unwrap_or(Path::new("."));
        let read_only = path.exists() && !(writable(path) && writable(folder));
        let conn = if read_only {
            open_read_only(path)
        } else {
            Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        }
        .map_err(|e| db_err(path, e))?;
        let mut backend = SqliteBackend {
            conn,
            path: path.to_path_buf(),
            read_only,
        };
        backend.init()?;
        Ok(backend)
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        db_err(&self.path, e)
    }

    fn init(&mut self) -> StoreResult<()> {
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| self.err(e))?;
        let pragma = |c: &Connection, name: &str| -> rusqlite::Result<i64> {
            c.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
        };
        let app = pragma(&self.conn, "application_id").map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::NotADatabase => {
                StoreError::Foreign {
                    path: self.path.clone(),
                    reason: "not a SQLite file".into(),
                }
            }
            e => self.err(e),
        })?;
        let version = pragma(&self.conn, "user_version").map_err(|e| self.err(e))?;
        if app != APPLICATION_ID {
            let tables: i64 = self
                .conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(|e| self.err(e))?;
            if app != 0 || version != 0 || tables > 0 {
                return Err(StoreError::Foreign {
                    path: self.path.clone(),
                    reason: format!("it holds {tables} other tables, application id {app:#x}"),
                });
            }
        }
        if version > LATEST {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: version,
                known: LATEST,
            });
        }
        if self.read_only {
            if version < LATEST {
                return Err(StoreError::Database {
                    path: self.path.clone(),
                    reason: format!(
                        "read-only, and its schema {version} needs an upgrade to {LATEST}: open it once with write access"
                    ),
                });
            }
            return self
                .conn
                .execute_batch("PRAGMA foreign_keys = ON;")
                .map_err(|e| self.err(e));
        }
        // Only now, knowing the file is ours, change its journal mode.
        let mode: String = self
            .conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        if mode != "wal" {
            return Err(StoreError::Database {
                path: self.path.clone(),
                reason: format!("cannot use WAL journal mode (got {mode})"),
            });
        }
        self.conn
            .execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
            .map_err(|e| self.err(e))?;
        if version < LATEST {
            let tx = self.immediate()?;
            // Re-read under the lock: another process may have migrated meanwhile.
            let v: i64 = pragma(&tx, "user_version").map_err(|e| self.err(e))?;
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(v as usize) {
                tx.execute_batch(sql).map_err(|e| self.err(e))?;
                tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                    .map_err(|e| self.err(e))?;
            }
            tx.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))
                .map_err(|e| self.err(e))?;
            tx.commit().map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// A transaction holding the write lock from its start: for writes of
    /// several rows that belong together (a migration, a reorder, a ledger
    /// item and its runs), never for the exclusivity of a status change.
    fn immediate(&self) -> StoreResult<rusqlite::Transaction<'_>> {
        rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))
    }

    /// The rows `sql` selects, each read by `read`.
    fn rows<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> StoreResult<Vec<T>> {
        rows_in(&self.conn, sql, params, read).map_err(|e| self.err(e))
    }

    /// Rows changed by `sql` on the connection.
    fn execute(&self, sql: &str, params: impl rusqlite::Params) -> StoreResult<usize> {
        self.conn.execute(sql, params).map_err(|e| self.err(e))
    }

    /// Runs whose rows `sql` (selecting [`super::record::RUN_COLUMNS`])
    /// returns.
    fn runs(&self, sql: &str, params: impl rusqlite::Params) -> StoreResult<Vec<Run>> {
        self.rows(sql, params, |r| RunRecord::read(r))?
            .into_iter()
            .map(|r| r.into_run_at(&self.path))
            .collect()
    }
}

columns_for!(Row<'_>, rusqlite::Error, get);

/// The rows `sql` selects on `conn` (or a transaction), each read by `read`.
fn rows_in<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, read)?;
    rows.collect()
}

/// Whether this user may write `path` (the euid's view, as SQLite's open).
fn writable(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated string for the call's duration.
    unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
}

/// Opens a database this user may not write without creating anything
/// beside it: a read-only connection on a WAL database would otherwise
/// create `-shm` and `-wal` (with the database's read-only mode, owned by
/// this user) and leave them for the owner to trip on. With no `-wal`
/// there is nothing but the file to read, so it is opened `immutable`
/// (no locks, no `-shm`); with one (a writer is at work), read-only
/// through the files that writer made.
fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    use std::os::unix::ffi::OsStrExt;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?mode=ro");
    if !Path::new(&wal).exists() {
        uri.push_str("&immutable=1");
    }
    Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

/// A driver error as the store's: SQLite's text, naming the file.
fn db_err(path: &Path, e: rusqlite::Error) -> StoreError {
    let reason = e.to_string();
    if reason.contains("not a database") {
        return StoreError::Foreign {
            path: path.to_path_buf(),
            reason,
        };
    }
    StoreError::Database {
        path: path.to_path_buf(),
        reason,
    }
}

/// Inserts a queued run at the end of the queue under an id of at least
/// `min_id`, inside the caller's transaction; shared by the queue and the
/// ledger.
fn insert_run(conn: &Connection, run: &super::NewRun, min_id: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        "INSERT INTO runs (id, created, status, priority, position, kind, spec, inputs,
                           device_kind, device_defaults)
         VALUES (max(?6, (SELECT coalesce(max(id), 0) + 1 FROM runs)), ?1, 'queued', ?2,
                 (SELECT coalesce(max(position), 0) + 1 FROM runs), ?3, ?4, ?5, ?7, ?8)
         RETURNING id",
        rusqlite::params![
            crate::queue::run::now(),
            run.priority,
            run.kind,
            run.spec,
            run.inputs,
            min_id,
            run.device_kind
                .map(crate::engine::infra::device::DeviceKind::as_str),
            run.device_defaults,
        ],
        |r| r.get(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::store::{NewRun, QueueStore};

    /// A real SQLITE_FULL (the database held at its size by
    /// `max_page_count`) is a full disk.
    #[test]
    fn sqlite_full_is_a_full_disk() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteBackend::open(&dir.path().join(DB_FILE)).unwrap();
        let pages: i64 = db
            .conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        let _: i64 = db
            .conn
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                r.get(0)
            })
            .unwrap();
        let run = NewRun {
            kind: "stylize".into(),
            spec: "{}".repeat(100),
            inputs: "[]".into(),
            priority: 0,
            device_kind: None,
            device_defaults: None,
        };
        let full = (0..1000)
            .find_map(|_| db.enqueue(&run, 1).err())
            .expect("the database never filled up");
        assert!(full.is_disk_full(), "{full}");
    }
}
