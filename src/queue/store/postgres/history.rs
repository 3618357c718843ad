//! [`HistoryStore`] on PostgreSQL.

use std::path::PathBuf;

use postgres::types::ToSql;

use super::{row_to_record, PostgresBackend, RUN_COLUMNS};
use crate::queue::error::{StoreError, StoreResult};
use crate::queue::rollbacks::RollbackRecord;
use crate::queue::run::{Point, Run, Status};
use crate::queue::store::{Checkpoint, Filter, HistoryStore};

/// The query of [`HistoryStore::list`]: what the server can select, the
/// rest ([`Filter::matches`]) done on the rows it returns.
struct ListQuery {
    statuses: Vec<String>,
    limit: Option<i64>,
}

impl ListQuery {
    fn new(filter: &Filter) -> Self {
        ListQuery {
            statuses: filter.statuses.iter().map(|s| s.to_string()).collect(),
            // A style or a text is matched here, in the inputs' JSON, and
            // another order is sorted here: the server's limit would count
            // runs that do not match or come later. It covers the skipped
            // runs of the page too.
            limit: filter
                .limit
                .filter(|_| {
                    filter.style.is_none()
                        && filter.text.is_none()
                        && filter.order == crate::queue::store::history::Order::Newest
                })
                .map(|l| i64::try_from(l.saturating_add(filter.offset)).unwrap_or(i64::MAX)),
        }
    }

    fn sql(&self) -> String {
        let mut sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE true");
        let mut n = 0;
        let mut param = || {
            n += 1;
            n
        };
        if !self.statuses.is_empty() {
            sql += &format!(" AND status = ANY(${})", param());
        }
        sql += " ORDER BY id DESC";
        if self.limit.is_some() {
            sql += &format!(" LIMIT ${}", param());
        }
        sql
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut p: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if !self.statuses.is_empty() {
            p.push(&self.statuses);
        }
        if let Some(l) = &self.limit {
            p.push(l);
        }
        p
    }
}

impl HistoryStore for PostgresBackend {
    fn get(&self, run: i64) -> StoreResult<Run> {
        self.runs(
            &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1"),
            &[&run],
        )?
        .pop()
        .ok_or(StoreError::NoSuchRun(run))
    }

    fn list(&self, filter: &Filter) -> StoreResult<Vec<Run>> {
        let q = ListQuery::new(filter);
        let records = self.rows(&q.sql(), &q.params(), row_to_record)?;
        filter.take(records.into_iter().map(|r| self.to_run(r)))
    }

    fn add_points(&self, run: i64, points: &[Point]) -> StoreResult<()> {
        if points.is_empty() {
            return Ok(());
        }
        let mut client = self.conn()?;
        let mut tx = client.transaction().map_err(|e| self.err(e))?;
        let stmt = tx
            .prepare(
                "INSERT INTO samples (run_id, step, series, value, seconds)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (run_id, step, series) DO UPDATE
                 SET value = excluded.value, seconds = excluded.seconds",
            )
            .map_err(|e| self.err(e))?;
        for p in points {
            tx.execute(&stmt, &[&run, &p.step, &p.series, &p.value, &p.seconds])
                .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    fn points_since(&self, run: i64, after_step: i64) -> StoreResult<Vec<Point>> {
        self.rows(
            "SELECT step, series, value, seconds FROM samples
             WHERE run_id = $1 AND step > $2 ORDER BY step, series",
            &[&run, &after_step],
            |r| {
                Ok(Point {
                    step: r.try_get("step")?,
                    series: r.try_get("series")?,
                    value: r.try_get("value")?,
                    seconds: r.try_get("seconds")?,
                })
            },
        )
    }

    fn checkpoints(&self, run: i64) -> StoreResult<Vec<Checkpoint>> {
        self.rows(
            "SELECT step, path, created FROM checkpoints WHERE run_id = $1 ORDER BY step",
            &[&run],
            |r| {
                Ok(Checkpoint {
                    step: r.try_get("step")?,
                    path: PathBuf::from(r.try_get::<_, String>("path")?),
                    created: r.try_get("created")?,
                })
            },
        )
    }

    fn add_rollbacks(&self, run: i64, rollbacks: &[RollbackRecord]) -> StoreResult<()> {
        if rollbacks.is_empty() {
            return Ok(());
        }
        let mut client = self.conn()?;
        let mut tx = client.transaction().map_err(|e| self.err(e))?;
        for r in rollbacks {
            tx.execute(
                "INSERT INTO rollbacks (run_id, eval, to_eval, loss, reason, remedy)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (run_id, eval) DO UPDATE
                 SET to_eval = excluded.to_eval, loss = excluded.loss,
                     reason = excluded.reason, remedy = excluded.remedy",
                &[
                    &run,
                    &r.eval,
                    &r.to_eval,
                    &r.loss.filter(|l| l.is_finite()),
                    &r.reason,
                    &r.remedy,
                ],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    fn rollbacks(&self, run: i64) -> StoreResult<Vec<RollbackRecord>> {
        self.rows(
            "SELECT eval, to_eval, loss, reason, remedy FROM rollbacks
             WHERE run_id = $1 ORDER BY eval",
            &[&run],
            |r| {
                Ok(RollbackRecord {
                    eval: r.try_get(0)?,
                    to_eval: r.try_get(1)?,
                    loss: r.try_get(2)?,
                    reason: r.try_get(3)?,
                    remedy: r.try_get(4)?,
                })
            },
        )
    }

    fn delete(&self, run: i64) -> StoreResult<()> {
        let n = self.execute(
            "DELETE FROM runs WHERE id = $1 AND status != 'running'",
            &[&run],
        )?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The server selects by status and limits only when no style is asked
    /// (a style is matched on the rows it returns).
    #[test]
    fn the_list_query_pushes_what_the_server_can_select() {
        let q = ListQuery::new(&Filter {
            statuses: vec![Status::Done, Status::Failed],
            style: None,
            limit: Some(5),
            ..Filter::default()
        });
        assert!(q
            .sql()
            .ends_with("AND status = ANY($1) ORDER BY id DESC LIMIT $2"));
        assert_eq!(q.params().len(), 2);
        let q = ListQuery::new(&Filter {
            style: Some("iris".into()),
            limit: Some(5),
            ..Filter::default()
        });
        assert!(
            q.sql().ends_with("WHERE true ORDER BY id DESC"),
            "{}",
            q.sql()
        );
        assert!(q.params().is_empty());
    }
}
