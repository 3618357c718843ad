//! The run store behind traits, so that more than one database can hold the
//! queue: [`QueueStore`] (queued and running runs), [`HistoryStore`] (runs,
//! their samples, checkpoints and rollbacks), [`WorkerStore`] (workers and
//! the recovery of their runs) and [`LedgerStore`] (the drop-folder ledger
//! and paused rules) and [`BlobStore`] (files that travel between hosts),
//! gathered in the object-safe [`Backend`]. The SQLite
//! backend lives in [`sqlite`], the PostgreSQL one (a queue shared by
//! several hosts) in [`postgres`]: the only places that name their drivers.
//!
//! What a backend must guarantee without relying on its locking: ids are
//! allocated by the backend; every change that must be exclusive (claim,
//! heartbeat, finish, requeue, cancel) is one conditional update on the
//! status (and owner) it expects, and says whether it happened.
//!
//! [`Store`] is what the rest of atelier uses: it opens a backend and does
//! the file-system part (run folders, ids clear of leftover folders, local
//! process liveness, partial files) around it.

pub mod blobs;
mod digests;
mod facade;
pub mod history;
pub mod ledger;
mod location;
pub mod postgres;
pub mod queue;
mod record;
mod row;
pub mod sqlite;
mod travel;
pub mod workers;

pub use blobs::{BlobStore, RunFile};
pub use facade::Store;
pub use history::{Checkpoint, Filter, HistoryStore};
pub use ledger::{LedgerRun, LedgerStore};
pub use location::{choose, chosen};
pub use queue::{Claim, Finish, NewRun, OnInterrupted, QueueStore};
pub use record::RunRecord;
pub(crate) use travel::is_sha256;
pub use travel::BLOBS_DIR;
pub use workers::{RunningRun, WorkerInfo, WorkerStore};

pub(crate) use super::runs_fs::hostname;

/// A run whose worker died this many times while running it is failed (it
/// most likely kills its worker: an out-of-memory kill, a crash in a
/// library) instead of going back to the queue once more.
pub const MAX_CRASHES: i64 = 3;

/// Everything a store backend does. `Send`, so a worker can take its store
/// into its own thread.
pub trait Backend:
    QueueStore + HistoryStore + WorkerStore + LedgerStore + BlobStore + Send
{
}

impl<T: QueueStore + HistoryStore + WorkerStore + LedgerStore + BlobStore + Send> Backend for T {}
