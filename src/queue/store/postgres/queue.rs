//! [`QueueStore`] on PostgreSQL. Every exclusive change is one UPDATE whose
//! WHERE names the status (and worker) it expects; its row count says
//! whether it happened. A claim locks the row it takes and skips the rows
//! other claimers hold, so claimers never wait on each other.

use std::path::Path;

use postgres::types::ToSql;
use postgres::Transaction;

use super::{lock, PostgresBackend, NOW};
use crate::queue::error::{StoreError, StoreResult};
use crate::queue::run::{Run, Status};
use crate::queue::store::queue::{cancel_with, not_movable, not_owner, reorder};
use crate::queue::store::record::{status_at, RunRecord, RUN_COLUMNS};
use crate::queue::store::{Claim, Finish, NewRun, OnInterrupted, QueueStore};

impl PostgresBackend {
    /// Runs `sql` (whose `$1` is the run, `$2` the worker) when the run is
    /// still running on `worker`, then `also` in the same transaction; else
    /// says whose or what the run is now. A worker whose lease expired and
    /// whose run was claimed again can so never finish it a second time.
    fn transition(
        &self,
        id: i64,
        worker: &str,
        sql: &str,
        extra: &[&(dyn ToSql + Sync)],
        also: impl FnOnce(&mut Transaction<'_>) -> Result<(), postgres::Error>,
    ) -> StoreResult<()> {
        let mut client = self.conn()?;
        let mut tx = client.transaction().map_err(|e| self.err(e))?;
        let mut args: Vec<&(dyn ToSql + Sync)> = vec![&id, &worker];
        args.extend_from_slice(extra);
        let sql = format!("{sql} WHERE id = $1 AND status = 'running' AND worker = $2");
        let n = tx.execute(&sql, &args).map_err(|e| self.err(e))?;
        if n == 0 {
            let now = tx
                .query_opt("SELECT status, worker FROM runs WHERE id = $1", &[&id])
                .and_then(|row| row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).transpose())
                .map_err(|e| self.err(e))?;
            return Err(not_owner(id, worker, now));
        }
        also(&mut tx).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// The status of run `id` now (`NoSuchRun` when there is none).
    pub(super) fn status(&self, id: i64) -> StoreResult<Status> {
        let status: Option<String> = self
            .rows("SELECT status FROM runs WHERE id = $1", &[&id], |r| {
                r.try_get(0)
            })?
            .pop();
        status_at(&status.ok_or(StoreError::NoSuchRun(id))?, &self.label)
    }
}

impl QueueStore for PostgresBackend {
    fn enqueue(&self, run: &NewRun, min_id: i64) -> StoreResult<i64> {
        let mut client = self.conn()?;
        let mut tx = client.transaction().map_err(|e| self.err(e))?;
        let id = self.insert_run(&mut tx, run, min_id)?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(id)
    }

    fn queue(&self) -> StoreResult<Vec<Run>> {
        self.runs(
            &format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE status IN ('running', 'queued')
                 ORDER BY status = 'queued', priority DESC, position, id"
            ),
            &[],
        )
    }

    fn claim(&self, claim: &Claim<'_>) -> StoreResult<Option<Run>> {
        let kinds: Vec<&str> = claim.kinds.to_vec();
        let rows = self.rows(
            &format!(
                "UPDATE runs SET status = 'running', worker = $1, device = $2, started = {NOW},
                    heartbeat = {NOW}, attempts = attempts + 1, error = NULL, finished = NULL
                 WHERE id = (SELECT id FROM runs WHERE status = 'queued' AND kind = ANY($3)
                               AND (device_kind IS NULL OR device_kind = $4)
                             ORDER BY priority DESC, position, id LIMIT 1
                             FOR UPDATE SKIP LOCKED)
                   AND status = 'queued'
                 RETURNING {RUN_COLUMNS}"
            ),
            &[
                &claim.worker,
                &claim.device,
                &kinds,
                &claim.device_kind.as_str(),
            ],
            RunRecord::read,
        )?;
        rows.into_iter()
            .next()
            .map(|r| r.into_run_at(&self.label))
            .transpose()
    }

    fn heartbeat(&self, run: i64, worker: &str) -> StoreResult<bool> {
        let n = self.execute(
            &format!(
                "UPDATE runs SET heartbeat = {NOW}
                 WHERE id = $1 AND worker = $2 AND status = 'running'"
            ),
            &[&run, &worker],
        )?;
        self.execute(
            &format!("UPDATE workers SET heartbeat = {NOW}, current_run = $1 WHERE id = $2"),
            &[&run, &worker],
        )?;
        Ok(n == 1)
    }

    fn set_spec(&self, run: i64, worker: &str, spec: &str) -> StoreResult<()> {
        self.transition(run, worker, "UPDATE runs SET spec = $3", &[&spec], |_| {
            Ok(())
        })
    }

    fn finish(&self, run: i64, worker: &str, how: Finish<'_>) -> StoreResult<()> {
        match how {
            Finish::Done { output, outcome } => self.transition(
                run,
                worker,
                &format!(
                    "UPDATE runs SET status = 'done', finished = {NOW}, output = $3,
                        outcome = $4, error = NULL, resume_from = NULL, resume_step = NULL"
                ),
                &[&output.to_string_lossy().into_owned(), &outcome],
                |_| Ok(()),
            ),
            Finish::Failed { error } => self.transition(
                run,
                worker,
                &format!("UPDATE runs SET status = 'failed', finished = {NOW}, error = $3"),
                &[&error],
                |_| Ok(()),
            ),
            Finish::Cancelled => self.transition(
                run,
                worker,
                &format!("UPDATE runs SET status = 'cancelled', finished = {NOW}"),
                &[],
                |_| Ok(()),
            ),
        }
    }

    fn requeue(&self, run: i64, worker: &str) -> StoreResult<()> {
        self.transition(
            run,
            worker,
            "UPDATE runs SET status = 'queued', worker = NULL, heartbeat = NULL,
                    position = (SELECT coalesce(min(position), 0) - 1 FROM runs)",
            &[],
            |_| Ok(()),
        )
    }

    fn set_resume_point(&self, run: i64, worker: &str, path: &Path, step: i64) -> StoreResult<()> {
        let p = path.to_string_lossy().into_owned();
        self.transition(
            run,
            worker,
            "UPDATE runs SET resume_from = $3, resume_step = $4",
            &[&p, &step],
            |tx| {
                tx.execute(
                    "DELETE FROM checkpoints WHERE run_id = $1 AND path = $2",
                    &[&run, &p],
                )?;
                tx.execute(
                    &format!(
                        "INSERT INTO checkpoints (run_id, step, path, created)
                         VALUES ($1, $2, $3, {NOW})
                         ON CONFLICT (run_id, step) DO UPDATE
                         SET path = excluded.path, created = excluded.created"
                    ),
                    &[&run, &step, &p],
                )?;
                Ok(())
            },
        )
    }

    fn cancel(&self, run: i64) -> StoreResult<Status> {
        cancel_with(
            run,
            || {
                let sql = format!(
                    "UPDATE runs SET status = 'cancelled', finished = {NOW}
                     WHERE id = $1 AND status IN ('queued', 'interrupted')"
                );
                Ok(self.execute(&sql, &[&run])? == 1)
            },
            || {
                let sql =
                    "UPDATE runs SET cancel_requested = true WHERE id = $1 AND status = 'running'";
                Ok(self.execute(sql, &[&run])? == 1)
            },
            || self.status(run),
        )
    }

    fn cancel_requested(&self, run: i64) -> StoreResult<bool> {
        let flag: Option<bool> = self
            .rows(
                "SELECT cancel_requested FROM runs WHERE id = $1",
                &[&run],
                |r| r.try_get(0),
            )?
            .pop();
        Ok(flag.unwrap_or(true))
    }

    fn move_to(&self, run: i64, to: usize) -> StoreResult<()> {
        // The new order is written in one transaction, under the queue's
        // lock, so that no claimer sees half of it; a run claimed
        // meanwhile keeps its place.
        let mut client = self.conn()?;
        let mut tx = client.transaction().map_err(|e| self.err(e))?;
        lock(&mut tx, lock::QUEUE).map_err(|e| self.err(e))?;
        let order: Vec<(i64, i64)> = tx
            .query(
                "SELECT id, priority FROM runs WHERE status = 'queued'
                 ORDER BY priority DESC, position, id",
                &[],
            )
            .and_then(|rows| {
                rows.iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                    .collect()
            })
            .map_err(|e| self.err(e))?;
        let Some(order) = reorder(order, run, to) else {
            drop(tx);
            drop(client);
            return Err(not_movable(run, self.status(run)?));
        };
        for (pos, (rid, prio)) in order.iter().enumerate() {
            tx.execute(
                "UPDATE runs SET position = $2, priority = $3 WHERE id = $1 AND status = 'queued'",
                &[rid, &(pos as f64), prio],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    fn set_priority(&self, run: i64, priority: i64) -> StoreResult<()> {
        let n = self.execute(
            "UPDATE runs SET priority = $2 WHERE id = $1",
            &[&run, &priority],
        )?;
        if n == 0 {
            return Err(StoreError::NoSuchRun(run));
        }
        Ok(())
    }

    fn requeue_interrupted(&self, policy: OnInterrupted) -> StoreResult<usize> {
        let restart = match policy {
            OnInterrupted::Resume => false,
            OnInterrupted::Restart => true,
            OnInterrupted::Leave => return Ok(0),
        };
        let mut client = self.conn()?;
        let mut tx = client.transaction().map_err(|e| self.err(e))?;
        if restart {
            tx.execute(
                "DELETE FROM checkpoints
                 WHERE run_id IN (SELECT id FROM runs WHERE status = 'interrupted')",
                &[],
            )
            .map_err(|e| self.err(e))?;
        }
        let forget = if restart {
            ", resume_from = NULL, resume_step = NULL"
        } else {
            ""
        };
        let n = tx
            .execute(
                &format!(
                    "UPDATE runs SET status = 'queued', worker = NULL{forget}
                     WHERE status = 'interrupted'"
                ),
                &[],
            )
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n as usize)
    }
}
