//! [`LedgerStore`] on PostgreSQL (tables `watch_items`, `watch_outputs` and
//! `watch_paused`). An item's runs and its ledger rows are one transaction;
//! of two watchers recording the same content, the second waits on the
//! first's unique key and then finds it there.

use std::collections::HashSet;
use std::path::Path;

use postgres::types::ToSql;
use postgres::Transaction;

use super::{PostgresBackend, NOW};
use crate::queue::error::{StoreError, StoreResult};
use crate::queue::ledger::{PendingOutput, RuleCounts, WatchFailure, WatchItem};
use crate::queue::store::ledger::{path_text, rule_counts, settled_state};
use crate::queue::store::record::{self, ITEM_COLUMNS};
use crate::queue::store::{LedgerRun, LedgerStore};

impl PostgresBackend {
    /// The runs of item `item`, each with its pending output, inside `tx`.
    fn insert_outputs(
        &self,
        tx: &mut Transaction<'_>,
        item: i64,
        runs: &[LedgerRun],
        min_id: i64,
    ) -> StoreResult<Vec<i64>> {
        let mut ids = Vec::new();
        for r in runs {
            let id = self.insert_run(tx, &r.run, min_id)?;
            tx.execute(
                "INSERT INTO watch_outputs (run_id, item_id, style, output_dir, state)
                 VALUES ($1, $2, $3, $4, 'pending')",
                &[&id, &item, &r.style, &path_text(&r.output_dir)],
            )
            .map_err(|e| self.err(e))?;
            ids.push(id);
        }
        Ok(ids)
    }

    fn items(&self, filter: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<WatchItem>> {
        self.rows(
            &format!("SELECT {ITEM_COLUMNS} FROM watch_items WHERE {filter}"),
            params,
            record::watch_item,
        )
    }
}

impl LedgerStore for PostgresBackend {
    fn watch_item(&self, rule: &str, key: &str) -> StoreResult<Option<WatchItem>> {
        Ok(self.items("rule = $1 AND key = $2", &[&rule, &key])?.pop())
    }

    fn queue_watched(
        &self,
        rule: &str,
        sha256: &str,
        path: &Path,
        runs: &[LedgerRun],
        min_id: i64,
    ) -> StoreResult<Option<Vec<i64>>> {
        let mut client = self.conn()?;
        let mut tx = client.transaction().map_err(|e| self.err(e))?;
        let item = tx
            .query_opt(
                &format!(
                    "INSERT INTO watch_items (rule, key, sha256, path, seen, state)
                     VALUES ($1, $2, $2, $3, {NOW}, 'queued')
                     ON CONFLICT (rule, key) DO NOTHING RETURNING id"
                ),
                &[&rule, &sha256, &path_text(path)],
            )
            .map_err(|e| self.err(e))?;
        let Some(item) = item else {
            return Ok(None);
        };
        let item: i64 = item.try_get(0).map_err(|e| self.err(e))?;
        let ids = self.insert_outputs(&mut tx, item, runs, min_id)?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(Some(ids))
    }

    fn failures_containing(
        &self,
        rule: &str,
        reason: &str,
    ) -> StoreResult<Vec<(WatchItem, i64, String)>> {
        let cols = record::item_columns_of("i");
        self.rows(
            &format!(
                "SELECT {cols}, o.run_id, o.style FROM watch_outputs o
                 JOIN watch_items i ON i.id = o.item_id JOIN runs r ON r.id = o.run_id
                 WHERE i.rule = $1 AND i.state = 'failed' AND o.state = 'failed'
                   AND r.status = 'failed' AND strpos(r.error, $2) > 0
                 ORDER BY o.run_id"
            ),
            &[&rule, &reason],
            |r| Ok((record::watch_item(r)?, r.try_get(9)?, r.try_get(10)?)),
        )
    }

    fn requeue_watched(
        &self,
        item: i64,
        old: &[i64],
        runs: &[LedgerRun],
        min_id: i64,
    ) -> StoreResult<Option<Vec<i64>>> {
        let mut client = self.conn()?;
        let mut tx = client.transaction().map_err(|e| self.err(e))?;
        let mut gone = 0;
        for run in old {
            // Conditional on the output still being a failed one of the
            // item: of two watchers retrying it, one deletes it.
            gone += tx
                .execute(
                    "DELETE FROM watch_outputs WHERE run_id = $1 AND item_id = $2
                     AND state = 'failed'",
                    &[run, &item],
                )
                .map_err(|e| self.err(e))?;
        }
        if gone != old.len() as u64 {
            return Ok(None);
        }
        let ids = self.insert_outputs(&mut tx, item, runs, min_id)?;
        tx.execute(
            "UPDATE watch_items SET state = 'queued', error = NULL WHERE id = $1",
            &[&item],
        )
        .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(Some(ids))
    }

    fn record_watch_failure(
        &self,
        rule: &str,
        key: &str,
        sha256: Option<&str>,
        path: &Path,
        reason: &str,
    ) -> StoreResult<()> {
        self.execute(
            &format!(
                "INSERT INTO watch_items (rule, key, sha256, path, seen, state, error)
                 VALUES ($1, $2, $3, $4, {NOW}, 'failed', $5)
                 ON CONFLICT (rule, key) DO UPDATE
                 SET seen = excluded.seen, error = excluded.error, path = excluded.path
                 WHERE watch_items.state = 'failed'"
            ),
            &[&rule, &key, &sha256, &path_text(path), &reason],
        )?;
        Ok(())
    }

    fn clear_watch_failure(&self, rule: &str, key: &str) -> StoreResult<()> {
        self.execute(
            "DELETE FROM watch_items WHERE rule = $1 AND key = $2 AND state = 'failed'",
            &[&rule, &key],
        )?;
        Ok(())
    }

    fn pending_outputs(&self, rule: &str) -> StoreResult<Vec<PendingOutput>> {
        self.rows(
            "SELECT o.run_id, o.item_id, i.path, o.style, o.output_dir, o.target,
                    r.status, r.output, r.error
             FROM watch_outputs o JOIN watch_items i ON i.id = o.item_id
             LEFT JOIN runs r ON r.id = o.run_id
             WHERE i.rule = $1 AND o.state = 'pending' ORDER BY o.run_id",
            &[&rule],
            record::pending_output,
        )
    }

    fn set_output_target(&self, run: i64, target: &Path) -> StoreResult<()> {
        self.execute(
            "UPDATE watch_outputs SET target = $2 WHERE run_id = $1",
            &[&run, &path_text(target)],
        )?;
        Ok(())
    }

    fn finish_output(&self, run: i64, result: Result<&Path, &str>) -> StoreResult<()> {
        let n = match result {
            Ok(p) => self.execute(
                &format!(
                    "UPDATE watch_outputs SET state = 'delivered', target = $2,
                        delivered = {NOW}, error = NULL WHERE run_id = $1"
                ),
                &[&run, &path_text(p)],
            ),
            Err(reason) => self.execute(
                &format!(
                    "UPDATE watch_outputs SET state = 'failed', error = $2, delivered = {NOW}
                     WHERE run_id = $1"
                ),
                &[&run, &reason],
            ),
        }?;
        if n == 0 {
            return Err(StoreError::NoSuchRun(run));
        }
        Ok(())
    }

    fn settle_items(&self, rule: &str) -> StoreResult<Vec<WatchItem>> {
        let ids: Vec<i64> = self.rows(
            "SELECT i.id FROM watch_items i WHERE i.rule = $1 AND i.state = 'queued'
             AND NOT EXISTS (SELECT 1 FROM watch_outputs o
                             WHERE o.item_id = i.id AND o.state = 'pending')",
            &[&rule],
            |r| r.try_get(0),
        )?;
        let mut out = Vec::new();
        for id in ids {
            let error: Option<String> = self
                .rows(
                    "SELECT style || ': ' || error FROM watch_outputs
                     WHERE item_id = $1 AND state = 'failed' ORDER BY run_id LIMIT 1",
                    &[&id],
                    |r| r.try_get(0),
                )?
                .pop();
            let state = settled_state(error.as_deref());
            // Of two watchers settling one item, one does.
            let n = self.execute(
                "UPDATE watch_items SET state = $2, error = $3 WHERE id = $1 AND state = 'queued'",
                &[&id, &state, &error],
            )?;
            if n == 1 {
                out.extend(self.items("id = $1", &[&id])?);
            }
        }
        Ok(out)
    }

    fn unmoved_items(&self, rule: &str) -> StoreResult<Vec<WatchItem>> {
        self.items(
            "rule = $1 AND state != 'queued' AND moved_to IS NULL AND sha256 IS NOT NULL
             AND EXISTS (SELECT 1 FROM watch_outputs o WHERE o.item_id = watch_items.id)",
            &[&rule],
        )
    }

    fn set_item_moved(&self, item: i64, to: &Path) -> StoreResult<()> {
        self.execute(
            "UPDATE watch_items SET moved_to = $2 WHERE id = $1",
            &[&item, &path_text(to)],
        )?;
        Ok(())
    }

    fn watch_counts(&self, rule: &str) -> StoreResult<RuleCounts> {
        let states: Vec<(String, i64)> = self.rows(
            "SELECT state, count(*) FROM watch_items WHERE rule = $1 GROUP BY state",
            &[&rule],
            |r| Ok((r.try_get(0)?, r.try_get(1)?)),
        )?;
        let delivered: Vec<i64> = self.rows(
            "SELECT count(*) FROM watch_outputs o JOIN watch_items i ON i.id = o.item_id
             WHERE i.rule = $1 AND o.state = 'delivered'",
            &[&rule],
            |r| r.try_get(0),
        )?;
        Ok(rule_counts(
            &states,
            delivered.first().copied().unwrap_or(0),
        ))
    }

    fn watch_failures(&self, rule: &str, limit: usize) -> StoreResult<Vec<WatchFailure>> {
        self.rows(
            "SELECT path, coalesce(error, 'failed'), seen FROM watch_items
             WHERE rule = $1 AND state = 'failed' ORDER BY seen DESC, id DESC LIMIT $2",
            &[&rule, &(limit as i64)],
            record::watch_failure,
        )
    }

    fn watch_items(&self, rule: &str) -> StoreResult<Vec<WatchItem>> {
        self.items("rule = $1 ORDER BY id", &[&rule])
    }

    fn set_rule_paused(&self, rule: &str, paused: bool) -> StoreResult<()> {
        if paused {
            self.execute(
                &format!(
                    "INSERT INTO watch_paused (rule, since) VALUES ($1, {NOW})
                     ON CONFLICT (rule) DO NOTHING"
                ),
                &[&rule],
            )?;
        } else {
            self.execute("DELETE FROM watch_paused WHERE rule = $1", &[&rule])?;
        }
        Ok(())
    }

    fn paused_rules(&self) -> StoreResult<HashSet<String>> {
        Ok(self
            .rows("SELECT rule FROM watch_paused", &[], |r| r.try_get(0))?
            .into_iter()
            .collect())
    }
}
