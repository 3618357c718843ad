//! What the rows of each table mean, whichever backend selected them: a
//! run's columns turned into a [`Run`], and the other records read from
//! the columns each backend's SQL selects in the order given here.

use std::path::{Path, PathBuf};

use super::history::Checkpoint;
use super::row::Columns;
use super::workers::{RunningRun, WorkerInfo};
use crate::jobs::{Job, Outcome};
use crate::queue::error::{StoreError, StoreResult};
use crate::queue::ledger::{ItemState, PendingOutput, WatchFailure, WatchItem};
use crate::queue::rollbacks::RollbackRecord;
use crate::queue::run::{DeviceDefaults, Input, Point, Run, Status, StoredJob, UnknownJob};

/// The columns of `runs` that [`RunRecord::read`] reads, in its order.
pub(crate) const RUN_COLUMNS: &str = "id, created, status, priority, kind, spec, inputs, output,
    device, worker, started, finished, heartbeat, outcome, error, cancel_requested, attempts,
    resume_from, resume_step, crashes, device_kind, device_defaults";

/// The stored columns of a run, as text and numbers.
#[derive(Clone, Debug, Default)]
pub struct RunRecord {
    pub id: i64,
    pub created: f64,
    pub status: String,
    pub priority: i64,
    pub kind: String,
    pub spec: String,
    pub inputs: String,
    pub output: Option<String>,
    pub device: Option<String>,
    pub worker: Option<String>,
    pub started: Option<f64>,
    pub finished: Option<f64>,
    pub heartbeat: Option<f64>,
    pub outcome: Option<String>,
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub attempts: i64,
    pub resume_from: Option<String>,
    pub resume_step: Option<i64>,
    pub crashes: i64,
    pub device_kind: Option<String>,
    pub device_defaults: Option<String>,
}

impl RunRecord {
    /// A row whose first columns are [`RUN_COLUMNS`].
    pub(crate) fn read<R: Columns>(r: &R) -> Result<RunRecord, R::Error> {
        Ok(RunRecord {
            id: r.int(0)?,
            created: r.real(1)?,
            status: r.text(2)?,
            priority: r.int(3)?,
            kind: r.text(4)?,
            spec: r.text(5)?,
            inputs: r.text(6)?,
            output: r.opt_text(7)?,
            device: r.opt_text(8)?,
            worker: r.opt_text(9)?,
            started: r.opt_real(10)?,
            finished: r.opt_real(11)?,
            heartbeat: r.opt_real(12)?,
            outcome: r.opt_text(13)?,
            error: r.opt_text(14)?,
            cancel_requested: r.flag(15)?,
            attempts: r.int(16)?,
            resume_from: r.opt_text(17)?,
            resume_step: r.opt_int(18)?,
            crashes: r.int(19)?,
            device_kind: r.opt_text(20)?,
            device_defaults: r.opt_text(21)?,
        })
    }

    /// [`RunRecord::into_run`], an unreadable row an error of the store at
    /// `path`.
    pub(crate) fn into_run_at(self, path: &Path) -> StoreResult<Run> {
        self.into_run().map_err(|reason| StoreError::Database {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// The run; a spec or inputs this build cannot read make an
    /// unknown-kind run (listed, never run), only an unknown status fails.
    pub fn into_run(self) -> Result<Run, String> {
        let status = self.status.parse()?;
        let inputs: Result<Vec<Input>, String> =
            serde_json::from_str(&self.inputs).map_err(|e| format!("stored inputs: {e}"));
        let parsed = Job::from_parts(&self.kind, &self.spec)
            .and_then(|job| inputs.as_ref().map(|_| job).map_err(String::clone));
        let job = match parsed {
            Ok(job) => StoredJob::Known(job),
            Err(reason) => StoredJob::Unknown(UnknownJob {
                kind: self.kind.clone(),
                spec: serde_json::from_str(&self.spec)
                    .unwrap_or(serde_json::Value::String(self.spec)),
                unreadable: reason,
            }),
        };
        let outcome = self
            .outcome
            .and_then(|o| Outcome::from_json(&self.kind, &o));
        Ok(Run {
            id: self.id,
            created: self.created,
            status,
            priority: self.priority,
            job,
            inputs: inputs.unwrap_or_default(),
            output: self.output.map(PathBuf::from),
            device: self.device,
            worker: self.worker,
            started: self.started,
            finished: self.finished,
            heartbeat: self.heartbeat,
            outcome,
            error: self.error,
            cancel_requested: self.cancel_requested,
            attempts: self.attempts,
            resume_from: self.resume_from.map(PathBuf::from),
            resume_step: self.resume_step,
            crashes: self.crashes,
            device_kind: self.device_kind,
            device_defaults: DeviceDefaults::from_column(self.device_defaults.as_deref()),
        })
    }
}

/// A status column's text as a [`Status`], unreadable text an error of the
/// store at `path`.
pub(crate) fn status_at(text: &str, path: &Path) -> StoreResult<Status> {
    text.parse().map_err(|reason| StoreError::Database {
        path: path.to_path_buf(),
        reason,
    })
}

/// The columns of `watch_items` that [`watch_item`] reads, in its order.
pub(crate) const ITEM_COLUMNS: &str = "id, rule, key, sha256, path, seen, state, error, moved_to";

/// [`ITEM_COLUMNS`] of the table named `alias` in a join.
pub(crate) fn item_columns_of(alias: &str) -> String {
    ITEM_COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A row whose first columns are [`ITEM_COLUMNS`].
pub(crate) fn watch_item<R: Columns>(r: &R) -> Result<WatchItem, R::Error> {
    Ok(WatchItem {
        id: r.int(0)?,
        rule: r.text(1)?,
        key: r.text(2)?,
        sha256: r.opt_text(3)?,
        path: PathBuf::from(r.text(4)?),
        seen: r.real(5)?,
        state: ItemState::parse(&r.text(6)?),
        error: r.opt_text(7)?,
        moved_to: r.opt_text(8)?.map(PathBuf::from),
    })
}

/// A row of `o.run_id, o.item_id, i.path, o.style, o.output_dir, o.target,
/// r.status, r.output, r.error` (an output, its item and its run, if any).
pub(crate) fn pending_output<R: Columns>(r: &R) -> Result<PendingOutput, R::Error> {
    Ok(PendingOutput {
        run_id: r.int(0)?,
        item_id: r.int(1)?,
        item_path: PathBuf::from(r.text(2)?),
        style: r.text(3)?,
        output_dir: PathBuf::from(r.text(4)?),
        target: r.opt_text(5)?.map(PathBuf::from),
        status: r.opt_text(6)?.and_then(|s| s.parse::<Status>().ok()),
        run_output: r.opt_text(7)?.map(PathBuf::from),
        run_error: r.opt_text(8)?,
    })
}

/// A row of `path, reason, seen` of a failed item.
pub(crate) fn watch_failure<R: Columns>(r: &R) -> Result<WatchFailure, R::Error> {
    Ok(WatchFailure {
        path: PathBuf::from(r.text(0)?),
        reason: r.text(1)?,
        time: r.real(2)?,
    })
}

/// The columns of `workers` that [`worker_info`] reads, in its order.
pub(crate) const WORKER_COLUMNS: &str = "id, pid, host, device, started, heartbeat, current_run";

pub(crate) fn worker_info<R: Columns>(r: &R) -> Result<WorkerInfo, R::Error> {
    Ok(WorkerInfo {
        id: r.text(0)?,
        pid: r.int(1)?,
        host: r.text(2)?,
        device: r.text(3)?,
        started: r.real(4)?,
        heartbeat: r.real(5)?,
        current_run: r.opt_int(6)?,
    })
}

/// A row of `id, worker, heartbeat, <its age by the backend's clock>,
/// crashes` of a running run.
pub(crate) fn running_run<R: Columns>(r: &R) -> Result<RunningRun, R::Error> {
    Ok(RunningRun {
        id: r.int(0)?,
        worker: r.opt_text(1)?,
        heartbeat: r.opt_real(2)?,
        heartbeat_age: r.opt_real(3)?,
        crashes: r.int(4)?,
    })
}

/// A row of `step, series, value, seconds` of `samples`.
pub(crate) fn point<R: Columns>(r: &R) -> Result<Point, R::Error> {
    Ok(Point {
        step: r.int(0)?,
        series: r.text(1)?,
        value: r.real(2)?,
        seconds: r.real(3)?,
    })
}

/// A row of `step, path, created` of `checkpoints`.
pub(crate) fn checkpoint<R: Columns>(r: &R) -> Result<Checkpoint, R::Error> {
    Ok(Checkpoint {
        step: r.int(0)?,
        path: PathBuf::from(r.text(1)?),
        created: r.real(2)?,
    })
}

/// A row of `eval, to_eval, loss, reason, remedy` of `rollbacks`.
pub(crate) fn rollback<R: Columns>(r: &R) -> Result<RollbackRecord, R::Error> {
    Ok(RollbackRecord {
        eval: r.int(0)?,
        to_eval: r.int(1)?,
        loss: r.opt_real(2)?,
        reason: r.text(3)?,
        remedy: r.text(4)?,
    })
}
