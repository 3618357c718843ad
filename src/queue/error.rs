//! Errors of the run store and the worker.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database {path}: {reason}")]
    Database { path: PathBuf, reason: String },
    /// The server could not be reached or went away (it restarts, the
    /// network is cut): the same call may go through a moment later.
    #[error("database {path}: {reason}")]
    Unreachable { path: PathBuf, reason: String },
    #[error("database {path} is not an atelier database ({reason}); refusing to touch it — move it away or pass another --data-dir")]
    Foreign { path: PathBuf, reason: String },
    #[error(
        "database {path} was made by a newer atelier (schema {found}, this one knows {known})"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("run {0} not found")]
    NoSuchRun(i64),
    #[error("run {id} is {status}: {what}")]
    WrongStatus {
        id: i64,
        status: String,
        what: String,
    },
    /// A status change by a worker that no longer holds the run (it went
    /// stale and another worker re-claimed it, or it was cancelled).
    #[error(
        "run {id} is no longer {worker}'s (it is {status}, worker {owner}): its result is dropped"
    )]
    NotOwner {
        id: i64,
        worker: String,
        status: String,
        owner: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("run spec: {0}")]
    Spec(String),
    #[error(transparent)]
    Engine(#[from] crate::engine::Error),
    /// The worker's device failed (a sticky CUDA error): its run went back
    /// to the queue and the worker stops, instead of failing every run.
    #[error("device {device} is unusable: {reason}; the run was put back")]
    DeviceUnusable { device: String, reason: String },
}

impl StoreError {
    /// Whether this is a full disk (the file system's or SQLite's), so
    /// that a failed run says so first.
    pub fn is_disk_full(&self) -> bool {
        let enospc = std::io::Error::from_raw_os_error(libc::ENOSPC);
        match self {
            StoreError::Io { source, .. } => source.raw_os_error() == Some(libc::ENOSPC),
            // The writers keep only the OS's message of the error.
            StoreError::Engine(crate::engine::Error::Write { reason, .. }) => {
                *reason == crate::engine::infra::output::os_reason(&enospc)
            }
            // SQLite's full disk (SQLITE_FULL): its backend keeps only the text.
            StoreError::Database { reason, .. } => reason.contains("database or disk is full"),
            _ => false,
        }
    }

    /// Whether trying again later may succeed: the server is away.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unreachable { .. })
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use super::StoreError;

    /// A real ENOSPC is a full disk; others are not (SQLite's own full
    /// disk is tested beside its backend).
    #[test]
    fn enospc_is_a_full_disk() {
        let enospc = std::io::Error::from_raw_os_error(libc::ENOSPC);
        assert!(StoreError::io("x", enospc).is_disk_full());
        assert!(!StoreError::NoSuchRun(1).is_disk_full());
        let eio = std::io::Error::from_raw_os_error(libc::EIO);
        assert!(!StoreError::io("x", eio).is_disk_full());
    }
}
