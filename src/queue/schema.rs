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
