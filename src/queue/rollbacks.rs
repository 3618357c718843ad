//! Rollbacks of a run: where the guard caught a
//! divergence and went back to the best iterate, so the loss charts can mark
//! them. The diverged evaluation itself has no loss sample (the guard rejects
//! it before the optimiser sees it), so this is the only trace it leaves.

use serde::Serialize;

use super::error::StoreResult;
use super::store::Store;

/// One rollback as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RollbackRecord {
    /// The evaluation that diverged (over all scales and attempts, as samples).
    pub eval: i64,
    /// The evaluation rolled back to.
    pub to_eval: i64,
    /// The diverged loss; `None` when it was not a number.
    pub loss: Option<f64>,
    pub reason: String,
    /// What changed for the rest of the run.
    pub remedy: String,
}

impl Store {
    /// Records rollbacks of `run` at once (a resumed attempt's rollback
    /// replaces one with the same evaluation number).
    pub fn add_rollbacks(&mut self, run: i64, rollbacks: &[RollbackRecord]) -> StoreResult<()> {
        self.backend.add_rollbacks(run, rollbacks)
    }

    /// Rollbacks of a run, in evaluation order.
    pub fn rollbacks(&self, run: i64) -> StoreResult<Vec<RollbackRecord>> {
        self.backend.rollbacks(run)
    }
}
