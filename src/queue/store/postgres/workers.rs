//! [`WorkerStore`] on PostgreSQL. A worker is host + process; whether one
//! on another host is alive is told by its lease (the age of its last
//! heartbeat by the server's clock), never by its process id.

use super::{lock, PostgresBackend, NOW};
use crate::queue::error::StoreResult;
use crate::queue::run::Status;
use crate::queue::store::record::{running_run, worker_info, WORKER_COLUMNS};
use crate::queue::store::{RunningRun, WorkerInfo, WorkerStore};

fn register_sql() -> String {
    format!(
        "INSERT INTO workers (id, pid, host, device, started, heartbeat, current_run)
         VALUES ($1, $2, $3, $4, {NOW}, {NOW}, NULL)
         ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host,
             device = excluded.device, started = excluded.started,
             heartbeat = excluded.heartbeat, current_run = NULL"
    )
}

impl WorkerStore for PostgresBackend {
    fn register_worker(&self, id: &str, pid: u32, host: &str, device: &str) -> StoreResult<()> {
        self.execute(&register_sql(), &[&id, &i64::from(pid), &host, &device])?;
        Ok(())
    }

    fn register_worker_choosing(
        &self,
        id: &str,
        pid: u32,
        host: &str,
        choose: &mut dyn FnMut(&[WorkerInfo]) -> String,
    ) -> StoreResult<String> {
        // Reading the workers and registering hold one lock.
        let mut client = self.conn()?;
        let mut tx = client.transaction().map_err(|e| self.err(e))?;
        lock(&mut tx, super::lock::WORKERS).map_err(|e| self.err(e))?;
        let workers = tx
            .query(
                &format!("SELECT {WORKER_COLUMNS} FROM workers ORDER BY id"),
                &[],
            )
            .and_then(|rows| rows.iter().map(worker_info).collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.err(e))?;
        let device = choose(&workers);
        tx.execute(&register_sql(), &[&id, &i64::from(pid), &host, &device])
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(device)
    }

    fn worker_idle(&self, id: &str) -> StoreResult<()> {
        self.execute(
            &format!("UPDATE workers SET heartbeat = {NOW}, current_run = NULL WHERE id = $1"),
            &[&id],
        )?;
        Ok(())
    }

    fn unregister_worker(&self, id: &str) -> StoreResult<()> {
        self.execute("DELETE FROM workers WHERE id = $1", &[&id])?;
        Ok(())
    }

    fn workers(&self) -> StoreResult<Vec<WorkerInfo>> {
        self.rows(
            &format!("SELECT {WORKER_COLUMNS} FROM workers ORDER BY id"),
            &[],
            worker_info,
        )
    }

    fn running(&self) -> StoreResult<Vec<RunningRun>> {
        self.rows(
            &format!(
                "SELECT id, worker, heartbeat, {NOW} - heartbeat, crashes FROM runs
                 WHERE status = 'running' ORDER BY id"
            ),
            &[],
            running_run,
        )
    }

    fn interrupt(&self, run: &RunningRun, to: Status, error: &str) -> StoreResult<bool> {
        let n = self.execute(
            &format!(
                "UPDATE runs SET status = $3, error = $4, crashes = crashes + 1,
                        finished = CASE WHEN $3 = 'failed' THEN {NOW} ELSE finished END
                 WHERE id = $1 AND status = 'running' AND worker IS NOT DISTINCT FROM $2
                   AND crashes = $5"
            ),
            &[&run.id, &run.worker, &to.as_str(), &error, &run.crashes],
        )?;
        if n == 1 {
            if let Some(w) = &run.worker {
                let _ = self.unregister_worker(w);
            }
        }
        Ok(n == 1)
    }
}
