//! Files that travel between hosts: a shared store keeps a run's input
//! files and, once it is done, the files of its folder by content (sha256),
//! in chunks of [`CHUNK`] bytes, so that a worker on another host can run it
//! and any host can export it. A store whose files stay in the data folder
//! (SQLite's) keeps none: every method's default does nothing.

use std::io::{Read, Write};
use std::path::Path;

use crate::queue::error::StoreResult;
use crate::queue::run::Input;

/// The size of a stored chunk: a 500 MB video moves through the store
/// without ever being held in memory whole.
pub const CHUNK: usize = 1 << 20;

/// A file of a run's folder kept in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunFile {
    /// Its path inside the run's folder, `/`-separated (`output.png`).
    pub name: String,
    pub sha256: String,
}

/// The inputs of a run (their JSON, as stored) kept as blobs: its files
/// that travel. Inputs this build cannot read name none.
pub(crate) fn travelling_inputs(inputs: &str) -> Vec<Input> {
    serde_json::from_str::<Vec<Input>>(inputs)
        .unwrap_or_default()
        .into_iter()
        .filter(super::travel::travels)
        .collect()
}

pub trait BlobStore {
    /// Whether this store keeps files for other hosts.
    fn keeps_blobs(&self) -> bool {
        false
    }

    /// Stores what `read` yields as blob `sha256`, chunk by chunk, unless
    /// the store has it already. Refused, with nothing kept, when the
    /// contents' hash is not `sha256` (`file` changed since it was hashed);
    /// `file` names it in errors.
    fn put_blob(&self, _sha256: &str, _read: &mut dyn Read, _file: &Path) -> StoreResult<()> {
        Ok(())
    }

    /// Writes blob `sha256` into `write`, chunk by chunk; `false` when the
    /// store does not have it.
    fn get_blob(&self, _sha256: &str, _write: &mut dyn Write) -> StoreResult<bool> {
        Ok(false)
    }

    /// Records `files` (stored blobs) as the files of `run`, replacing those
    /// of the same names, while the run is running on `worker`; `false`
    /// (nothing recorded) when it is not.
    fn set_run_files(&self, _run: i64, _worker: &str, _files: &[RunFile]) -> StoreResult<bool> {
        Ok(true)
    }

    /// The files recorded for `run`, by name.
    fn run_files(&self, _run: i64) -> StoreResult<Vec<RunFile>> {
        Ok(Vec::new())
    }
}
