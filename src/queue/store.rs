//! The run store: SQLite in WAL mode with a busy timeout, so a TUI polling while
//! workers write never sees "database is locked". Every write that must be
//! atomic (claiming a run, reordering) is one immediate transaction.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};

use super::error::{StoreError, StoreResult};
use super::run::{now, FinalLosses, Input, Run, Sample, Status};
use super::schema::{APPLICATION_ID, LATEST, MIGRATIONS};
use crate::engine::spec::RunSpec;

const DB_FILE: &str = "atelier.db";
/// How long a writer waits for another before giving up.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Which runs to list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub statuses: Vec<Status>,
    /// Substring of a style input's path.
    pub style: Option<String>,
    pub limit: Option<usize>,
}

/// A worker as registered in the store.
#[derive(Clone, Debug, serde::Serialize)]
pub struct WorkerInfo {
    pub id: String,
    pub pid: i64,
    pub host: String,
    pub device: String,
    pub started: f64,
    pub heartbeat: f64,
    pub current_run: Option<i64>,
}

pub struct Store {
    pub(super) conn: Connection,
    pub(super) path: PathBuf,
    data_dir: PathBuf,
}

const RUN_COLUMNS: &str = "id, created, status, priority, spec, inputs, output, device, worker,
    started, finished, heartbeat, evals, best_eval, stop, loss_style, loss_content, loss_tv,
    loss_total, error, cancel_requested, attempts, resume_from, resume_eval";

impl Store {
    /// Opens (creating if needed) the store in `data_dir`. A file that is not an
    /// atelier database is refused and left untouched.
    pub fn open(data_dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::io(data_dir, e))?;
        let path = data_dir.join(DB_FILE);
        // The file is only ever read through SQLite: reading it any other way
        // (say, to check its header) and closing that descriptor would drop
        // every POSIX lock this process holds on it, and the next process to
        // close its connection would take itself for the last one and delete
        // the WAL that this process's other stores still write to.
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| db_err(&path, e))?;
        let mut store = Store {
            conn,
            path,
            data_dir: data_dir.to_path_buf(),
        };
        store.init()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The folder holding a run's files (output, snapshots, thumbnail).
    pub fn run_dir(&self, id: i64) -> PathBuf {
        self.data_dir.join("runs").join(id.to_string())
    }

    pub(super) fn err(&self, e: rusqlite::Error) -> StoreError {
        db_err(&self.path, e)
    }

    fn init(&mut self) -> StoreResult<()> {
        self.conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| db_err(&self.path, e))?;
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
            let path = self.path.clone();
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| db_err(&path, e))?;
            // Re-read under the lock: another process may have migrated meanwhile.
            let v: i64 = tx
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(|e| db_err(&path, e))?;
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(v as usize) {
                tx.execute_batch(sql).map_err(|e| db_err(&path, e))?;
                tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
                    .map_err(|e| db_err(&path, e))?;
            }
            tx.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))
                .map_err(|e| db_err(&path, e))?;
            tx.commit().map_err(|e| db_err(&path, e))?;
        }
        Ok(())
    }

    /// Queues a validated spec; returns the new run's id.
    pub fn add(&self, spec: &RunSpec, inputs: &[Input], priority: i64) -> StoreResult<i64> {
        spec.validate()?;
        let spec_json = serde_json::to_string(spec).map_err(|e| StoreError::Spec(e.to_string()))?;
        let inputs_json =
            serde_json::to_string(inputs).map_err(|e| StoreError::Spec(e.to_string()))?;
        insert_run(&self.conn, &spec_json, &inputs_json, priority).map_err(|e| self.err(e))
    }

    pub fn get(&self, id: i64) -> StoreResult<Run> {
        self.conn
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                [id],
                row_to_run,
            )
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or(StoreError::NoSuchRun(id))?
            .map_err(|reason| StoreError::Database {
                path: self.path.clone(),
                reason: format!("run {id}: {reason}"),
            })
    }

    /// Runs matching `filter`, newest first.
    pub fn list(&self, filter: &Filter) -> StoreResult<Vec<Run>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC"))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], row_to_run).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for r in rows {
            let run = r
                .map_err(|e| self.err(e))?
                .map_err(|reason| StoreError::Database {
                    path: self.path.clone(),
                    reason,
                })?;
            if !filter.statuses.is_empty() && !filter.statuses.contains(&run.status) {
                continue;
            }
            if let Some(s) = &filter.style {
                let s = s.to_lowercase();
                let hit = run.inputs.iter().any(|i| {
                    i.role == "style" && i.path.to_string_lossy().to_lowercase().contains(&s)
                });
                if !hit {
                    continue;
                }
            }
            out.push(run);
            if filter.limit.is_some_and(|l| out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }

    /// Running runs, then queued runs in the order they will be taken.
    pub fn queue(&self) -> StoreResult<Vec<Run>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE status IN ('running', 'queued')
                 ORDER BY status = 'queued', priority DESC, position, id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], row_to_run).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(
                r.map_err(|e| self.err(e))?
                    .map_err(|reason| StoreError::Database {
                        path: self.path.clone(),
                        reason,
                    })?,
            );
        }
        Ok(out)
    }

    /// Takes the next queued run for `worker`, atomically: one UPDATE picks and
    /// marks it, so two workers can never take the same run.
    pub fn claim(&self, worker: &str, device: &str) -> StoreResult<Option<Run>> {
        let t = now();
        let id: Option<i64> = self
            .conn
            .query_row(
                "UPDATE runs SET status = 'running', worker = ?1, device = ?2, started = ?3,
                        heartbeat = ?3, attempts = attempts + 1, error = NULL, finished = NULL
                 WHERE id = (SELECT id FROM runs WHERE status = 'queued'
                             ORDER BY priority DESC, position, id LIMIT 1)
                   AND status = 'queued'
                 RETURNING id",
                params![worker, device, t],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        id.map(|id| self.get(id)).transpose()
    }

    /// Records that `worker` is alive and on `run`.
    pub fn heartbeat(&self, run: i64, worker: &str) -> StoreResult<()> {
        let t = now();
        self.conn
            .execute(
                "UPDATE runs SET heartbeat = ?1 WHERE id = ?2 AND worker = ?3 AND status = 'running'",
                params![t, run, worker],
            )
            .map_err(|e| self.err(e))?;
        self.conn
            .execute(
                "UPDATE workers SET heartbeat = ?1, current_run = ?2 WHERE id = ?3",
                params![t, run, worker],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Appends loss samples in one transaction (samples of a resumed attempt
    /// replace those with the same evaluation number).
    pub fn add_samples(&mut self, run: i64, samples: &[Sample]) -> StoreResult<()> {
        if samples.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_err(&path, e))?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO losses (run_id, eval, style, content, tv, total, seconds)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(|e| db_err(&path, e))?;
            for s in samples {
                stmt.execute(params![
                    run, s.eval, s.style, s.content, s.tv, s.total, s.seconds
                ])
                .map_err(|e| db_err(&path, e))?;
            }
        }
        tx.commit().map_err(|e| db_err(&path, e))
    }

    /// Loss samples of a run, in evaluation order.
    pub fn samples(&self, run: i64) -> StoreResult<Vec<Sample>> {
        let mut stmt = self
            .conn
            .prepare("SELECT eval, style, content, tv, total, seconds FROM losses WHERE run_id = ?1 ORDER BY eval")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run], |r| {
                Ok(Sample {
                    eval: r.get(0)?,
                    style: r.get(1)?,
                    content: r.get(2)?,
                    tv: r.get(3)?,
                    total: r.get(4)?,
                    seconds: r.get(5)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn cancel_requested(&self, run: i64) -> StoreResult<bool> {
        self.conn
            .query_row(
                "SELECT cancel_requested FROM runs WHERE id = ?1",
                [run],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
            .map(|v: Option<bool>| v.unwrap_or(true))
    }

    /// Marks a running run done with its results.
    pub fn finish_done(
        &self,
        id: i64,
        output: &Path,
        evals: i64,
        best_eval: i64,
        stop: &str,
        losses: FinalLosses,
    ) -> StoreResult<()> {
        self.conn
            .execute(
                "UPDATE runs SET status = 'done', finished = ?2, output = ?3, evals = ?4,
                        best_eval = ?5, stop = ?6, loss_style = ?7, loss_content = ?8,
                        loss_tv = ?9, loss_total = ?10, error = NULL, resume_from = NULL,
                        resume_eval = NULL
                 WHERE id = ?1",
                params![
                    id,
                    now(),
                    output.to_string_lossy(),
                    evals,
                    best_eval,
                    stop,
                    losses.style,
                    losses.content,
                    losses.tv,
                    losses.total
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn finish_failed(&self, id: i64, error: &str) -> StoreResult<()> {
        self.conn
            .execute(
                "UPDATE runs SET status = 'failed', finished = ?2, error = ?3 WHERE id = ?1",
                params![id, now(), error],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn finish_cancelled(&self, id: i64) -> StoreResult<()> {
        self.conn
            .execute(
                "UPDATE runs SET status = 'cancelled', finished = ?2 WHERE id = ?1",
                params![id, now()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Puts a run back at the head of the queue (its worker is stopping), to be
    /// resumed from `resume` (snapshot, evaluations done) when given.
    pub fn requeue(&self, id: i64, resume: Option<(&Path, i64)>) -> StoreResult<()> {
        self.conn
            .execute(
                "UPDATE runs SET status = 'queued', worker = NULL, heartbeat = NULL,
                        position = (SELECT coalesce(min(position), 0) - 1 FROM runs),
                        resume_from = coalesce(?2, resume_from), resume_eval = coalesce(?3, resume_eval)
                 WHERE id = ?1 AND status = 'running'",
                params![id, resume.map(|r| r.0.to_string_lossy().into_owned()), resume.map(|r| r.1)],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Records a snapshot the run can resume from.
    pub fn set_resume_point(&self, id: i64, snapshot: &Path, eval: i64) -> StoreResult<()> {
        self.conn
            .execute(
                "UPDATE runs SET resume_from = ?2, resume_eval = ?3 WHERE id = ?1",
                params![id, snapshot.to_string_lossy(), eval],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Cancels a run: a queued or interrupted one at once; a running one is
    /// flagged, and its worker stops it within one evaluation. Returns the
    /// status after the call.
    pub fn cancel(&self, id: i64) -> StoreResult<Status> {
        let run = self.get(id)?;
        match run.status {
            Status::Queued | Status::Interrupted => {
                self.conn
                    .execute(
                        "UPDATE runs SET status = 'cancelled', finished = ?2 WHERE id = ?1 AND status IN ('queued', 'interrupted')",
                        params![id, now()],
                    )
                    .map_err(|e| self.err(e))?;
                Ok(self.get(id)?.status)
            }
            Status::Running => {
                self.conn
                    .execute("UPDATE runs SET cancel_requested = 1 WHERE id = ?1", [id])
                    .map_err(|e| self.err(e))?;
                Ok(Status::Running)
            }
            s => Err(StoreError::WrongStatus {
                id,
                status: s.to_string(),
                what: "only queued, interrupted or running runs can be cancelled".into(),
            }),
        }
    }

    /// Moves a queued run to 1-based place `to` in the queue. It takes the
    /// priority of the run it lands beside so the order stays consistent.
    pub fn move_to(&mut self, id: i64, to: usize) -> StoreResult<()> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_err(&path, e))?;
        let mut order: Vec<(i64, i64)> = {
            let mut stmt = tx
                .prepare("SELECT id, priority FROM runs WHERE status = 'queued' ORDER BY priority DESC, position, id")
                .map_err(|e| db_err(&path, e))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(|e| db_err(&path, e))?;
            rows.collect::<Result<_, _>>()
                .map_err(|e| db_err(&path, e))?
        };
        let Some(from) = order.iter().position(|(i, _)| *i == id) else {
            let status: Option<String> = tx
                .query_row("SELECT status FROM runs WHERE id = ?1", [id], |r| r.get(0))
                .optional()
                .map_err(|e| db_err(&path, e))?;
            return Err(match status {
                None => StoreError::NoSuchRun(id),
                Some(status) => StoreError::WrongStatus {
                    id,
                    status,
                    what: "only queued runs can be moved".into(),
                },
            });
        };
        let item = order.remove(from);
        let at = to.saturating_sub(1).min(order.len());
        let priority = order
            .get(at)
            .or_else(|| at.checked_sub(1).and_then(|i| order.get(i)))
            .map_or(item.1, |n| n.1);
        order.insert(at, (item.0, priority));
        for (pos, (rid, prio)) in order.iter().enumerate() {
            tx.execute(
                "UPDATE runs SET position = ?2, priority = ?3 WHERE id = ?1",
                params![rid, pos as f64, prio],
            )
            .map_err(|e| db_err(&path, e))?;
        }
        tx.commit().map_err(|e| db_err(&path, e))
    }

    pub fn set_priority(&self, id: i64, priority: i64) -> StoreResult<()> {
        let n = self
            .conn
            .execute(
                "UPDATE runs SET priority = ?2 WHERE id = ?1",
                params![id, priority],
            )
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(StoreError::NoSuchRun(id));
        }
        Ok(())
    }

    /// Deletes a run that is not running, with its samples and files.
    pub fn delete(&self, id: i64) -> StoreResult<()> {
        let run = self.get(id)?;
        if run.status == Status::Running {
            return Err(StoreError::WrongStatus {
                id,
                status: run.status.to_string(),
                what: "cancel it first".into(),
            });
        }
        self.conn
            .execute(
                "DELETE FROM runs WHERE id = ?1 AND status != 'running'",
                [id],
            )
            .map_err(|e| self.err(e))?;
        let dir = self.run_dir(id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        }
        Ok(())
    }

    pub fn register_worker(&self, id: &str, device: &str) -> StoreResult<()> {
        let t = now();
        self.conn
            .execute(
                "INSERT OR REPLACE INTO workers (id, pid, host, device, started, heartbeat, current_run)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5, NULL)",
                params![id, std::process::id(), hostname(), device, t],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn worker_idle(&self, id: &str) -> StoreResult<()> {
        self.conn
            .execute(
                "UPDATE workers SET heartbeat = ?2, current_run = NULL WHERE id = ?1",
                params![id, now()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn unregister_worker(&self, id: &str) -> StoreResult<()> {
        self.conn
            .execute("DELETE FROM workers WHERE id = ?1", [id])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn workers(&self) -> StoreResult<Vec<WorkerInfo>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, pid, host, device, started, heartbeat, current_run FROM workers ORDER BY id")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(WorkerInfo {
                    id: r.get(0)?,
                    pid: r.get(1)?,
                    host: r.get(2)?,
                    device: r.get(3)?,
                    started: r.get(4)?,
                    heartbeat: r.get(5)?,
                    current_run: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Marks running runs whose worker is gone as interrupted: on this host, its
    /// process no longer exists; anywhere, no heartbeat for `stale_after` seconds.
    /// Removes their half-written temporary files and returns their ids.
    pub fn recover(&self, stale_after: f64) -> StoreResult<Vec<i64>> {
        let host = hostname();
        let t = now();
        let running: Vec<(i64, Option<String>, Option<f64>)> = {
            let mut stmt = self
                .conn
                .prepare("SELECT id, worker, heartbeat FROM runs WHERE status = 'running'")
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(|e| self.err(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.err(e))?
        };
        let mut dead = Vec::new();
        for (id, worker, heartbeat) in running {
            let stale = heartbeat.is_none_or(|h| t - h > stale_after);
            let gone = worker
                .as_deref()
                .and_then(|w| w.rsplit_once(':'))
                .filter(|(h, _)| *h == host)
                .and_then(|(_, pid)| pid.parse::<u32>().ok())
                .is_some_and(|pid| !process_alive(pid));
            if stale || gone {
                let n = self
                    .conn
                    .execute(
                        "UPDATE runs SET status = 'interrupted', error = 'its worker stopped responding'
                         WHERE id = ?1 AND status = 'running' AND worker IS ?2",
                        params![id, worker],
                    )
                    .map_err(|e| self.err(e))?;
                if n == 1 {
                    if let Some(w) = &worker {
                        let _ = self.conn.execute("DELETE FROM workers WHERE id = ?1", [w]);
                    }
                    remove_partial_files(&self.run_dir(id));
                    dead.push(id);
                }
            }
        }
        Ok(dead)
    }

    /// Applies the policy for interrupted runs: `resume` and `restart` queue them
    /// again (restart forgets the snapshot); `leave` keeps them interrupted.
    pub fn requeue_interrupted(&self, policy: OnInterrupted) -> StoreResult<usize> {
        let sql = match policy {
            OnInterrupted::Resume => "UPDATE runs SET status = 'queued', worker = NULL WHERE status = 'interrupted'",
            OnInterrupted::Restart => {
                "UPDATE runs SET status = 'queued', worker = NULL, resume_from = NULL, resume_eval = NULL
                 WHERE status = 'interrupted'"
            }
            OnInterrupted::Leave => return Ok(0),
        };
        self.conn.execute(sql, []).map_err(|e| self.err(e))
    }
}

/// What a worker does with interrupted runs when it starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnInterrupted {
    /// Queue them again, continuing from their last snapshot.
    #[default]
    Resume,
    /// Queue them again from the start.
    Restart,
    /// Leave them interrupted.
    Leave,
}

/// Inserts a queued run at the end of the queue; shared by `add` and the
/// drop-folder ledger, which does it inside its own transaction.
pub(super) fn insert_run(
    conn: &Connection,
    spec_json: &str,
    inputs_json: &str,
    priority: i64,
) -> rusqlite::Result<i64> {
    conn.query_row(
        "INSERT INTO runs (created, status, priority, position, spec, inputs)
         VALUES (?1, 'queued', ?2, (SELECT coalesce(max(position), 0) + 1 FROM runs), ?3, ?4)
         RETURNING id",
        params![now(), priority, spec_json, inputs_json],
        |r| r.get(0),
    )
}

pub(super) fn db_err(path: &Path, e: rusqlite::Error) -> StoreError {
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

fn row_to_run(r: &Row<'_>) -> rusqlite::Result<Result<Run, String>> {
    let id: i64 = r.get(0)?;
    let status: String = r.get(2)?;
    let spec: String = r.get(4)?;
    let inputs: String = r.get(5)?;
    let losses = match (
        r.get::<_, Option<f64>>(15)?,
        r.get(16)?,
        r.get(17)?,
        r.get(18)?,
    ) {
        (Some(style), Some(content), Some(tv), Some(total)) => Some(FinalLosses {
            style,
            content,
            tv,
            total,
        }),
        _ => None,
    };
    let build = || -> Result<Run, String> {
        Ok(Run {
            id,
            created: r.get(1).map_err(|e| e.to_string())?,
            status: status.parse()?,
            priority: r.get(3).map_err(|e| e.to_string())?,
            spec: serde_json::from_str(&spec).map_err(|e| format!("stored spec: {e}"))?,
            inputs: serde_json::from_str(&inputs).map_err(|e| format!("stored inputs: {e}"))?,
            output: r
                .get::<_, Option<String>>(6)
                .map_err(|e| e.to_string())?
                .map(PathBuf::from),
            device: r.get(7).map_err(|e| e.to_string())?,
            worker: r.get(8).map_err(|e| e.to_string())?,
            started: r.get(9).map_err(|e| e.to_string())?,
            finished: r.get(10).map_err(|e| e.to_string())?,
            heartbeat: r.get(11).map_err(|e| e.to_string())?,
            evals: r.get(12).map_err(|e| e.to_string())?,
            best_eval: r.get(13).map_err(|e| e.to_string())?,
            stop: r.get(14).map_err(|e| e.to_string())?,
            losses,
            error: r.get(19).map_err(|e| e.to_string())?,
            cancel_requested: r.get(20).map_err(|e| e.to_string())?,
            attempts: r.get(21).map_err(|e| e.to_string())?,
            resume_from: r
                .get::<_, Option<String>>(22)
                .map_err(|e| e.to_string())?
                .map(PathBuf::from),
            resume_eval: r.get(23).map_err(|e| e.to_string())?,
        })
    };
    Ok(build())
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn process_alive(pid: u32) -> bool {
    // A zombie (killed, not yet reaped) counts as gone.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Removes the hidden temporary files an interrupted write leaves behind.
fn remove_partial_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".atelier-") && name.ends_with(".part") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
