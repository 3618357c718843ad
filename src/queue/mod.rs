//! The job queue and run history: a store shared by every front end (behind
//! traits, SQLite for now), and the worker that runs queued specs through
//! the engine. Imports the engine; the engine never imports this.

pub mod error;
pub mod history;
pub mod ledger;
mod paused_rules;
pub mod rollbacks;
pub mod run;
mod runs_fs;
pub mod samples;
pub mod store;
pub mod worker;

pub use error::{StoreError, StoreResult};
pub use ledger::{ItemState, PendingOutput, RuleCounts, WatchFailure, WatchItem, WatchedRun};
pub use rollbacks::RollbackRecord;
pub use run::{FinalLosses, Input, Point, Run, Sample, Status, StoredJob, UnknownJob};
pub use samples::LossCache;
pub use store::{Backend, Checkpoint, Filter, OnInterrupted, Store, WorkerInfo};
