//! Whether an `atelier watch` is running on a data folder, and what it is
//! doing. Each watcher holds a shared flock(2) on `watch.lock` there for as
//! long as it runs, so a front end tells by failing to take it exclusively; a
//! killed watcher leaves no stale state behind (the kernel drops its lock),
//! unlike a heartbeat row. Beside it, `watch.state.json` says how many
//! reconcile passes it made and how many files are still arriving per rule.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Held by a running watcher; dropping it says the watcher is gone.
#[derive(Debug)]
pub struct Presence {
    _file: File,
    data_dir: PathBuf,
}

/// What a running watcher reports of itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PresenceState {
    pub pid: u32,
    /// Reconcile passes over every inbox so far: a front end (or a test)
    /// waits for more of them to know the watcher has looked again.
    pub reconciles: u64,
    /// Files seen and still settling (waiting out `quiet` or `open_grace`), by rule.
    pub arriving: BTreeMap<String, usize>,
}

fn lock_path(data_dir: &Path) -> PathBuf {
    data_dir.join("watch.lock")
}

fn state_path(data_dir: &Path) -> PathBuf {
    data_dir.join("watch.state.json")
}

fn flock(file: &File, op: libc::c_int) -> bool {
    // SAFETY: flock(2) on a descriptor this process owns.
    unsafe { libc::flock(file.as_raw_fd(), op | libc::LOCK_NB) == 0 }
}

fn open(data_dir: &Path) -> std::io::Result<File> {
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(data_dir))
}

/// Marks a watcher as running on `data_dir` until the result is dropped.
/// Several watchers may run at once (each holds a shared lock). `None` when
/// the folder cannot hold the lock file: the watcher still runs, front ends
/// then just cannot see it.
pub fn announce(data_dir: &Path) -> Option<Presence> {
    let file = open(data_dir).ok()?;
    flock(&file, libc::LOCK_SH).then(|| Presence {
        _file: file,
        data_dir: data_dir.to_path_buf(),
    })
}

impl Presence {
    /// Writes what the watcher is doing (whole or not at all: readers never
    /// see half a file). A failed write only leaves the previous state.
    pub fn report(&self, state: &PresenceState) {
        let Ok(json) = serde_json::to_vec(state) else {
            return;
        };
        let path = state_path(&self.data_dir);
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        if std::fs::write(&tmp, json).is_err() || std::fs::rename(&tmp, &path).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

/// Whether some watcher holds `data_dir`'s presence lock now.
pub fn watcher_running(data_dir: &Path) -> bool {
    if !lock_path(data_dir).exists() {
        return false;
    }
    match open(data_dir) {
        // Taking it exclusively fails only while a watcher holds it shared;
        // the probe's own lock goes when `file` is dropped.
        Ok(file) => !flock(&file, libc::LOCK_EX),
        Err(_) => false,
    }
}

/// The running watcher's last report; `None` when no watcher runs (a report
/// left by a killed one says nothing) or none was written yet.
pub fn state(data_dir: &Path) -> Option<PresenceState> {
    watcher_running(data_dir).then(|| last_report(data_dir))?
}

/// The last report written, whether or not its watcher still runs: for a
/// caller that checked [`watcher_running`] already.
pub fn last_report(data_dir: &Path) -> Option<PresenceState> {
    let bytes = std::fs::read(state_path(data_dir)).ok()?;
    serde_json::from_slice(&bytes).ok()
}
