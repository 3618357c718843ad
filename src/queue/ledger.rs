//! The drop-folder ledger: which content each watch rule has seen, the runs
//! it queued for it, and where their results were delivered. The types and
//! the [`Store`]'s methods; a backend keeps them ([`LedgerStore`]), queuing
//! an item's runs and recording the item at once, so a crash can never leave
//! runs without their ledger entry (which would queue them again on
//! restart) or the reverse.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::error::StoreResult;
use super::run::{Input, Status};
use super::store::{LedgerRun, Store};
use crate::jobs::Job;

/// What the worker's error says of a run whose input files changed between
/// queuing and running (`changed_inputs` in src/queue/worker.rs): such runs
/// of a drop folder are queued again once the rule has the new file.
pub const CHANGED_SINCE_QUEUED: &str = "changed since the run was queued";

/// State of an item (one piece of content seen by one rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemState {
    /// Its runs are queued or running, or their results not yet delivered.
    Queued,
    /// Every output delivered.
    Done,
    /// It could not be queued (unreadable, not an image, too large…) or one of
    /// its runs failed; `error` says why.
    Failed,
}

impl ItemState {
    pub(crate) fn parse(s: &str) -> ItemState {
        match s {
            "done" => ItemState::Done,
            "failed" => ItemState::Failed,
            _ => ItemState::Queued,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct WatchItem {
    pub id: i64,
    pub rule: String,
    pub key: String,
    pub sha256: Option<String>,
    pub path: PathBuf,
    /// Unix seconds when it was (last) seen.
    pub seen: f64,
    pub state: ItemState,
    pub error: Option<String>,
    pub moved_to: Option<PathBuf>,
}

/// One run queued for an item, with the folder its result goes to.
#[derive(Clone, Debug)]
pub struct WatchedRun {
    pub job: Job,
    pub inputs: Vec<Input>,
    pub style: String,
    pub output_dir: PathBuf,
}

/// An output awaiting delivery, with what the store knows of its run.
#[derive(Clone, Debug)]
pub struct PendingOutput {
    pub run_id: i64,
    pub item_id: i64,
    /// Where the input was when it was queued (its stem names the output).
    pub item_path: PathBuf,
    pub style: String,
    pub output_dir: PathBuf,
    /// The path chosen on an earlier attempt (set before copying, so a crash
    /// mid-delivery is recognised rather than delivered twice).
    pub target: Option<PathBuf>,
    /// `None`: the run was deleted.
    pub status: Option<Status>,
    pub run_output: Option<PathBuf>,
    pub run_error: Option<String>,
}

/// Per-rule counts for status displays.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct RuleCounts {
    /// Items whose runs are not all finished and delivered.
    pub queued: usize,
    pub done: usize,
    pub failed: usize,
    /// Output files written to the rule's output folder.
    pub delivered: usize,
}

/// A failure with its reason, for `atelier watch status`.
#[derive(Clone, Debug, Serialize)]
pub struct WatchFailure {
    pub path: PathBuf,
    pub reason: String,
    /// Unix seconds.
    pub time: f64,
}

impl Store {
    /// Each run validated and turned into what the backend stores, its
    /// files stored first when the store keeps files for other hosts.
    fn ledger_runs(&self, runs: &[WatchedRun], priority: i64) -> StoreResult<Vec<LedgerRun>> {
        runs.iter()
            .map(|r| {
                self.put_inputs(&r.inputs)?;
                Ok(LedgerRun {
                    run: Store::new_run(&r.job, &r.inputs, priority, None, Default::default())?,
                    style: r.style.clone(),
                    output_dir: r.output_dir.clone(),
                })
            })
            .collect()
    }

    /// The item `rule` recorded under `key` (a sha256 or `path:<path>`), if any.
    pub fn watch_item(&self, rule: &str, key: &str) -> StoreResult<Option<WatchItem>> {
        self.backend.watch_item(rule, key)
    }

    /// Records a new item and queues its runs, at once. Returns `None` (and
    /// queues nothing) when the rule already has this content, so two
    /// watchers racing on one file still queue it once.
    pub fn queue_watched(
        &self,
        rule: &str,
        sha256: &str,
        path: &Path,
        runs: &[WatchedRun],
        priority: i64,
    ) -> StoreResult<Option<Vec<i64>>> {
        let runs = self.ledger_runs(runs, priority)?;
        self.backend
            .queue_watched(rule, sha256, path, &runs, self.min_run_id())
    }

    /// Outputs of `rule`'s failed items whose run failed because an input
    /// changed between queuing and running: (item, run id, output label).
    pub fn changed_input_failures(&self, rule: &str) -> StoreResult<Vec<(WatchItem, i64, String)>> {
        self.backend.failures_containing(rule, CHANGED_SINCE_QUEUED)
    }

    /// Queues `runs` for failed item `item` in place of its failed outputs
    /// `old` (at once): the item is queued again. `None` (nothing done) when
    /// those outputs are no longer failed ones of this item (another
    /// watcher retried them first).
    pub fn requeue_watched(
        &self,
        item: i64,
        old: &[i64],
        runs: &[WatchedRun],
        priority: i64,
    ) -> StoreResult<Option<Vec<i64>>> {
        let runs = self.ledger_runs(runs, priority)?;
        self.backend
            .requeue_watched(item, old, &runs, self.min_run_id())
    }

    /// Records that an input failed before any run was queued. Recorded once per
    /// (rule, key); seeing it again only refreshes the time and reason.
    pub fn record_watch_failure(
        &self,
        rule: &str,
        key: &str,
        sha256: Option<&str>,
        path: &Path,
        reason: &str,
    ) -> StoreResult<()> {
        self.backend
            .record_watch_failure(rule, key, sha256, path, reason)
    }

    /// Forgets a path-keyed failure (the file at `path` has since been read).
    pub fn clear_watch_path_failure(&self, rule: &str, path: &Path) -> StoreResult<()> {
        let key = format!("path:{}", path.to_string_lossy());
        self.backend.clear_watch_failure(rule, &key)
    }

    /// Outputs of `rule` not yet delivered (or given up), with their runs' state.
    pub fn pending_outputs(&self, rule: &str) -> StoreResult<Vec<PendingOutput>> {
        self.backend.pending_outputs(rule)
    }

    /// Remembers where an output is about to be written.
    pub fn set_output_target(&self, run_id: i64, target: &Path) -> StoreResult<()> {
        self.backend.set_output_target(run_id, target)
    }

    /// Marks an output delivered (to its target) or failed with a reason.
    pub fn finish_output(&self, run_id: i64, result: Result<&Path, &str>) -> StoreResult<()> {
        self.backend.finish_output(run_id, result)
    }

    /// Items of `rule` still `queued` whose outputs have all been delivered or
    /// given up: marks each done (or failed, with the first output's reason)
    /// and returns them as they now are.
    pub fn settle_items(&self, rule: &str) -> StoreResult<Vec<WatchItem>> {
        self.backend.settle_items(rule)
    }

    /// Items of `rule` that are settled but whose input has not been moved
    /// (used with `after = "move"`, also to finish a move a crash interrupted).
    pub fn unmoved_items(&self, rule: &str) -> StoreResult<Vec<WatchItem>> {
        self.backend.unmoved_items(rule)
    }

    pub fn set_item_moved(&self, id: i64, to: &Path) -> StoreResult<()> {
        self.backend.set_item_moved(id, to)
    }

    /// Counts of `rule`'s items and delivered outputs.
    pub fn watch_counts(&self, rule: &str) -> StoreResult<RuleCounts> {
        self.backend.watch_counts(rule)
    }

    /// `rule`'s failed items with their reasons, newest first.
    pub fn watch_failures(&self, rule: &str, limit: usize) -> StoreResult<Vec<WatchFailure>> {
        self.backend.watch_failures(rule, limit)
    }

    /// Every item `rule` has recorded, oldest first (for tests and exports).
    pub fn watch_items(&self, rule: &str) -> StoreResult<Vec<WatchItem>> {
        self.backend.watch_items(rule)
    }
}
