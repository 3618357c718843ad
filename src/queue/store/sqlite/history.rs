//! [`HistoryStore`] on SQLite.

use rusqlite::{params, OptionalExtension};

use super::SqliteBackend;
use crate::queue::error::{StoreError, StoreResult};
use crate::queue::rollbacks::RollbackRecord;
use crate::queue::run::{Point, Run};
use crate::queue::store::history::{not_deleted, Order};
use crate::queue::store::record::{self, RunRecord, RUN_COLUMNS};
use crate::queue::store::{Checkpoint, Filter, HistoryStore};

/// [`Filter::text`] in SQL (`?1` the lower-cased text or NULL, `?2` the
/// text as an id, `?3` the text when JSON writes it as is, else NULL): the
/// same test as `Filter::matches`, so the order and page can be taken in SQL
/// too. `?3` skips the inputs' JSON cheaply when the text is nowhere in it.
/// `basename(x)` is `replace(x, rtrim(x, replace(x, '/', '')), '')`: what
/// follows the last slash.
const TEXT_MATCH: &str = "(?1 IS NULL
    OR instr(lower(kind), ?1) OR instr(lower(status), ?1) OR CAST(id AS TEXT) = ?2
    OR instr(lower(coalesce(error, '')), ?1)
    OR instr(lower(replace(coalesce(output, ''), rtrim(coalesce(output, ''),
        replace(coalesce(output, ''), '/', '')), '')), ?1)
    OR ((?3 IS NULL OR instr(lower(inputs), ?3))
        AND EXISTS (SELECT 1 FROM json_each(runs.inputs) AS i WHERE instr(lower(coalesce(
        json_extract(i.value, '$.name'),
        replace(json_extract(i.value, '$.path'), rtrim(json_extract(i.value, '$.path'),
            replace(json_extract(i.value, '$.path'), '/', '')), ''))), ?1))))";

/// Whether SQL can take the whole filter (the status and style parts, used
/// by `runs ls`, are checked after reading).
fn in_sql(filter: &Filter) -> bool {
    filter.statuses.is_empty() && filter.style.is_none()
}

/// The `?1`, `?2` and `?3` of [`TEXT_MATCH`].
fn text_params(filter: &Filter) -> (Option<String>, Option<String>, Option<String>) {
    let text = filter.text.as_deref().map(str::to_ascii_lowercase);
    let id = text
        .as_deref()
        .map(|t| t.trim_start_matches('#').to_string());
    let verbatim = text
        .clone()
        .filter(|t| !t.chars().any(|c| c == '"' || c == '\\' || c.is_control()));
    (text, id, verbatim)
}

impl HistoryStore for SqliteBackend {
    fn get(&self, run: i64) -> StoreResult<Run> {
        let record = self
            .conn
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                [run],
                |r| RunRecord::read(r),
            )
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or(StoreError::NoSuchRun(run))?;
        record.into_run_at(&self.path)
    }

    fn list(&self, filter: &Filter) -> StoreResult<Vec<Run>> {
        if !in_sql(filter) {
            let all = self.runs(
                &format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY id DESC"),
                [],
            )?;
            return Ok(filter.apply(&all));
        }
        // The text search, order and page in SQL: a History of 20,000 runs
        // reads only the page it shows.
        let order = match filter.order {
            Order::Newest => "id DESC",
            Order::Loss => "(loss IS NULL), loss, id DESC",
            Order::Status => "status, id DESC",
        };
        let (text, id, verbatim) = text_params(filter);
        let limit = filter.limit.map_or(-1, |l| l.min(i64::MAX as usize) as i64);
        self.runs(
            &format!(
                "SELECT {RUN_COLUMNS}, json_extract(outcome, '$.losses.total') AS loss FROM runs
                 WHERE {TEXT_MATCH} ORDER BY {order} LIMIT ?4 OFFSET ?5"
            ),
            params![text, id, verbatim, limit, filter.offset as i64],
        )
    }

    fn count(&self, filter: &Filter) -> StoreResult<usize> {
        if !in_sql(filter) {
            let all = Filter {
                offset: 0,
                limit: None,
                ..filter.clone()
            };
            return Ok(self.list(&all)?.len());
        }
        let (text, id, verbatim) = text_params(filter);
        let n: i64 = match text {
            // Counted on the smallest index, not by reading every row: an
            // idle History asks twice a second.
            None => self
                .conn
                .query_row("SELECT count(*) FROM runs", [], |r| r.get(0)),
            Some(_) => self.conn.query_row(
                &format!("SELECT count(*) FROM runs WHERE {TEXT_MATCH}"),
                params![text, id, verbatim],
                |r| r.get(0),
            ),
        }
        .map_err(|e| self.err(e))?;
        Ok(n as usize)
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
            |r| record::point(r),
        )
    }

    fn checkpoints(&self, run: i64) -> StoreResult<Vec<Checkpoint>> {
        self.rows(
            "SELECT step, path, created FROM checkpoints WHERE run_id = ?1 ORDER BY step",
            [run],
            |r| record::checkpoint(r),
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
            |r| record::rollback(r),
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
        Err(not_deleted(run, self.status(run)?))
    }
}
