//! One command-line training per model name at a time. Two `atelier train
//! -o NAME` would write one checkpoint file between them; the second is
//! refused instead. The lock is an flock(2) on `training/<tag>.lock`, so a
//! killed training never leaves a stale lock behind.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Held while a training of `tag` runs; released when dropped.
pub struct TrainLock {
    file: File,
}

fn try_lock(file: &File) -> bool {
    // SAFETY: flock(2) on a descriptor this process owns.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

fn lock_path(work: &Path, tag: &str) -> PathBuf {
    work.join(format!("{tag}.lock"))
}

impl TrainLock {
    /// Takes the lock of `tag` in the training folder `work`.
    pub fn take(work: &Path, tag: &str) -> Result<TrainLock> {
        let path = lock_path(work, tag);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        if !try_lock(&file) {
            bail!(
                "another `atelier train` is training '{tag}' now; wait for it to end, or pick another -o"
            );
        }
        Ok(TrainLock { file })
    }

    /// Removes the half-written files (`.atelier-*.part`) that a training
    /// killed while writing a checkpoint left in `work` — only when no other
    /// training holds a lock there, since they could be its files.
    pub fn clean_partials(&self, work: &Path) {
        let Ok(entries) = std::fs::read_dir(work) else {
            return;
        };
        let entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        let busy = entries
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "lock"))
            .any(|p| match File::options().write(true).open(p) {
                // Our own lock is held on another descriptor: it counts as busy
                // too, so skip it by checking who else holds one.
                Ok(f) => !try_lock(&f) && !self.is_mine(p),
                Err(_) => false,
            });
        if busy {
            return;
        }
        for p in entries {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            if name.is_some_and(|n| crate::jobs::files::RunFiles::is_partial(&n)) {
                let _ = std::fs::remove_file(&p);
            }
        }
    }

    fn is_mine(&self, path: &Path) -> bool {
        use std::os::unix::fs::MetadataExt;
        match (self.file.metadata(), std::fs::metadata(path)) {
            (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
            _ => false,
        }
    }
}
