//! The history: every run, its samples, checkpoints and rollbacks.

use std::path::PathBuf;

use crate::queue::error::StoreResult;
use crate::queue::rollbacks::RollbackRecord;
use crate::queue::run::{Point, Run, Status};

/// Which runs to list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub statuses: Vec<Status>,
    /// Substring of a style input's path.
    pub style: Option<String>,
    pub limit: Option<usize>,
}

impl Filter {
    /// Whether `run` passes the status and style parts (not the limit).
    pub fn matches(&self, run: &Run) -> bool {
        if !self.statuses.is_empty() && !self.statuses.contains(&run.status) {
            return false;
        }
        self.style.as_ref().is_none_or(|s| {
            let s = s.to_lowercase();
            run.inputs.iter().any(|i| {
                i.role == crate::jobs::Role::Style
                    && i.path.to_string_lossy().to_lowercase().contains(&s)
            })
        })
    }
}

impl Filter {
    /// The runs of `runs` (newest first) that pass, up to the limit: a
    /// backend gives the rows it selected, the rest is done here once.
    pub(crate) fn take(
        &self,
        runs: impl IntoIterator<Item = StoreResult<Run>>,
    ) -> StoreResult<Vec<Run>> {
        let mut out = Vec::new();
        for run in runs {
            let run = run?;
            if !self.matches(&run) {
                continue;
            }
            out.push(run);
            if self.limit.is_some_and(|l| out.len() >= l) {
                break;
            }
        }
        Ok(out)
    }
}

/// A checkpoint a run wrote (or its latest snapshot, for image-state kinds).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Checkpoint {
    pub step: i64,
    pub path: PathBuf,
    pub created: f64,
}

pub trait HistoryStore {
    fn get(&self, run: i64) -> StoreResult<Run>;

    /// Runs matching `filter`, newest first.
    fn list(&self, filter: &Filter) -> StoreResult<Vec<Run>>;

    /// Records samples of any series at once (a resumed attempt's replace
    /// those with the same step and series).
    fn add_points(&self, run: i64, points: &[Point]) -> StoreResult<()>;

    /// Samples after step `after_step`, in step then series order.
    fn points_since(&self, run: i64, after_step: i64) -> StoreResult<Vec<Point>>;

    /// A run's checkpoints, oldest first.
    fn checkpoints(&self, run: i64) -> StoreResult<Vec<Checkpoint>>;

    /// Records rollbacks at once (a resumed attempt's replace one with the
    /// same evaluation).
    fn add_rollbacks(&self, run: i64, rollbacks: &[RollbackRecord]) -> StoreResult<()>;

    /// A run's rollbacks, in evaluation order.
    fn rollbacks(&self, run: i64) -> StoreResult<Vec<RollbackRecord>>;

    /// Deletes a run that is not running, with everything recorded of it;
    /// a running one is refused (`WrongStatus`).
    fn delete(&self, run: i64) -> StoreResult<()>;
}
