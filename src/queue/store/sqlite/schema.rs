//! The database schema and its migrations. `PRAGMA user_version` holds the
//! schema version; `PRAGMA application_id` marks the file as atelier's, so a
//! foreign SQLite file is recognised and never written to.

/// 'ATLR' — marks an atelier database.
pub const APPLICATION_ID: i64 = 0x4154_4c52;

/// Migration `i` takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 0 -> 1
    "CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        created REAL NOT NULL,
        status TEXT NOT NULL CHECK (status IN
            ('queued','running','done','failed','cancelled','interrupted')),
        priority INTEGER NOT NULL DEFAULT 0,
        position REAL NOT NULL,
        spec TEXT NOT NULL,
        inputs TEXT NOT NULL,
        output TEXT,
        device TEXT,
        worker TEXT,
        started REAL,
        finished REAL,
        heartbeat REAL,
        evals INTEGER,
        best_eval INTEGER,
        stop TEXT,
        loss_style REAL,
        loss_content REAL,
        loss_tv REAL,
        loss_total REAL,
        error TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        resume_from TEXT,
        resume_eval INTEGER
    );
    CREATE INDEX runs_by_status ON runs (status, priority DESC, position);
    CREATE TABLE losses (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        eval INTEGER NOT NULL,
        style REAL NOT NULL,
        content REAL NOT NULL,
        tv REAL NOT NULL,
        total REAL NOT NULL,
        seconds REAL NOT NULL,
        PRIMARY KEY (run_id, eval)
    ) WITHOUT ROWID;
    CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        device TEXT NOT NULL,
        started REAL NOT NULL,
        heartbeat REAL NOT NULL,
        current_run INTEGER
    );",
    // 1 -> 2: the drop-folder ledger (src/watch). One item per (rule, content):
    // its UNIQUE key is what makes "never queue the same content twice" hold
    // across restarts and concurrent watchers. `key` is the content's sha256, or
    // `path:<path>` for a file that could not be read (so it can be reported).
    "CREATE TABLE watch_items (
        id INTEGER PRIMARY KEY,
        rule TEXT NOT NULL,
        key TEXT NOT NULL,
        sha256 TEXT,
        path TEXT NOT NULL,
        seen REAL NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('queued','done','failed')),
        error TEXT,
        moved_to TEXT,
        UNIQUE (rule, key)
    );
    CREATE INDEX watch_items_by_state ON watch_items (rule, state);
    CREATE TABLE watch_outputs (
        run_id INTEGER PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES watch_items (id) ON DELETE CASCADE,
        style TEXT NOT NULL,
        output_dir TEXT NOT NULL,
        target TEXT,
        state TEXT NOT NULL CHECK (state IN ('pending','delivered','failed')),
        error TEXT,
        delivered REAL
    );
    CREATE INDEX watch_outputs_by_item ON watch_outputs (item_id);
    CREATE INDEX watch_outputs_by_state ON watch_outputs (state);",
    // 2 -> 3: rollbacks of a run (src/queue/rollbacks.rs), for the loss charts.
    // `eval` is the diverged evaluation (counted over all scales and attempts);
    // `loss` is NULL when it was not a number.
    "CREATE TABLE rollbacks (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        eval INTEGER NOT NULL,
        to_eval INTEGER NOT NULL,
        loss REAL,
        reason TEXT NOT NULL,
        remedy TEXT NOT NULL,
        PRIMARY KEY (run_id, eval)
    ) WITHOUT ROWID;",
    // 3 -> 4: drop-folder rules paused from a front end (src/queue/paused_rules.rs);
    // a rule is paused while its name is here.
    "CREATE TABLE watch_paused (
        rule TEXT PRIMARY KEY,
        since REAL NOT NULL
    );",
    // 4 -> 5: job kinds (src/jobs). Every run so far was a transfer: `kind`
    // defaults to stylize. The outcome is the kind's JSON (a transfer's four
    // loss columns, evaluations, best evaluation and stop reason move into
    // it); samples are (run, step, series, value, seconds) so a kind records
    // any series; a run's checkpoints are listed.
    "ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'stylize';
    ALTER TABLE runs ADD COLUMN outcome TEXT;
    UPDATE runs SET outcome = json_object(
            'evals', evals, 'best_eval', coalesce(best_eval, 0), 'stop', coalesce(stop, ''),
            'rollbacks', 0,
            'losses', json_object('style', loss_style, 'content', loss_content,
                                  'tv', loss_tv, 'total', loss_total))
        WHERE evals IS NOT NULL AND loss_total IS NOT NULL;
    ALTER TABLE runs DROP COLUMN evals;
    ALTER TABLE runs DROP COLUMN best_eval;
    ALTER TABLE runs DROP COLUMN stop;
    ALTER TABLE runs DROP COLUMN loss_style;
    ALTER TABLE runs DROP COLUMN loss_content;
    ALTER TABLE runs DROP COLUMN loss_tv;
    ALTER TABLE runs DROP COLUMN loss_total;
    ALTER TABLE runs RENAME COLUMN resume_eval TO resume_step;
    CREATE TABLE samples (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        series TEXT NOT NULL,
        value REAL NOT NULL,
        seconds REAL NOT NULL,
        PRIMARY KEY (run_id, step, series)
    ) WITHOUT ROWID;
    INSERT INTO samples (run_id, step, series, value, seconds)
        SELECT run_id, eval, 'style', style, seconds FROM losses
        UNION ALL SELECT run_id, eval, 'content', content, seconds FROM losses
        UNION ALL SELECT run_id, eval, 'tv', tv, seconds FROM losses
        UNION ALL SELECT run_id, eval, 'total', total, seconds FROM losses;
    DROP TABLE losses;
    CREATE TABLE checkpoints (
        run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        path TEXT NOT NULL,
        created REAL NOT NULL,
        PRIMARY KEY (run_id, step)
    ) WITHOUT ROWID;",
    // 5 -> 6: the GPU box (issue 19). `crashes`: how many times the run's
    // worker died while running it (at MAX_CRASHES the run fails instead of
    // going back to the queue). `device_kind`: the kind of device the run
    // asks for (NULL: any). `device_defaults`: the spec fields `queue add`
    // was not given ("size,steps"), which the worker fills with its own
    // device's defaults when it claims the run; NULL for runs queued
    // before (their values are explicit).
    "ALTER TABLE runs ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN device_kind TEXT CHECK (device_kind IN ('cpu', 'cuda'));
    ALTER TABLE runs ADD COLUMN device_defaults TEXT;",
];

pub const LATEST: i64 = MIGRATIONS.len() as i64;

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;
    use crate::engine::gatys::spec::{RunSpec, StyleRef};
    use crate::queue::{Input, RollbackRecord, Status, Store};

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
