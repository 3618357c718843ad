//! [`HistoryStore`] on SQLite.

use std::path::PathBuf;

use rusqlite::{params, OptionalExtension};

use super::{SqliteBackend, RUN_COLUMNS};
use crate::queue::error::{StoreError, StoreResult};
use crate::queue::rollbacks::RollbackRecord;
use crate::queue::run::{Point, Run, Status};
use crate::queue::store::{Checkpoint, Filter, HistoryStore};

impl HistoryStore for SqliteBackend {
    fn get(&self, run: i64) -> StoreResult<Run> {
        let record = self
            .conn
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                [run],
                super::row_to_record,
            )
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or(StoreError::NoSuchRun(run))?;
        self.to_run(record)
    }

    fn list(&self, filter: &Filter) -> StoreResult<Vec<Run>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC"))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], super::row_to_record)
            .map_err(|e| self.err(e))?;
        filter.take(rows.map(|r| self.to_run(r.map_err(|e| self.err(e))?)))
    }

    fn add_points(&self, run: i64, points: &[Point]) -> StoreResult<()> {
        if points.is_empty() {
            return Ok(());
        }
        let tx = self.immediate()?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO samples (run_id, step, series, value, seconds)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(|e| self.err(e))?;
            for p in points {
                stmt.execute(params![run, p.step, p.series, p.value, p.seconds])
                    .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    fn points_since(&self, run: i64, after_step: i64) -> StoreResult<Vec<Point>> {
        self.rows(
            "SELECT step, series, value, seconds FROM samples
             WHERE run_id = ?1 AND step > ?2 ORDER BY step, series",
            params![run, after_step],
            |r| {
                Ok(Point {
                    step: r.get("step")?,
                    series: r.get("series")?,
                    value: r.get("value")?,
                    seconds: r.get("seconds")?,
                })
            },
        )
    }

    fn checkpoints(&self, run: i64) -> StoreResult<Vec<Checkpoint>> {
        self.rows(
            "SELECT step, path, created FROM checkpoints WHERE run_id = ?1 ORDER BY step",
            [run],
            |r| {
                Ok(Checkpoint {
                    step: r.get("step")?,
                    path: PathBuf::from(r.get::<_, String>("path")?),
                    created: r.get("created")?,
                })
            },
        )
    }

    fn add_rollbacks(&self, run: i64, rollbacks: &[RollbackRecord]) -> StoreResult<()> {
        if rollbacks.is_empty() {
            return Ok(());
        }
        let tx = self.immediate()?;
        for r in rollbacks {
            tx.execute(
                "INSERT OR REPLACE INTO rollbacks (run_id, eval, to_eval, loss, reason, remedy)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    run,
                    r.eval,
                    r.to_eval,
                    r.loss.filter(|l| l.is_finite()),
                    r.reason,
                    r.remedy
                ],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    fn rollbacks(&self, run: i64) -> StoreResult<Vec<RollbackRecord>> {
        self.rows(
            "SELECT eval, to_eval, loss, reason, remedy FROM rollbacks
             WHERE run_id = ?1 ORDER BY eval",
            [run],
            |r| {
                Ok(RollbackRecord {
                    eval: r.get(0)?,
                    to_eval: r.get(1)?,
                    loss: r.get(2)?,
                    reason: r.get(3)?,
                    remedy: r.get(4)?,
                })
            },
        )
    }

    fn delete(&self, run: i64) -> StoreResult<()> {
        let n = self
            .conn
            .execute(
                "DELETE FROM runs WHERE id = ?1 AND status != 'running'",
                [run],
            )
            .map_err(|e| self.err(e))?;
        if n == 1 {
            return Ok(());
        }
        Err(match self.status(run)? {
            status @ Status::Running => StoreError::WrongStatus {
                id: run,
                status: status.to_string(),
                what: "cancel it first".into(),
            },
            // Deleted by another process meanwhile.
            _ => StoreError::NoSuchRun(run),
        })
    }
}
