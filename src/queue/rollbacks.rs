//! Rollbacks of a run (table `rollbacks`, schema 3): where the guard caught a
//! divergence and went back to the best iterate, so the loss charts can mark
//! them. The diverged evaluation itself has no loss sample (the guard rejects
//! it before the optimiser sees it), so this is the only trace it leaves.

use rusqlite::params;
use serde::Serialize;

use super::error::StoreResult;
use super::store::{db_err, Store};

/// One rollback as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RollbackRecord {
    /// The evaluation that diverged (over all scales and attempts, as samples).
    pub eval: i64,
    /// The evaluation rolled back to.
    pub to_eval: i64,
    /// The diverged loss; `None` when it was not a number.
    pub loss: Option<f64>,
    pub reason: String,
    /// What changed for the rest of the run.
    pub remedy: String,
}

impl Store {
    /// Records rollbacks of `run` in one transaction (a resumed attempt's
    /// rollback replaces one with the same evaluation number).
    pub fn add_rollbacks(&mut self, run: i64, rollbacks: &[RollbackRecord]) -> StoreResult<()> {
        if rollbacks.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| db_err(&path, e))?;
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
            .map_err(|e| db_err(&path, e))?;
        }
        tx.commit().map_err(|e| db_err(&path, e))
    }

    /// Rollbacks of a run, in evaluation order.
    pub fn rollbacks(&self, run: i64) -> StoreResult<Vec<RollbackRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT eval, to_eval, loss, reason, remedy FROM rollbacks
                 WHERE run_id = ?1 ORDER BY eval",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([run], |r| {
                Ok(RollbackRecord {
                    eval: r.get(0)?,
                    to_eval: r.get(1)?,
                    loss: r.get(2)?,
                    reason: r.get(3)?,
                    remedy: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::spec::{RunSpec, StyleRef};
    use crate::queue::schema::{APPLICATION_ID, MIGRATIONS};
    use crate::queue::{Input, Status};

    fn record(eval: i64, loss: f64) -> RollbackRecord {
        RollbackRecord {
            eval,
            to_eval: eval - 3,
            loss: Some(loss),
            reason: "loss jumped".into(),
            remedy: "halved the step".into(),
        }
    }

    /// A database as atelier made it before rollbacks were stored (schema 2),
    /// with one finished run in it.
    fn schema_2_database(dir: &std::path::Path) -> i64 {
        let conn = rusqlite::Connection::open(dir.join("atelier.db")).unwrap();
        for sql in &MIGRATIONS[..2] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(&format!(
            "PRAGMA user_version = 2; PRAGMA application_id = {APPLICATION_ID};"
        ))
        .unwrap();
        let spec = RunSpec {
            content: "/c.png".into(),
            styles: vec![StyleRef {
                path: "/s.png".into(),
                weight: 1.0,
            }],
            ..RunSpec::default()
        };
        conn.execute(
            "INSERT INTO runs (created, status, position, spec, inputs)
             VALUES (1.0, 'done', 1.0, ?1, ?2)",
            params![
                serde_json::to_string(&spec).unwrap(),
                serde_json::to_string::<[Input]>(&[]).unwrap()
            ],
        )
        .unwrap();
        conn.last_insert_rowid()
    }

    #[test]
    fn an_old_database_is_migrated_and_keeps_its_runs() {
        let dir = tempfile::tempdir().unwrap();
        let id = schema_2_database(dir.path());
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(store.get(id).unwrap().status, Status::Done);
        assert!(store.rollbacks(id).unwrap().is_empty());
        store
            .add_rollbacks(id, &[record(40, 9e9), record(12, f64::NAN)])
            .unwrap();
        let got = store.rollbacks(id).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].eval, got[0].to_eval), (12, 9));
        assert_eq!(got[0].loss, None, "NaN is stored as NULL");
        assert_eq!(got[1], record(40, 9e9));
        // A resumed attempt replaces, not duplicates; deleting the run drops them.
        store.add_rollbacks(id, &[record(40, 8e9)]).unwrap();
        assert_eq!(store.rollbacks(id).unwrap()[1].loss, Some(8e9));
        store.delete(id).unwrap();
        assert!(store.rollbacks(id).unwrap().is_empty());
    }
}
