//! The queue: runs waiting, claimed, running and finished.

use std::path::Path;

use crate::engine::infra::device::DeviceKind;
use crate::queue::error::{StoreError, StoreResult};
use crate::queue::run::{Run, Status};

/// A run to queue, its job already validated and serialised.
#[derive(Clone, Debug)]
pub struct NewRun {
    pub kind: String,
    /// The job's spec (JSON).
    pub spec: String,
    /// The run's inputs (JSON).
    pub inputs: String,
    pub priority: i64,
    /// The kind of device it asks for (`None`: any).
    pub device_kind: Option<DeviceKind>,
    /// The spec fields left to the worker's device (`size,steps`).
    pub device_defaults: Option<String>,
}

/// What a worker asks for when it claims a run.
#[derive(Clone, Copy, Debug)]
pub struct Claim<'a> {
    pub worker: &'a str,
    pub device: &'a str,
    pub device_kind: DeviceKind,
    /// The job kinds this build can run (a newer atelier's wait for it).
    pub kinds: &'a [&'a str],
}

/// How a worker ends its run.
#[derive(Clone, Copy, Debug)]
pub enum Finish<'a> {
    Done {
        output: &'a Path,
        /// The kind's outcome (JSON).
        outcome: &'a str,
    },
    Failed {
        error: &'a str,
    },
    Cancelled,
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

pub trait QueueStore {
    /// Queues `run` at the end of the queue under a new id, at least
    /// `min_id` and above every run's; returns the id. The run and what it
    /// asks for appear together: no worker sees it half written.
    fn enqueue(&self, run: &NewRun, min_id: i64) -> StoreResult<i64>;

    /// Running runs, then queued runs in the order they will be taken.
    fn queue(&self) -> StoreResult<Vec<Run>>;

    /// Takes the next queued run `claim` may run: one conditional update, so
    /// of two claimers of one run exactly one gets it.
    fn claim(&self, claim: &Claim<'_>) -> StoreResult<Option<Run>>;

    /// Records that `worker` is alive and on `run`; `false` when the run is
    /// no longer running on it (nothing recorded for the run).
    fn heartbeat(&self, run: i64, worker: &str) -> StoreResult<bool>;

    /// Replaces the spec of a run `worker` holds.
    fn set_spec(&self, run: i64, worker: &str, spec: &str) -> StoreResult<()>;

    /// Ends a run running on `worker`; refused with `NotOwner` when it is
    /// not (it was finished, re-claimed or requeued meanwhile).
    fn finish(&self, run: i64, worker: &str, how: Finish<'_>) -> StoreResult<()>;

    /// Puts a run of `worker` back at the head of the queue.
    fn requeue(&self, run: i64, worker: &str) -> StoreResult<()>;

    /// Records a snapshot or checkpoint the run of `worker` can resume
    /// from, after `step` steps; one at the same path replaces it.
    fn set_resume_point(&self, run: i64, worker: &str, path: &Path, step: i64) -> StoreResult<()>;

    /// Cancels a queued or interrupted run at once, flags a running one;
    /// returns the status after the call.
    fn cancel(&self, run: i64) -> StoreResult<Status>;

    /// Whether the run was asked to stop (`true` when it is gone).
    fn cancel_requested(&self, run: i64) -> StoreResult<bool>;

    /// Moves a queued run to 1-based place `to`, taking the priority of the
    /// run it lands beside.
    fn move_to(&self, run: i64, to: usize) -> StoreResult<()>;

    fn set_priority(&self, run: i64, priority: i64) -> StoreResult<()>;

    /// Applies `policy` to the interrupted runs; returns how many changed.
    fn requeue_interrupted(&self, policy: OnInterrupted) -> StoreResult<usize>;
}

/// The queue `order` ((id, priority), in the order runs are taken) with
/// run `run` moved to 1-based place `to`, taking the priority of the run it
/// lands beside so the order stays consistent; `None` when it is not queued.
/// Each backend writes the result in one transaction.
pub(crate) fn reorder(mut order: Vec<(i64, i64)>, run: i64, to: usize) -> Option<Vec<(i64, i64)>> {
    let from = order.iter().position(|(i, _)| *i == run)?;
    let item = order.remove(from);
    let at = to.saturating_sub(1).min(order.len());
    let priority = order
        .get(at)
        .or_else(|| at.checked_sub(1).and_then(|i| order.get(i)))
        .map_or(item.1, |n| n.1);
    order.insert(at, (item.0, priority));
    Some(order)
}

/// What a backend says when `worker` may not change run `id`: `now` is the
/// run's status and worker as they are (`None`: there is no such run).
pub(crate) fn not_owner(
    id: i64,
    worker: &str,
    now: Option<(String, Option<String>)>,
) -> StoreError {
    match now {
        None => StoreError::NoSuchRun(id),
        Some((status, owner)) => StoreError::NotOwner {
            id,
            worker: worker.to_string(),
            status,
            owner: owner.unwrap_or_else(|| "none".into()),
        },
    }
}

/// [`QueueStore::cancel`] over a backend's statements: `at_once` cancels
/// the run if it is queued or interrupted, `flag` flags it if it is
/// running (each a conditional update saying whether it happened), and
/// `status` reads it. A run that changed status between the tries
/// (claimed, finished) is looked at again.
pub(crate) fn cancel_with(
    run: i64,
    mut at_once: impl FnMut() -> StoreResult<bool>,
    mut flag: impl FnMut() -> StoreResult<bool>,
    mut status: impl FnMut() -> StoreResult<Status>,
) -> StoreResult<Status> {
    loop {
        if at_once()? {
            return Ok(Status::Cancelled);
        }
        if flag()? {
            return Ok(Status::Running);
        }
        match status()? {
            Status::Queued | Status::Interrupted | Status::Running => continue,
            s => {
                return Err(StoreError::WrongStatus {
                    id: run,
                    status: s.to_string(),
                    what: "only queued, interrupted or running runs can be cancelled".into(),
                })
            }
        }
    }
}

/// The error of [`QueueStore::move_to`] for a run that is not queued.
pub(crate) fn not_movable(run: i64, status: Status) -> StoreError {
    StoreError::WrongStatus {
        id: run,
        status: status.to_string(),
        what: "only queued runs can be moved".into(),
    }
}
