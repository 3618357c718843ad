//! The drop-folder ledger: which content each watch rule has seen, the runs
//! it queued for it and where their results went; and the rules paused from
//! a front end. An item and its runs are recorded together or not at all.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::queue::NewRun;
use crate::queue::error::StoreResult;
use crate::queue::ledger::{ItemState, PendingOutput, RuleCounts, WatchFailure, WatchItem};

/// A run queued for a ledger item, with the folder its result goes to.
#[derive(Clone, Debug)]
pub struct LedgerRun {
    pub run: NewRun,
    /// The output's label (a style's name).
    pub style: String,
    pub output_dir: PathBuf,
}

pub trait LedgerStore {
    /// The item `rule` recorded under `key` (a sha256 or `path:<path>`).
    fn watch_item(&self, rule: &str, key: &str) -> StoreResult<Option<WatchItem>>;

    /// Records a new item and queues its runs (ids at least `min_id`) at
    /// once; `None`, queuing nothing, when the rule already has the content.
    fn queue_watched(
        &self,
        rule: &str,
        sha256: &str,
        path: &Path,
        runs: &[LedgerRun],
        min_id: i64,
    ) -> StoreResult<Option<Vec<i64>>>;

    /// Outputs of `rule`'s failed items whose run failed with an error
    /// containing `reason`: (item, run id, output label).
    fn failures_containing(
        &self,
        rule: &str,
        reason: &str,
    ) -> StoreResult<Vec<(WatchItem, i64, String)>>;

    /// Queues `runs` for failed item `item` in place of its failed outputs
    /// `old`, at once; `None` when those are no longer failed ones of it.
    fn requeue_watched(
        &self,
        item: i64,
        old: &[i64],
        runs: &[LedgerRun],
        min_id: i64,
    ) -> StoreResult<Option<Vec<i64>>>;

    /// Records an input that failed before any run was queued; again only
    /// refreshes its time, path and reason.
    fn record_watch_failure(
        &self,
        rule: &str,
        key: &str,
        sha256: Option<&str>,
        path: &Path,
        reason: &str,
    ) -> StoreResult<()>;

    /// Forgets the failure recorded under `key`.
    fn clear_watch_failure(&self, rule: &str, key: &str) -> StoreResult<()>;

    /// Outputs of `rule` not yet delivered nor given up.
    fn pending_outputs(&self, rule: &str) -> StoreResult<Vec<PendingOutput>>;

    fn set_output_target(&self, run: i64, target: &Path) -> StoreResult<()>;

    /// Marks an output delivered (to its target) or failed with a reason.
    fn finish_output(&self, run: i64, result: Result<&Path, &str>) -> StoreResult<()>;

    /// Marks `rule`'s queued items whose outputs are all settled done (or
    /// failed with the first failure) and returns them as they now are.
    fn settle_items(&self, rule: &str) -> StoreResult<Vec<WatchItem>>;

    /// Settled items of `rule` with outputs whose input is not yet moved.
    fn unmoved_items(&self, rule: &str) -> StoreResult<Vec<WatchItem>>;

    fn set_item_moved(&self, item: i64, to: &Path) -> StoreResult<()>;

    fn watch_counts(&self, rule: &str) -> StoreResult<RuleCounts>;

    /// `rule`'s failed items with their reasons, newest first.
    fn watch_failures(&self, rule: &str, limit: usize) -> StoreResult<Vec<WatchFailure>>;

    /// Every item of `rule`, oldest first.
    fn watch_items(&self, rule: &str) -> StoreResult<Vec<WatchItem>>;

    /// Pauses or resumes a rule; pausing a paused rule keeps its time.
    fn set_rule_paused(&self, rule: &str, paused: bool) -> StoreResult<()>;

    fn paused_rules(&self) -> StoreResult<HashSet<String>>;
}

/// A rule's counts from its items' (state, count) and its delivered outputs.
pub(crate) fn rule_counts(states: &[(String, i64)], delivered: i64) -> RuleCounts {
    let mut c = RuleCounts {
        delivered: delivered as usize,
        ..RuleCounts::default()
    };
    for (state, n) in states {
        match ItemState::parse(state) {
            ItemState::Queued => c.queued = *n as usize,
            ItemState::Done => c.done = *n as usize,
            ItemState::Failed => c.failed = *n as usize,
        }
    }
    c
}

/// The state an item whose outputs are all settled takes: failed when one
/// failed (the first failure its error), else done.
pub(crate) fn settled_state(first_failure: Option<&str>) -> &'static str {
    if first_failure.is_some() {
        "failed"
    } else {
        "done"
    }
}

/// A path as its text column holds it.
pub(crate) fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
