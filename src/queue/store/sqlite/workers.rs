//! [`WorkerStore`] on SQLite.

use rusqlite::params;

use super::{rows_in, SqliteBackend};
use crate::queue::error::StoreResult;
use crate::queue::run::{now, Status};
use crate::queue::store::{RunningRun, WorkerInfo, WorkerStore};

const WORKER_COLUMNS: &str = "id, pid, host, device, started, heartbeat, current_run";

fn row_to_worker(r: &rusqlite::Row<'_>) -> rusqlite::Result<WorkerInfo> {
    Ok(WorkerInfo {
        id: r.get(0)?,
        pid: r.get(1)?,
        host: r.get(2)?,
        device: r.get(3)?,
        started: r.get(4)?,
        heartbeat: r.get(5)?,
        current_run: r.get(6)?,
    })
}

const REGISTER: &str = "INSERT OR REPLACE INTO workers
    (id, pid, host, device, started, heartbeat, current_run) VALUES (?1, ?2, ?3, ?4, ?5, ?5, NULL)";

impl WorkerStore for SqliteBackend {
    fn register_worker(&self, id: &str, pid: u32, host: &str, device: &str) -> StoreResult<()> {
        self.conn
            .execute(REGISTER, params![id, pid, host, device, now()])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn register_worker_choosing(
        &self,
        id: &str,
        pid: u32,
        host: &str,
        choose: &mut dyn FnMut(&[WorkerInfo]) -> String,
    ) -> StoreResult<String> {
        // Reading the workers and registering are one write transaction.
        let tx = self.immediate()?;
        let workers = rows_in(
            &tx,
            &format!("SELECT {WORKER_COLUMNS} FROM workers ORDER BY id"),
            [],
            row_to_worker,
        )
        .map_err(|e| self.err(e))?;
        let device = choose(&workers);
        tx.execute(REGISTER, params![id, pid, host, device, now()])
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(device)
    }

    fn worker_idle(&self, id: &str) -> StoreResult<()> {
        self.conn
            .execute(
                "UPDATE workers SET heartbeat = ?2, current_run = NULL WHERE id = ?1",
                params![id, now()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn unregister_worker(&self, id: &str) -> StoreResult<()> {
        self.conn
            .execute("DELETE FROM workers WHERE id = ?1", [id])
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn workers(&self) -> StoreResult<Vec<WorkerInfo>> {
        self.rows(
            &format!("SELECT {WORKER_COLUMNS} FROM workers ORDER BY id"),
            [],
            row_to_worker,
        )
    }

    fn running(&self) -> StoreResult<Vec<RunningRun>> {
        let t = now();
        self.rows(
            "SELECT id, worker, heartbeat, crashes FROM runs WHERE status = 'running' ORDER BY id",
            [],
            |r| {
                let heartbeat: Option<f64> = r.get(2)?;
                Ok(RunningRun {
                    id: r.get(0)?,
                    worker: r.get(1)?,
                    heartbeat,
                    heartbeat_age: heartbeat.map(|h| t - h),
                    crashes: r.get(3)?,
                })
            },
        )
    }

    fn interrupt(&self, run: &RunningRun, to: Status, error: &str) -> StoreResult<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE runs SET status = ?3, error = ?4, crashes = crashes + 1,
                        finished = CASE WHEN ?3 = 'failed' THEN ?6 ELSE finished END
                 WHERE id = ?1 AND status = 'running' AND worker IS ?2 AND crashes = ?5",
                params![run.id, run.worker, to.as_str(), error, run.crashes, now()],
            )
            .map_err(|e| self.err(e))?;
        if n == 1 {
            if let Some(w) = &run.worker {
                let _ = self.unregister_worker(w);
            }
        }
        Ok(n == 1)
    }
}
