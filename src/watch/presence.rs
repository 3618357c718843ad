//! Whether an `atelier watch` is running on a data folder. Each watcher holds
//! a shared flock(2) on `watch.lock` there for as long as it runs, so a front
//! end tells by failing to take it exclusively; a killed watcher leaves no
//! stale state behind (the kernel drops its lock), unlike a heartbeat row.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Held by a running watcher; dropping it says the watcher is gone.
#[derive(Debug)]
pub struct Presence {
    _file: File,
}

fn lock_path(data_dir: &Path) -> PathBuf {
    data_dir.join("watch.lock")
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
    flock(&file, libc::LOCK_SH).then_some(Presence { _file: file })
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
