//! The run store: SQLite in WAL mode with a busy timeout, so a TUI polling while
//! workers write never sees "database is locked". Every write that must be
//! atomic (claiming a run, reordering) is one immediate transaction.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, ToSql, TransactionBehavior};

use super::error::{StoreError, StoreResult};
use super::run::{
    format_time, now, DeviceDefaults, Input, Point, Run, Sample, Status, StoredJob, UnknownJob,
};
use super::schema::{APPLICATION_ID, LATEST, MIGRATIONS};
use crate::engine::device::DeviceKind;
use crate::engine::spec::RunSpec;
use crate::jobs::{stylize, Job, Outcome, RunFiles};

const DB_FILE: &str = "atelier.db";

/// A run whose worker died this many times while running it is failed (it
/// most likely kills its worker: an out-of-memory kill, a crash in a
/// library) instead of going back to the queue once more.
pub const MAX_CRASHES: i64 = 3;
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
    /// Opened read-only (the file or its folder is not writable by this
    /// user): readable, no journal mode change, no migration.
    read_only: bool,
}

const RUN_COLUMNS: &str = "id, created, status, priority, kind, spec, inputs, output, device,
    worker, started, finished, heartbeat, outcome, error, cancel_requested, attempts, resume_from,
    resume_step, crashes, device_kind, device_defaults";

/// A checkpoint a run wrote (or its latest snapshot, for image-state kinds).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Checkpoint {
    pub step: i64,
    pub path: PathBuf,
    pub created: f64,
}

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
        let read_only = path.exists() && !(writable(&path) && writable(data_dir));
        let conn = if read_only {
            open_read_only(&path)
        } else {
            Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        }
        .map_err(|e| db_err(&path, e))?;
        let mut store = Store {
            conn,
            path,
            data_dir: data_dir.to_path_buf(),
            read_only,
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
        self.files(id).dir
    }

    /// The names of a run's files.
    pub fn files(&self, id: i64) -> RunFiles {
        RunFiles::new(&self.data_dir, id)
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

    /// Queues a validated stylize spec; returns the new run's id.
    pub fn add(&self, spec: &RunSpec, inputs: &[Input], priority: i64) -> StoreResult<i64> {
        self.add_job(&Job::Stylize(spec.clone()), inputs, priority)
    }

    /// Queues a validated job of any kind; returns the new run's id.
    pub fn add_job(&self, job: &Job, inputs: &[Input], priority: i64) -> StoreResult<i64> {
        self.add_job_on(job, inputs, priority, None, DeviceDefaults::default())
    }

    /// [`Store::add_job`] for a kind of device (`None`: any), with the spec
    /// fields `defaults` names left to the worker's device.
    pub fn add_job_on(
        &self,
        job: &Job,
        inputs: &[Input],
        priority: i64,
        kind: Option<DeviceKind>,
        defaults: DeviceDefaults,
    ) -> StoreResult<i64> {
        job.validate()?;
        let (spec_json, inputs_json) = job_columns(job, inputs)?;
        // One transaction: no worker may claim the run before it says what
        // device it asks for.
        let tx = self.immediate()?;
        let id = insert_run(
            &tx,
            &self.data_dir.join("runs"),
            job.kind(),
            &spec_json,
            &inputs_json,
            priority,
        )
        .map_err(|e| self.err(e))?;
        tx.execute(
            "UPDATE runs SET device_kind = ?2, device_defaults = ?3 WHERE id = ?1",
            params![id, kind.map(DeviceKind::as_str), defaults.to_column()],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(id)
    }

    /// Replaces the job of a run `worker` holds (its device's defaults
    /// filled in at claim time), so the run's record says what ran.
    pub fn set_job(&self, id: i64, worker: &str, job: &Job) -> StoreResult<()> {
        let spec = job
            .spec_json()
            .map_err(|e| StoreError::Spec(e.to_string()))?;
        self.transition(
            id,
            worker,
            "UPDATE runs SET spec = ?3",
            &[&spec],
            |_| Ok(()),
        )
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
            .ok_or(StoreError::NoSuchRun(id))
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
            let run = r.map_err(|e| self.err(e))?;
            if !filter.statuses.is_empty() && !filter.statuses.contains(&run.status) {
                continue;
            }
            if let Some(s) = &filter.style {
                let s = s.to_lowercase();
                let hit = run.inputs.iter().any(|i| {
                    i.role == crate::jobs::Role::Style
                        && i.path.to_string_lossy().to_lowercase().contains(&s)
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
            out.push(r.map_err(|e| self.err(e))?);
        }
        Ok(out)
    }

    /// Takes the next queued run for `worker`, atomically: one UPDATE picks and
    /// marks it, so two workers can never take the same run. Only runs of a
    /// kind this build knows are taken (a newer atelier's wait for it), and
    /// only runs that ask for no device kind or for `device`'s.
    pub fn claim(&self, worker: &str, device: &str) -> StoreResult<Option<Run>> {
        let t = now();
        let device_kind = if device.starts_with("cuda") {
            DeviceKind::Cuda
        } else {
            DeviceKind::Cpu
        };
        // The kinds are this build's constants, not user text.
        let kinds = Job::KINDS
            .iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let id: Option<i64> = self
            .conn
            .query_row(
                &format!(
                    "UPDATE runs SET status = 'running', worker = ?1, device = ?2, started = ?3,
                        heartbeat = ?3, attempts = attempts + 1, error = NULL, finished = NULL
                 WHERE id = (SELECT id FROM runs WHERE status = 'queued' AND kind IN ({kinds})
                               AND (device_kind IS NULL OR device_kind = ?4)
                             ORDER BY priority DESC, position, id LIMIT 1)
                   AND status = 'queued'
                 RETURNING id"
                ),
                params![worker, device, t, device_kind.as_str()],
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

    /// Appends samples of any series in one transaction (samples of a
    /// resumed attempt replace those with the same step and series).
    pub fn add_points(&mut self, run: i64, points: &[Point]) -> StoreResult<()> {
        if points.is_empty() {
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
                    "INSERT OR REPLACE INTO samples (run_id, step, series, value, seconds)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(|e| db_err(&path, e))?;
            for p in points {
                stmt.execute(params![run, p.step, p.series, p.value, p.seconds])
                    .map_err(|e| db_err(&path, e))?;
            }
        }
        tx.commit().map_err(|e| db_err(&path, e))
    }

    /// Appends a transfer's loss samples (its four series).
    pub fn add_samples(&mut self, run: i64, samples: &[Sample]) -> StoreResult<()> {
        let points: Vec<Point> = samples
            .iter()
            .flat_map(|s| {
                let l = crate::engine::transfer::Losses {
                    style: s.style,
                    content: s.content,
                    tv: s.tv,
                    total: s.total,
                };
                stylize::series_values(&l).map(|(series, value)| Point {
                    step: s.eval,
                    series: series.into(),
                    value,
                    seconds: s.seconds,
                })
            })
            .collect();
        self.add_points(run, &points)
    }

    /// Samples of every series of a run after step `after_step`, in step
    /// order: a view that polls asks only for what is new.
    pub fn samples_since(&self, run: i64, after_step: i64) -> StoreResult<Vec<Point>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT step, series, value, seconds FROM samples
                 WHERE run_id = ?1 AND step > ?2 ORDER BY step, series",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![run, after_step], |r| {
                Ok(Point {
                    step: r.get("step")?,
                    series: r.get("series")?,
                    value: r.get("value")?,
                    seconds: r.get("seconds")?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// A transfer's loss samples (its four series side by side), in
    /// evaluation order; steps missing a series are left out.
    pub fn samples(&self, run: i64) -> StoreResult<Vec<Sample>> {
        Ok(pivot_losses(&self.samples_since(run, i64::MIN)?))
    }

    /// A run's checkpoints, oldest first.
    pub fn checkpoints(&self, run: i64) -> StoreResult<Vec<Checkpoint>> {
        let mut stmt = self
            .conn
            .prepare("SELECT step, path, created FROM checkpoints WHERE run_id = ?1 ORDER BY step")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run], |r| {
                Ok(Checkpoint {
                    step: r.get("step")?,
                    path: PathBuf::from(r.get::<_, String>("path")?),
                    created: r.get("created")?,
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

    /// A transaction holding the write lock from its start, so what it reads
    /// stays true until it commits.
    fn immediate(&self) -> StoreResult<rusqlite::Transaction<'_>> {
        rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))
    }

    /// Runs `sql` (whose `?1` is the run, `?2` the worker) when the run is
    /// still running on `worker`, then `also` in the same transaction; else
    /// says whose or what the run is now. A worker whose run went stale and
    /// was re-claimed can so never finish it a second time.
    fn transition(
        &self,
        id: i64,
        worker: &str,
        sql: &str,
        extra: &[&dyn ToSql],
        also: impl FnOnce(&Connection) -> rusqlite::Result<()>,
    ) -> StoreResult<()> {
        let tx = self.immediate()?;
        let mut args: Vec<&dyn ToSql> = vec![&id, &worker];
        args.extend_from_slice(extra);
        let sql = format!("{sql} WHERE id = ?1 AND status = 'running' AND worker = ?2");
        let n = tx.execute(&sql, args.as_slice()).map_err(|e| self.err(e))?;
        if n == 0 {
            let now: Option<(String, Option<String>)> = tx
                .query_row("SELECT status, worker FROM runs WHERE id = ?1", [id], |r| {
                    Ok((r.get("status")?, r.get("worker")?))
                })
                .optional()
                .map_err(|e| self.err(e))?;
            return Err(match now {
                None => StoreError::NoSuchRun(id),
                Some((status, owner)) => StoreError::NotOwner {
                    id,
                    worker: worker.to_string(),
                    status,
                    owner: owner.unwrap_or_else(|| "none".into()),
                },
            });
        }
        also(&tx).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// Marks a run running on `worker` done with its output and the kind's outcome.
    pub fn finish_done(
        &self,
        id: i64,
        worker: &str,
        output: &Path,
        outcome: &Outcome,
    ) -> StoreResult<()> {
        let json = serde_json::to_string(outcome).map_err(|e| StoreError::Spec(e.to_string()))?;
        let output = output.to_string_lossy();
        let t = now();
        self.transition(
            id,
            worker,
            "UPDATE runs SET status = 'done', finished = ?3, output = ?4, outcome = ?5,
                    error = NULL, resume_from = NULL, resume_step = NULL",
            &[&t, &output, &json],
            |_| Ok(()),
        )
    }

    pub fn finish_failed(&self, id: i64, worker: &str, error: &str) -> StoreResult<()> {
        let t = now();
        self.transition(
            id,
            worker,
            "UPDATE runs SET status = 'failed', finished = ?3, error = ?4",
            &[&t, &error],
            |_| Ok(()),
        )
    }

    pub fn finish_cancelled(&self, id: i64, worker: &str) -> StoreResult<()> {
        let t = now();
        self.transition(
            id,
            worker,
            "UPDATE runs SET status = 'cancelled', finished = ?3",
            &[&t],
            |_| Ok(()),
        )
    }

    /// Puts a run of `worker` back at the head of the queue (the worker is
    /// stopping); it resumes from its last resume point.
    pub fn requeue(&self, id: i64, worker: &str) -> StoreResult<()> {
        self.transition(
            id,
            worker,
            "UPDATE runs SET status = 'queued', worker = NULL, heartbeat = NULL,
                    position = (SELECT coalesce(min(position), 0) - 1 FROM runs)",
            &[],
            |_| Ok(()),
        )
    }

    /// Records a snapshot or checkpoint the run of `worker` can resume from,
    /// after `step` steps. A checkpoint at the same path (the one snapshot an
    /// image-state kind overwrites) replaces the earlier rows for it.
    pub fn set_resume_point(
        &self,
        id: i64,
        worker: &str,
        path: &Path,
        step: i64,
    ) -> StoreResult<()> {
        let p = path.to_string_lossy().into_owned();
        self.transition(
            id,
            worker,
            "UPDATE runs SET resume_from = ?3, resume_step = ?4",
            &[&p, &step],
            |tx| {
                tx.execute(
                    "DELETE FROM checkpoints WHERE run_id = ?1 AND path = ?2",
                    params![id, p],
                )?;
                tx.execute(
                    "INSERT OR REPLACE INTO checkpoints (run_id, step, path, created)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![id, step, p, now()],
                )?;
                Ok(())
            },
        )
    }

    /// Cancels a run: a queued or interrupted one at once; a running one is
    /// flagged, and its worker stops it within one evaluation. Returns the
    /// status after the call. Reading the status and changing it are one
    /// transaction, so a run that starts or ends meanwhile is not mistaken.
    pub fn cancel(&self, id: i64) -> StoreResult<Status> {
        let tx = self.immediate()?;
        let status: Option<String> = tx
            .query_row("SELECT status FROM runs WHERE id = ?1", [id], |r| {
                r.get("status")
            })
            .optional()
            .map_err(|e| self.err(e))?;
        let status: Status =
            status
                .ok_or(StoreError::NoSuchRun(id))?
                .parse()
                .map_err(|reason| StoreError::Database {
                    path: self.path.clone(),
                    reason,
                })?;
        let after = match status {
            Status::Queued | Status::Interrupted => {
                tx.execute(
                    "UPDATE runs SET status = 'cancelled', finished = ?2 WHERE id = ?1",
                    params![id, now()],
                )
                .map_err(|e| self.err(e))?;
                Status::Cancelled
            }
            Status::Running => {
                tx.execute("UPDATE runs SET cancel_requested = 1 WHERE id = ?1", [id])
                    .map_err(|e| self.err(e))?;
                Status::Running
            }
            s => {
                return Err(StoreError::WrongStatus {
                    id,
                    status: s.to_string(),
                    what: "only queued, interrupted or running runs can be cancelled".into(),
                })
            }
        };
        tx.commit().map_err(|e| self.err(e))?;
        Ok(after)
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

    /// Registers worker `id` on the device `choose` picks given the devices
    /// of the live workers on this host (a process that exists; one
    /// transaction, so two workers starting at once never pick the same
    /// device). Returns the device's name.
    pub fn register_worker_choosing(
        &self,
        id: &str,
        choose: impl FnOnce(&[String]) -> String,
    ) -> StoreResult<String> {
        let host = hostname();
        let tx = self.immediate()?;
        let rows: Vec<(String, i64, String, String)> = {
            let mut stmt = tx
                .prepare("SELECT id, pid, host, device FROM workers")
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .map_err(|e| self.err(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.err(e))?
        };
        // Another host's GPUs are not this host's: only local workers count.
        let taken: Vec<String> = rows
            .into_iter()
            .filter(|(w, pid, h, _)| {
                w != id && *h == host && u32::try_from(*pid).is_ok_and(process_alive)
            })
            .map(|(_, _, _, device)| device)
            .collect();
        let device = choose(&taken);
        tx.execute(
            "INSERT OR REPLACE INTO workers (id, pid, host, device, started, heartbeat, current_run)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, NULL)",
            params![id, std::process::id(), host, device, now()],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(device)
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
    /// process no longer exists (a live one is never gone); on another host,
    /// no heartbeat for `stale_after` seconds. Each counts as a crash of the
    /// run; at [`MAX_CRASHES`] the run is failed with that reason instead.
    /// Removes their half-written temporary files and returns their ids.
    pub fn recover(&self, stale_after: f64) -> StoreResult<Vec<i64>> {
        let host = hostname();
        let t = now();
        type Row = (i64, Option<String>, Option<f64>, i64);
        let running: Vec<Row> = {
            let mut stmt = self
                .conn
                .prepare("SELECT id, worker, heartbeat, crashes FROM runs WHERE status = 'running'")
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .map_err(|e| self.err(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.err(e))?
        };
        let mut dead = Vec::new();
        for (id, worker, heartbeat, crashes) in running {
            // On this host the process table is the truth: a live PID is
            // never gone (an evaluation may outlast any heartbeat timeout),
            // a dead one is gone at once. Elsewhere only heartbeats tell.
            let local_pid = worker
                .as_deref()
                .and_then(|w| w.rsplit_once(':'))
                .filter(|(h, _)| *h == host)
                .and_then(|(_, pid)| pid.parse::<u32>().ok());
            let gone = match local_pid {
                Some(pid) => !process_alive(pid),
                None => heartbeat.is_none_or(|h| t - h > stale_after),
            };
            if gone {
                let crashes = crashes + 1;
                let (status, error) = if crashes >= MAX_CRASHES {
                    // Its last sign of life is the nearest to the crash.
                    let last = format_time(heartbeat.unwrap_or(t));
                    (
                        "failed",
                        format!("crashed its worker {crashes} times; last at {last} UTC"),
                    )
                } else {
                    ("interrupted", "its worker stopped responding".to_string())
                };
                let n = self
                    .conn
                    .execute(
                        "UPDATE runs SET status = ?3, error = ?4, crashes = ?5,
                                finished = CASE WHEN ?3 = 'failed' THEN ?6 ELSE finished END
                         WHERE id = ?1 AND status = 'running' AND worker IS ?2",
                        params![id, worker, status, error, crashes, t],
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
                "DELETE FROM checkpoints WHERE run_id IN (SELECT id FROM runs WHERE status = 'interrupted');
                 UPDATE runs SET status = 'queued', worker = NULL, resume_from = NULL, resume_step = NULL
                 WHERE status = 'interrupted'"
            }
            OnInterrupted::Leave => return Ok(0),
        };
        let tx = self.immediate()?;
        tx.execute_batch(sql).map_err(|e| self.err(e))?;
        let n = tx.changes() as usize;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n)
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
/// drop-folder ledger, which does it inside its own transaction. Its id is
/// above every folder in `runs_dir` too: a database emptied or replaced next
/// to old run folders must never make a new run write into an old one's.
pub(super) fn insert_run(
    conn: &Connection,
    runs_dir: &Path,
    kind: &str,
    spec_json: &str,
    inputs_json: &str,
    priority: i64,
) -> rusqlite::Result<i64> {
    conn.query_row(
        "INSERT INTO runs (id, created, status, priority, position, kind, spec, inputs)
         VALUES (max(?6, (SELECT coalesce(max(id), 0) + 1 FROM runs)), ?1, 'queued', ?2,
                 (SELECT coalesce(max(position), 0) + 1 FROM runs), ?3, ?4, ?5)
         RETURNING id",
        params![
            now(),
            priority,
            kind,
            spec_json,
            inputs_json,
            highest_run_folder(runs_dir) + 1
        ],
        |r| r.get(0),
    )
}

/// The highest numeric folder name in `runs_dir` (0 when none).
fn highest_run_folder(runs_dir: &Path) -> i64 {
    std::fs::read_dir(runs_dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i64>().ok())
                .filter(|id| *id > 0)
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// The `spec` and `inputs` columns of a job.
pub(super) fn job_columns(job: &Job, inputs: &[Input]) -> StoreResult<(String, String)> {
    let spec = job
        .spec_json()
        .map_err(|e| StoreError::Spec(e.to_string()))?;
    let inputs = serde_json::to_string(inputs).map_err(|e| StoreError::Spec(e.to_string()))?;
    Ok((spec, inputs))
}

/// A transfer's four loss series side by side, per step.
pub(super) fn pivot_losses(points: &[Point]) -> Vec<Sample> {
    let mut out: Vec<Sample> = Vec::new();
    let mut seen = [false; 4];
    let mut cur: Option<Sample> = None;
    let flush = |cur: &mut Option<Sample>, seen: &mut [bool; 4], out: &mut Vec<Sample>| {
        if let Some(s) = cur.take() {
            if seen.iter().all(|b| *b) {
                out.push(s);
            }
        }
        *seen = [false; 4];
    };
    for p in points {
        if cur.is_some_and(|c| c.eval != p.step) {
            flush(&mut cur, &mut seen, &mut out);
        }
        let s = cur.get_or_insert(Sample {
            eval: p.step,
            style: 0.0,
            content: 0.0,
            tv: 0.0,
            total: 0.0,
            seconds: p.seconds,
        });
        let slot = match p.series.as_str() {
            "style" => (&mut s.style, 0),
            "content" => (&mut s.content, 1),
            "tv" => (&mut s.tv, 2),
            "total" => (&mut s.total, 3),
            _ => continue,
        };
        *slot.0 = p.value;
        seen[slot.1] = true;
    }
    flush(&mut cur, &mut seen, &mut out);
    out
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

/// A row of `runs`, read by column name. A spec or inputs this build cannot
/// read make an unknown-kind run (listed, never run), not an error.
fn row_to_run(r: &Row<'_>) -> rusqlite::Result<Run> {
    let kind: String = r.get("kind")?;
    let spec: String = r.get("spec")?;
    let inputs: String = r.get("inputs")?;
    let status: String = r.get("status")?;
    let status = status.parse().map_err(|reason: String| {
        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, reason.into())
    })?;
    let inputs_parsed: Result<Vec<Input>, String> =
        serde_json::from_str(&inputs).map_err(|e| format!("stored inputs: {e}"));
    let parsed = Job::from_parts(&kind, &spec)
        .and_then(|job| inputs_parsed.as_ref().map(|_| job).map_err(String::clone));
    let job = match parsed {
        Ok(job) => StoredJob::Known(job),
        Err(reason) => StoredJob::Unknown(UnknownJob {
            kind: kind.clone(),
            spec: serde_json::from_str(&spec).unwrap_or(serde_json::Value::String(spec)),
            unreadable: reason,
        }),
    };
    let outcome = r
        .get::<_, Option<String>>("outcome")?
        .and_then(|o| Outcome::from_json(&kind, &o));
    Ok(Run {
        id: r.get("id")?,
        created: r.get("created")?,
        status,
        priority: r.get("priority")?,
        job,
        inputs: inputs_parsed.unwrap_or_default(),
        output: r.get::<_, Option<String>>("output")?.map(PathBuf::from),
        device: r.get("device")?,
        worker: r.get("worker")?,
        started: r.get("started")?,
        finished: r.get("finished")?,
        heartbeat: r.get("heartbeat")?,
        outcome,
        error: r.get("error")?,
        cancel_requested: r.get("cancel_requested")?,
        attempts: r.get("attempts")?,
        resume_from: r
            .get::<_, Option<String>>("resume_from")?
            .map(PathBuf::from),
        resume_step: r.get("resume_step")?,
        crashes: r.get("crashes")?,
        device_kind: r.get("device_kind")?,
        device_defaults: DeviceDefaults::from_column(
            r.get::<_, Option<String>>("device_defaults")?.as_deref(),
        ),
    })
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
        if RunFiles::is_partial(&name) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
