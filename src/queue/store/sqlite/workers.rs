//! [`WorkerStore`] on SQLite.

use rusqlite::params;

use super::{rows_in, SqliteBackend};
use crate::queue::error::StoreResult;
use crate::queue::run::{now, Status};
use crate::queue::store::record::{running_run, worker_info, WORKER_COLUMNS};
use crate::queue::store::{RunningRun, WorkerInfo, WorkerStore};

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
            |r| worker_info(r),
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
            |r| worker_info(r),
        )
    }

    fn running(&self) -> StoreResult<Vec<RunningRun>> {
        self.rows(
            "SELECT id, worker, heartbeat, ?1 - heartbeat, crashes FROM runs
             WHERE status = 'running' ORDER BY id",
            [now()],
            |r| running_run(r),
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
