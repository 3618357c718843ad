//! Workers: who is alive, on which device, and the recovery of the runs of
//! those that are gone.

use crate::queue::error::StoreResult;
use crate::queue::run::Status;

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

/// A running run, as recovery sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunningRun {
    pub id: i64,
    pub worker: Option<String>,
    /// Its last heartbeat (unix seconds).
    pub heartbeat: Option<f64>,
    /// Seconds since that heartbeat by the backend's clock (the one that
    /// wrote it), so hosts with skewed clocks agree on staleness.
    pub heartbeat_age: Option<f64>,
    pub crashes: i64,
}

pub trait WorkerStore {
    /// Registers (or re-registers) worker `id`, process `pid` on `host`.
    fn register_worker(&self, id: &str, pid: u32, host: &str, device: &str) -> StoreResult<()>;

    /// Registers worker `id` on the device `choose` picks from the workers
    /// registered now; atomic with respect to other registrations, so two
    /// workers starting at once never pick the same device.
    fn register_worker_choosing(
        &self,
        id: &str,
        pid: u32,
        host: &str,
        choose: &mut dyn FnMut(&[WorkerInfo]) -> String,
    ) -> StoreResult<String>;

    /// Records that worker `id` is alive and on no run.
    fn worker_idle(&self, id: &str) -> StoreResult<()>;

    fn unregister_worker(&self, id: &str) -> StoreResult<()>;

    fn workers(&self) -> StoreResult<Vec<WorkerInfo>>;

    /// Every running run.
    fn running(&self) -> StoreResult<Vec<RunningRun>>;

    /// Ends `run` whose worker is gone, when it is still running on that
    /// worker with as many crashes as `run` says: counts one more and makes
    /// it `to` (interrupted, or failed) with `error`, and unregisters the
    /// worker. `false` when the run moved on meanwhile.
    fn interrupt(&self, run: &RunningRun, to: Status, error: &str) -> StoreResult<bool>;
}
