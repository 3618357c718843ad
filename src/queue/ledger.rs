//! The drop-folder ledger (tables `watch_items` and `watch_outputs`, schema 2):
//! which content each watch rule has seen, the runs it queued for it, and where
//! their results were delivered. Queuing an item's runs and recording the item
//! is one transaction, so a crash can never leave runs without their ledger
//! entry (which would queue them again on restart) or the reverse.

use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension, Row};
use serde::Serialize;

use super::error::{StoreError, StoreResult};
use super::run::{now, Input, Status};
use super::store::{insert_run, job_columns, Store};

/// Each run validated and turned into its store columns, before any
/// transaction starts.
fn prepare(runs: &[WatchedRun]) -> StoreResult<Vec<(String, String)>> {
    runs.iter()
        .map(|r| {
            r.job.validate()?;
            job_columns(&r.job, &r.inputs)
        })
        .collect()
}
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
    fn parse(s: &str) -> ItemState {
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

const ITEM_COLUMNS: &str = "id, rule, key, sha256, path, seen, state, error, moved_to";

fn row_to_item(r: &Row<'_>) -> rusqlite::Result<WatchItem> {
    Ok(WatchItem {
        id: r.get(0)?,
        rule: r.get(1)?,
        key: r.get(2)?,
        sha256: r.get(3)?,
        path: PathBuf::from(r.get::<_, String>(4)?),
        seen: r.get(5)?,
        state: ItemState::parse(&r.get::<_, String>(6)?),
        error: r.get(7)?,
        moved_to: r.get::<_, Option<String>>(8)?.map(PathBuf::from),
    })
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

impl Store {
    /// The item `rule` recorded under `key` (a sha256 or `path:<path>`), if any.
    pub fn watch_item(&self, rule: &str, key: &str) -> StoreResult<Option<WatchItem>> {
        self.conn
            .query_row(
                &format!("SELECT {ITEM_COLUMNS} FROM watch_items WHERE rule = ?1 AND key = ?2"),
                params![rule, key],
                row_to_item,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records a new item and queues its runs, in one transaction. Returns
    /// `None` (and queues nothing) when the rule already has this content, so
    /// two watchers racing on one file still queue it once.
    pub fn queue_watched(
        &self,
        rule: &str,
        sha256: &str,
        path: &Path,
        runs: &[WatchedRun],
        priority: i64,
    ) -> StoreResult<Option<Vec<i64>>> {
        let prepared = prepare(runs)?;
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let item: Option<i64> = tx
            .query_row(
                "INSERT INTO watch_items (rule, key, sha256, path, seen, state)
                 VALUES (?1, ?2, ?2, ?3, ?4, 'queued')
                 ON CONFLICT (rule, key) DO NOTHING RETURNING id",
                params![rule, sha256, path_str(path), now()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some(item) = item else {
            return Ok(None);
        };
        let ids = self.insert_outputs(&tx, item, runs, prepared, priority)?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(Some(ids))
    }

    /// The runs `runs` (their columns `prepared`) of item `item`, each with
    /// its pending output, inside `tx`.
    fn insert_outputs(
        &self,
        tx: &rusqlite::Transaction<'_>,
        item: i64,
        runs: &[WatchedRun],
        prepared: Vec<(String, String)>,
        priority: i64,
    ) -> StoreResult<Vec<i64>> {
        let runs_dir = self.data_dir().join("runs");
        let mut ids = Vec::new();
        for (r, (spec, inputs)) in runs.iter().zip(&prepared) {
            let id = insert_run(tx, &runs_dir, r.job.kind(), spec, inputs, priority)
                .map_err(|e| self.err(e))?;
            tx.execute(
                "INSERT INTO watch_outputs (run_id, item_id, style, output_dir, state)
                 VALUES (?1, ?2, ?3, ?4, 'pending')",
                params![id, item, r.style, path_str(&r.output_dir)],
            )
            .map_err(|e| self.err(e))?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// Outputs of `rule`'s failed items whose run failed because an input
    /// changed between queuing and running: (item, run id, output label).
    pub fn changed_input_failures(&self, rule: &str) -> StoreResult<Vec<(WatchItem, i64, String)>> {
        let cols = ITEM_COLUMNS
            .split(", ")
            .map(|c| format!("i.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {cols}, o.run_id, o.style FROM watch_outputs o
                 JOIN watch_items i ON i.id = o.item_id JOIN runs r ON r.id = o.run_id
                 WHERE i.rule = ?1 AND i.state = 'failed' AND o.state = 'failed'
                   AND r.status = 'failed' AND instr(r.error, ?2) > 0
                 ORDER BY o.run_id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![rule, CHANGED_SINCE_QUEUED], |r| {
                Ok((row_to_item(r)?, r.get(9)?, r.get(10)?))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Queues `runs` for failed item `item` in place of its failed outputs
    /// `old` (one transaction): the item is queued again. `None` (nothing
    /// done) when those outputs are no longer failed ones of this item
    /// (another watcher retried them first).
    pub fn requeue_watched(
        &self,
        item: i64,
        old: &[i64],
        runs: &[WatchedRun],
        priority: i64,
    ) -> StoreResult<Option<Vec<i64>>> {
        let prepared = prepare(runs)?;
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        let mut gone = 0;
        for run in old {
            gone += tx
                .execute(
                    "DELETE FROM watch_outputs WHERE run_id = ?1 AND item_id = ?2
                     AND state = 'failed'",
                    params![run, item],
                )
                .map_err(|e| self.err(e))?;
        }
        if gone != old.len() {
            return Ok(None);
        }
        let ids = self.insert_outputs(&tx, item, runs, prepared, priority)?;
        tx.execute(
            "UPDATE watch_items SET state = 'queued', error = NULL WHERE id = ?1",
            [item],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(Some(ids))
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
        self.conn
            .execute(
                "INSERT INTO watch_items (rule, key, sha256, path, seen, state, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'failed', ?6)
                 ON CONFLICT (rule, key) DO UPDATE SET seen = ?5, error = ?6, path = ?4
                 WHERE state = 'failed'",
                params![rule, key, sha256, path_str(path), now(), reason],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Forgets a path-keyed failure (the file at `path` has since been read).
    pub fn clear_watch_path_failure(&self, rule: &str, path: &Path) -> StoreResult<()> {
        self.conn
            .execute(
                "DELETE FROM watch_items WHERE rule = ?1 AND key = ?2 AND state = 'failed'",
                params![rule, format!("path:{}", path_str(path))],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Outputs of `rule` not yet delivered (or given up), with their runs' state.
    pub fn pending_outputs(&self, rule: &str) -> StoreResult<Vec<PendingOutput>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT o.run_id, o.item_id, i.path, o.style, o.output_dir, o.target,
                        r.status, r.output, r.error
                 FROM watch_outputs o JOIN watch_items i ON i.id = o.item_id
                 LEFT JOIN runs r ON r.id = o.run_id
                 WHERE i.rule = ?1 AND o.state = 'pending' ORDER BY o.run_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([rule], |r| {
                Ok(PendingOutput {
                    run_id: r.get(0)?,
                    item_id: r.get(1)?,
                    item_path: PathBuf::from(r.get::<_, String>(2)?),
                    style: r.get(3)?,
                    output_dir: PathBuf::from(r.get::<_, String>(4)?),
                    target: r.get::<_, Option<String>>(5)?.map(PathBuf::from),
                    status: r
                        .get::<_, Option<String>>(6)?
                        .and_then(|s| s.parse::<Status>().ok()),
                    run_output: r.get::<_, Option<String>>(7)?.map(PathBuf::from),
                    run_error: r.get(8)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Remembers where an output is about to be written.
    pub fn set_output_target(&self, run_id: i64, target: &Path) -> StoreResult<()> {
        self.conn
            .execute(
                "UPDATE watch_outputs SET target = ?2 WHERE run_id = ?1",
                params![run_id, path_str(target)],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Marks an output delivered (to its target) or failed with a reason.
    pub fn finish_output(&self, run_id: i64, result: Result<&Path, &str>) -> StoreResult<()> {
        let n = match result {
            Ok(p) => self.conn.execute(
                "UPDATE watch_outputs SET state = 'delivered', target = ?2, delivered = ?3,
                        error = NULL WHERE run_id = ?1",
                params![run_id, path_str(p), now()],
            ),
            Err(reason) => self.conn.execute(
                "UPDATE watch_outputs SET state = 'failed', error = ?2, delivered = ?3
                 WHERE run_id = ?1",
                params![run_id, reason, now()],
            ),
        }
        .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(StoreError::NoSuchRun(run_id));
        }
        Ok(())
    }

    /// Items of `rule` still `queued` whose outputs have all been delivered or
    /// given up: marks each done (or failed, with the first output's reason)
    /// and returns them as they now are.
    pub fn settle_items(&self, rule: &str) -> StoreResult<Vec<WatchItem>> {
        let ids: Vec<i64> = {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT i.id FROM watch_items i WHERE i.rule = ?1 AND i.state = 'queued'
                     AND NOT EXISTS (SELECT 1 FROM watch_outputs o
                                     WHERE o.item_id = i.id AND o.state = 'pending')",
                )
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([rule], |r| r.get(0))
                .map_err(|e| self.err(e))?;
            rows.collect::<Result<_, _>>().map_err(|e| self.err(e))?
        };
        let mut out = Vec::new();
        for id in ids {
            let error: Option<String> = self
                .conn
                .query_row(
                    "SELECT style || ': ' || error FROM watch_outputs
                     WHERE item_id = ?1 AND state = 'failed' ORDER BY run_id LIMIT 1",
                    [id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.err(e))?;
            self.conn
                .execute(
                    "UPDATE watch_items SET state = ?2, error = ?3 WHERE id = ?1",
                    params![id, if error.is_some() { "failed" } else { "done" }, error],
                )
                .map_err(|e| self.err(e))?;
            let item = self
                .conn
                .query_row(
                    &format!("SELECT {ITEM_COLUMNS} FROM watch_items WHERE id = ?1"),
                    [id],
                    row_to_item,
                )
                .map_err(|e| self.err(e))?;
            out.push(item);
        }
        Ok(out)
    }

    /// Items of `rule` that are settled but whose input has not been moved
    /// (used with `after = "move"`, also to finish a move a crash interrupted).
    pub fn unmoved_items(&self, rule: &str) -> StoreResult<Vec<WatchItem>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {ITEM_COLUMNS} FROM watch_items
                 WHERE rule = ?1 AND state != 'queued' AND moved_to IS NULL AND sha256 IS NOT NULL
                   AND EXISTS (SELECT 1 FROM watch_outputs o WHERE o.item_id = watch_items.id)"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([rule], row_to_item)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn set_item_moved(&self, id: i64, to: &Path) -> StoreResult<()> {
        self.conn
            .execute(
                "UPDATE watch_items SET moved_to = ?2 WHERE id = ?1",
                params![id, path_str(to)],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Counts of `rule`'s items and delivered outputs.
    pub fn watch_counts(&self, rule: &str) -> StoreResult<RuleCounts> {
        let mut c = RuleCounts::default();
        let mut stmt = self
            .conn
            .prepare("SELECT state, count(*) FROM watch_items WHERE rule = ?1 GROUP BY state")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([rule], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (state, n) = row.map_err(|e| self.err(e))?;
            match ItemState::parse(&state) {
                ItemState::Queued => c.queued = n as usize,
                ItemState::Done => c.done = n as usize,
                ItemState::Failed => c.failed = n as usize,
            }
        }
        c.delivered = self
            .conn
            .query_row(
                "SELECT count(*) FROM watch_outputs o JOIN watch_items i ON i.id = o.item_id
                 WHERE i.rule = ?1 AND o.state = 'delivered'",
                [rule],
                |r| r.get::<_, i64>(0),
            )
            .map_err(|e| self.err(e))? as usize;
        Ok(c)
    }

    /// `rule`'s failed items with their reasons, newest first.
    pub fn watch_failures(&self, rule: &str, limit: usize) -> StoreResult<Vec<WatchFailure>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT path, coalesce(error, 'failed'), seen FROM watch_items
                 WHERE rule = ?1 AND state = 'failed' ORDER BY seen DESC, id DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![rule, limit as i64], |r| {
                Ok(WatchFailure {
                    path: PathBuf::from(r.get::<_, String>(0)?),
                    reason: r.get(1)?,
                    time: r.get(2)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Every item `rule` has recorded, oldest first (for tests and exports).
    pub fn watch_items(&self, rule: &str) -> StoreResult<Vec<WatchItem>> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {ITEM_COLUMNS} FROM watch_items WHERE rule = ?1 ORDER BY id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([rule], row_to_item)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}
