//! [`HistoryStore`] on PostgreSQL.

use postgres::types::ToSql;
use postgres::Transaction;

use super::{lock, PostgresBackend};
use crate::queue::error::{StoreError, StoreResult};
use crate::queue::rollbacks::RollbackRecord;
use crate::queue::run::{Point, Run};
use crate::queue::store::blobs::travelling_inputs;
use crate::queue::store::history::not_deleted;
use crate::queue::store::record::{self, RunRecord, RUN_COLUMNS};
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
        let records = self.rows(&q.sql(), &q.params(), RunRecord::read)?;
        filter.take(records.into_iter().map(|r| r.into_run_at(&self.label)))
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
            record::point,
        )
    }

    fn checkpoints(&self, run: i64) -> StoreResult<Vec<Checkpoint>> {
        self.rows(
            "SELECT step, path, created FROM checkpoints WHERE run_id = $1 ORDER BY step",
            &[&run],
            record::checkpoint,
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
            record::rollback,
        )
    }

    fn delete(&self, run: i64) -> StoreResult<()> {
        let mut client = self.conn()?;
        let mut tx = client.transaction().map_err(|e| self.err(e))?;
        // Under the queue's lock, as a run is queued: a blob this delete
        // finds unused cannot meanwhile become an input of a new run.
        lock(&mut tx, lock::QUEUE).map_err(|e| self.err(e))?;
        let mut blobs: Vec<String> = tx
            .query("SELECT sha256 FROM run_files WHERE run_id = $1", &[&run])
            .and_then(|rows| rows.iter().map(|r| r.try_get(0)).collect())
            .map_err(|e| self.err(e))?;
        let deleted = tx
            .query_opt(
                "DELETE FROM runs WHERE id = $1 AND status != 'running' RETURNING inputs",
                &[&run],
            )
            .map_err(|e| self.err(e))?;
        let Some(inputs) = deleted else {
            drop(tx);
            drop(client);
            return Err(not_deleted(run, self.status(run)?));
        };
        let inputs: String = inputs.try_get(0).map_err(|e| self.err(e))?;
        blobs.extend(travelling_inputs(&inputs).into_iter().map(|i| i.sha256));
        drop_unused_blobs(&mut tx, &blobs).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }
}

/// Deletes those of `blobs` (with their chunks) that no run lists as an
/// input or a file any more. An input is looked for in the runs' inputs
/// as text: a hash found anywhere there keeps its blob.
fn drop_unused_blobs(tx: &mut Transaction<'_>, blobs: &[String]) -> Result<(), postgres::Error> {
    if blobs.is_empty() {
        return Ok(());
    }
    let gone: Vec<String> = tx
        .query(
            "DELETE FROM blobs b WHERE b.sha256 = ANY($1)
               AND NOT EXISTS (SELECT 1 FROM run_files f WHERE f.sha256 = b.sha256)
               AND NOT EXISTS (SELECT 1 FROM runs r WHERE strpos(r.inputs, b.sha256) > 0)
             RETURNING b.sha256",
            &[&blobs],
        )?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    if !gone.is_empty() {
        tx.execute("DELETE FROM blob_chunks WHERE sha256 = ANY($1)", &[&gone])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::run::Status;

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
