//! [`QueueStore`] on SQLite. Every exclusive change is one UPDATE whose
//! WHERE names the status (and worker) it expects; its row count says
//! whether it happened.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, ToSql};

use super::{insert_run, rows_in, SqliteBackend};
use crate::queue::error::{StoreError, StoreResult};
use crate::queue::run::{now, Run, Status};
use crate::queue::store::queue::{cancel_with, not_movable, not_owner, reorder};
use crate::queue::store::record::{status_at, RUN_COLUMNS};
use crate::queue::store::{Claim, Finish, HistoryStore, NewRun, OnInterrupted, QueueStore};

impl SqliteBackend {
    /// Runs `sql` (whose `?1` is the run, `?2` the worker) when the run is
    /// still running on `worker`, then `also` in the same transaction; else
    /// says whose or what the run is now. A worker whose run went stale and
    /// was re-claimed can so never finish it a second time.
    fn transition(
        &self,
        id: i64,
        worker: &str,
        sql: &str,
        extra: &[&dyn ToSql],
        also: impl FnOnce(&Connection) -> rusqlite::Result<()>,
    ) -> StoreResult<()> {
        let tx = self.immediate()?;
        let mut args: Vec<&dyn ToSql> = vec![&id, &worker];
        args.extend_from_slice(extra);
        let sql = format!("{sql} WHERE id = ?1 AND status = 'running' AND worker = ?2");
        let n = tx.execute(&sql, args.as_slice()).map_err(|e| self.err(e))?;
        if n == 0 {
            let now: Option<(String, Option<String>)> = tx
                .query_row("SELECT status, worker FROM runs WHERE id = ?1", [id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
                .map_err(|e| self.err(e))?;
            return Err(not_owner(id, worker, now));
        }
        also(&tx).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    /// The status of run `id` now (`NoSuchRun` when there is none).
    pub(super) fn status(&self, id: i64) -> StoreResult<Status> {
        let status: Option<String> = self
            .conn
            .query_row("SELECT status FROM runs WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))?;
        status_at(&status.ok_or(StoreError::NoSuchRun(id))?, &self.path)
    }
}

impl QueueStore for SqliteBackend {
    fn enqueue(&self, run: &NewRun, min_id: i64) -> StoreResult<i64> {
        insert_run(&self.conn, run, min_id).map_err(|e| self.err(e))
    }

    fn queue(&self) -> StoreResult<Vec<Run>> {
        self.runs(
            &format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE status IN ('running', 'queued')
                 ORDER BY status = 'queued', priority DESC, position, id"
            ),
            [],
        )
    }

    fn claim(&self, claim: &Claim<'_>) -> StoreResult<Option<Run>> {
        // The kinds are this build's constants, not user text.
        let kinds = claim
            .kinds
            .iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let id: Option<i64> = self
            .conn
            .query_row(
                &format!(
                    "UPDATE runs SET status = 'running', worker = ?1, device = ?2, started = ?3,
                        heartbeat = ?3, attempts = attempts + 1, error = NULL, finished = NULL
                 WHERE id = (SELECT id FROM runs WHERE status = 'queued' AND kind IN ({kinds})
                               AND (device_kind IS NULL OR device_kind = ?4)
                             ORDER BY priority DESC, position, id LIMIT 1)
                   AND status = 'queued'
                 RETURNING id"
                ),
                params![
                    claim.worker,
                    claim.device,
                    now(),
                    claim.device_kind.as_str()
                ],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        id.map(|id| self.get(id)).transpose()
    }

    fn heartbeat(&self, run: i64, worker: &str) -> StoreResult<bool> {
        let t = now();
        let n = self
            .conn
            .execute(
                "UPDATE runs SET heartbeat = ?1 WHERE id = ?2 AND worker = ?3 AND status = 'running'",
                params![t, run, worker],
            )
            .map_err(|e| self.err(e))?;
        self.conn
            .execute(
                "UPDATE workers SET heartbeat = ?1, current_run = ?2 WHERE id = ?3",
                params![t, run, worker],
            )
            .map_err(|e| self.err(e))?;
        Ok(n == 1)
    }

    fn set_spec(&self, run: i64, worker: &str, spec: &str) -> StoreResult<()> {
        self.transition(run, worker, "UPDATE runs SET spec = ?3", &[&spec], |_| {
            Ok(())
        })
    }

    fn finish(&self, run: i64, worker: &str, how: Finish<'_>) -> StoreResult<()> {
        let t = now();
        match how {
            Finish::Done { output, outcome } => self.transition(
                run,
                worker,
                "UPDATE runs SET status = 'done', finished = ?3, output = ?4, outcome = ?5,
                        error = NULL, resume_from = NULL, resume_step = NULL",
                &[&t, &output.to_string_lossy(), &outcome],
                |_| Ok(()),
            ),
            Finish::Failed { error } => self.transition(
                run,
                worker,
                "UPDATE runs SET status = 'failed', finished = ?3, error = ?4",
                &[&t, &error],
                |_| Ok(()),
            ),
            Finish::Cancelled => self.transition(
                run,
                worker,
                "UPDATE runs SET status = 'cancelled', finished = ?3",
                &[&t],
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
            "UPDATE runs SET resume_from = ?3, resume_step = ?4",
            &[&p, &step],
            |tx| {
                tx.execute(
                    "DELETE FROM checkpoints WHERE run_id = ?1 AND path = ?2",
                    params![run, p],
                )?;
                tx.execute(
                    "INSERT OR REPLACE INTO checkpoints (run_id, step, path, created)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![run, step, p, now()],
                )?;
                Ok(())
            },
        )
    }

    fn cancel(&self, run: i64) -> StoreResult<Status> {
        cancel_with(
            run,
            || {
                let sql = "UPDATE runs SET status = 'cancelled', finished = ?2
                           WHERE id = ?1 AND status IN ('queued', 'interrupted')";
                Ok(self.execute(sql, params![run, now()])? == 1)
            },
            || {
                let sql =
                    "UPDATE runs SET cancel_requested = 1 WHERE id = ?1 AND status = 'running'";
                Ok(self.execute(sql, [run])? == 1)
            },
            || self.status(run),
        )
    }

    fn cancel_requested(&self, run: i64) -> StoreResult<bool> {
        self.conn
            .query_row(
                "SELECT cancel_requested FROM runs WHERE id = ?1",
                [run],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
            .map(|v: Option<bool>| v.unwrap_or(true))
    }

    fn move_to(&self, run: i64, to: usize) -> StoreResult<()> {
        // The new order is written in one transaction so that no claimer
        // sees half of it; a run claimed meanwhile keeps its place.
        let tx = self.immediate()?;
        let order: Vec<(i64, i64)> = rows_in(
            &tx,
            "SELECT id, priority FROM runs WHERE status = 'queued'
             ORDER BY priority DESC, position, id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(|e| self.err(e))?;
        let Some(order) = reorder(order, run, to) else {
            drop(tx);
            return Err(not_movable(run, self.status(run)?));
        };
        for (pos, (rid, prio)) in order.iter().enumerate() {
            tx.execute(
                "UPDATE runs SET position = ?2, priority = ?3 WHERE id = ?1 AND status = 'queued'",
                params![rid, pos as f64, prio],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    fn set_priority(&self, run: i64, priority: i64) -> StoreResult<()> {
        let n = self
            .conn
            .execute(
                "UPDATE runs SET priority = ?2 WHERE id = ?1",
                params![run, priority],
            )
            .map_err(|e| self.err(e))?;
        if n == 0 {
            return Err(StoreError::NoSuchRun(run));
        }
        Ok(())
    }

    fn requeue_interrupted(&self, policy: OnInterrupted) -> StoreResult<usize> {
        let sql = match policy {
            OnInterrupted::Resume => {
                "UPDATE runs SET status = 'queued', worker = NULL WHERE status = 'interrupted'"
            }
            OnInterrupted::Restart => {
                "DELETE FROM checkpoints WHERE run_id IN (SELECT id FROM runs WHERE status = 'interrupted');
                 UPDATE runs SET status = 'queued', worker = NULL, resume_from = NULL, resume_step = NULL
                 WHERE status = 'interrupted'"
            }
            OnInterrupted::Leave => return Ok(0),
        };
        let tx = self.immediate()?;
        tx.execute_batch(sql).map_err(|e| self.err(e))?;
        let n = tx.changes() as usize;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(n)
    }
}
