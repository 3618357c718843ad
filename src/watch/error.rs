//! Errors of the drop-folder watcher. Problems with one input are not errors:
//! they are recorded in the ledger and reported as events.

use crate::queue::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("watch rule '{rule}': {reason}")]
    Rule { rule: String, reason: String },
    #[error("watch rules: {0}")]
    Config(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}
