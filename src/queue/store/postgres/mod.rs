//! The PostgreSQL backend: one queue shared by workers on several hosts.
//! The only module that names the driver (the synchronous `postgres`
//! crate); its errors become [`StoreError`] here, naming the server
//! without its password.
//!
//! Times are the server's clock (`now()`), so hosts whose clocks differ
//! agree on how old a heartbeat is. Writes that SQLite serialises with its
//! one write lock (allocating ids, reordering, choosing devices) take a
//! transaction-scoped advisory lock here; the exclusive status changes
//! are conditional updates, as on SQLite, and a claim skips rows another
//! claimer holds (`FOR UPDATE SKIP LOCKED`).

mod blobs;
mod history;
mod ledger;
mod queue;
mod schema;
mod workers;

use std::cell::{RefCell, RefMut};
use std::path::PathBuf;
use std::time::Duration;

use postgres::types::ToSql;
use postgres::{Client, Config, GenericClient, NoTls, Row, Transaction};

use super::blobs::travelling_inputs;
use super::record::RunRecord;
use super::row::columns_for;
use super::NewRun;
use crate::queue::error::{StoreError, StoreResult};
use crate::queue::run::Run;

pub use schema::LATEST;

/// The server's time as unix seconds, as every time column holds it.
const NOW: &str = "extract(epoch FROM now())::float8";

/// Advisory lock keys ('ATLR' and after): one per kind of write that must
/// not interleave with another of its kind.
mod lock {
    pub const MIGRATE: i64 = 0x4154_4c52;
    /// Allocating run ids and queue positions, reordering the queue,
    /// deleting runs with the blobs no other run needs.
    pub const QUEUE: i64 = MIGRATE + 1;
    /// Choosing a device among the registered workers.
    pub const WORKERS: i64 = MIGRATE + 2;
}

/// How long a connection attempt waits when the URL sets no
/// `connect_timeout`: an unreachable server is reported, not waited on.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

pub struct PostgresBackend {
    client: RefCell<Client>,
    config: Config,
    /// The URL without its password, for messages.
    label: PathBuf,
}

/// Whether `location` names a PostgreSQL server (else it is a SQLite file).
pub fn is_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

impl PostgresBackend {
    /// Connects to the server at `url` and brings its schema up to date
    /// (a newer one, or a database holding other tables, is refused).
    pub fn open(url: &str) -> StoreResult<Self> {
        let backend = Self::connect(url)?;
        backend.migrate()?;
        Ok(backend)
    }

    /// Connects without touching the schema (`atelier store check`).
    pub fn connect(url: &str) -> StoreResult<Self> {
        let label = PathBuf::from(redact(url));
        let mut config: Config =
            url.parse()
                .map_err(|e: postgres::Error| StoreError::Database {
                    path: label.clone(),
                    reason: format!("not a PostgreSQL URL: {}", describe(&e)),
                })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("atelier");
        }
        let client = config.connect(NoTls).map_err(|e| db_err(&label, &e))?;
        Ok(PostgresBackend {
            client: RefCell::new(client),
            config,
            label,
        })
    }

    /// The server's URL as messages name it (no password).
    pub fn label(&self) -> &std::path::Path {
        &self.label
    }

    fn err(&self, e: postgres::Error) -> StoreError {
        db_err(&self.label, &e)
    }

    /// The connection, opened again when the server closed it (it
    /// restarted): the call then goes through instead of failing forever.
    fn conn(&self) -> StoreResult<RefMut<'_, Client>> {
        let mut client = self.client.borrow_mut();
        if client.is_closed() {
            *client = self.config.connect(NoTls).map_err(|e| self.err(e))?;
        }
        Ok(client)
    }

    /// Rows of `sql` on the connection.
    fn query(&self, sql: &str, params: Params<'_>) -> StoreResult<Vec<Row>> {
        self.conn()?.query(sql, params).map_err(|e| self.err(e))
    }

    /// Rows changed by `sql` on the connection.
    fn execute(&self, sql: &str, params: Params<'_>) -> StoreResult<u64> {
        self.conn()?.execute(sql, params).map_err(|e| self.err(e))
    }

    /// `read` over the rows of `sql`.
    fn rows<T>(
        &self,
        sql: &str,
        params: Params<'_>,
        read: impl FnMut(&Row) -> Result<T, postgres::Error>,
    ) -> StoreResult<Vec<T>> {
        self.query(sql, params)?
            .iter()
            .map(read)
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// Runs whose rows `sql` (selecting [`super::record::RUN_COLUMNS`])
    /// returns.
    fn runs(&self, sql: &str, params: Params<'_>) -> StoreResult<Vec<Run>> {
        self.rows(sql, params, RunRecord::read)?
            .into_iter()
            .map(|r| r.into_run_at(&self.label))
            .collect()
    }
}

columns_for!(Row, postgres::Error, try_get);

/// Takes advisory lock `key` until the end of `tx`'s transaction.
fn lock(tx: &mut impl GenericClient, key: i64) -> Result<(), postgres::Error> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&key])
        .map(|_| ())
}

/// A driver error as one line: the server's own message, or what failed
/// on the way to it (refused, timed out, wrong password).
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_string();
    }
    // The driver's own text ("error connecting to server") leaves the why
    // (refused, timed out, no such host) to its sources.
    let mut line = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line = format!("{line}: {text}");
        }
        source = cause.source();
    }
    line.replace('\n', " ")
}

fn db_err(label: &std::path::Path, e: &postgres::Error) -> StoreError {
    let (path, reason) = (label.to_path_buf(), describe(e));
    if away(e) {
        StoreError::Unreachable { path, reason }
    } else {
        StoreError::Database { path, reason }
    }
}

/// Whether `e` says the server is away rather than that the call is wrong:
/// no answer at all (refused, reset, closed), or the server's own word that
/// it is shutting down or starting (SQLSTATE classes 08 and 57P).
fn away(e: &postgres::Error) -> bool {
    match e.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            code.starts_with("08") || code.starts_with("57P")
        }
        None => {
            e.is_closed() || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
        }
    }
}

/// `url` with no password, and without its parameters (which may hold one).
fn redact(url: &str) -> String {
    let url = url.split('?').next().unwrap_or(url);
    let Some((scheme, rest)) = url.split_once("://") else {
        return "PostgreSQL server".into();
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or(user);
            format!("{user}@{host}")
        }
        None => authority.to_string(),
    };
    if path.is_empty() {
        format!("{scheme}://{authority}")
    } else {
        format!("{scheme}://{authority}/{path}")
    }
}

impl PostgresBackend {
    /// Inserts a queued run at the end of the queue under an id of at
    /// least `min_id`, inside the caller's transaction (which this locks
    /// against other allocations and deletes); shared by the queue and the
    /// ledger. Refused when the store no longer has an input's blob: a
    /// delete removed it after it was stored and before the run was queued.
    fn insert_run(&self, tx: &mut Transaction<'_>, run: &NewRun, min_id: i64) -> StoreResult<i64> {
        lock(tx, lock::QUEUE).map_err(|e| self.err(e))?;
        let inputs = travelling_inputs(&run.inputs);
        if !inputs.is_empty() {
            let wanted: Vec<&str> = inputs.iter().map(|i| i.sha256.as_str()).collect();
            let kept: Vec<String> = tx
                .query(
                    "SELECT sha256 FROM blobs WHERE sha256 = ANY($1)",
                    &[&wanted],
                )
                .and_then(|rows| rows.iter().map(|r| r.try_get(0)).collect())
                .map_err(|e| self.err(e))?;
            if let Some(lost) = inputs.iter().find(|i| !kept.contains(&i.sha256)) {
                return Err(StoreError::io(
                    &lost.path,
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "the store's copy was deleted as the run was queued; queue it again",
                    ),
                ));
            }
        }
        let device_kind = run
            .device_kind
            .map(crate::engine::infra::device::DeviceKind::as_str);
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO runs (id, created, status, priority, position, kind, spec, inputs,
                                       device_kind, device_defaults)
                     VALUES (greatest($1::bigint, (SELECT coalesce(max(id), 0) + 1 FROM runs)),
                             {NOW}, 'queued', $2, (SELECT coalesce(max(position), 0) + 1 FROM runs),
                             $3, $4, $5, $6, $7)
                     RETURNING id"
                ),
                &[
                    &min_id,
                    &run.priority,
                    &run.kind,
                    &run.spec,
                    &run.inputs,
                    &device_kind,
                    &run.device_defaults,
                ],
            )
            .map_err(|e| self.err(e))?;
        row.try_get(0).map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn a_url_is_named_without_its_password() {
        assert_eq!(
            redact("postgres://ann:s3cret@db.studio:5433/atelier?sslmode=disable&password=x"),
            "postgres://ann@db.studio:5433/atelier"
        );
        assert_eq!(redact("postgresql://db/atelier"), "postgresql://db/atelier");
        assert_eq!(redact("host=db password=x"), "PostgreSQL server");
    }
}
