//! When a file has arrived: temporary names are never taken; a file is taken
//! once its size and mtime have stayed the same for the quiet period and it
//! has been closed after writing or renamed into place (or, where no such
//! event can come, has been left alone for the open grace period).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Names writers use while a file is incomplete: dotfiles (rsync's
/// `.name.XXXXXX`, editors' swap files), `*.part`, `*.crdownload`, `*.tmp`,
/// `*~`, `*.swp`.
pub fn is_temp_name(path: &Path) -> bool {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().to_lowercase()) else {
        return true;
    };
    name.starts_with('.')
        || name.ends_with('~')
        || [".part", ".crdownload", ".tmp", ".swp"]
            .iter()
            .any(|s| name.ends_with(s))
}

/// What is known of a file being written.
#[derive(Clone, Debug)]
struct Pending {
    size: u64,
    mtime: Option<SystemTime>,
    /// When size or mtime last changed (or the file was first seen).
    changed: Instant,
    /// A close-after-write or rename-into-place was seen.
    closed: bool,
}

/// Why a pending file will not be taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gone {
    Deleted,
    Unreadable(String),
}

/// Files seen in one inbox and not yet taken.
#[derive(Debug, Default)]
pub struct Arrivals {
    pending: HashMap<PathBuf, Pending>,
}

fn stat(path: &Path) -> std::io::Result<(u64, Option<SystemTime>)> {
    let m = std::fs::metadata(path)?;
    Ok((m.len(), m.modified().ok()))
}

impl Arrivals {
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn contains(&self, path: &Path) -> bool {
        self.pending.contains_key(path)
    }

    /// Notes activity on `path`; `closed` when the event says the writer is done.
    pub fn touch(&mut self, path: &Path, closed: bool) {
        let now = Instant::now();
        let (size, mtime) = stat(path).unwrap_or((0, None));
        let p = self
            .pending
            .entry(path.to_path_buf())
            .or_insert_with(|| Pending {
                size,
                mtime,
                changed: now,
                closed: false,
            });
        if p.size != size || p.mtime != mtime {
            p.size = size;
            p.mtime = mtime;
            p.changed = now;
        }
        p.closed |= closed;
    }

    /// Stops tracking `path` (renamed away).
    pub fn forget(&mut self, path: &Path) {
        self.pending.remove(path);
    }

    pub fn clear(&mut self) {
        self.pending.clear();
    }

    /// Takes the files that have arrived, and those that vanished or cannot be
    /// examined.
    pub fn take_ready(
        &mut self,
        quiet: Duration,
        open_grace: Duration,
    ) -> (Vec<PathBuf>, Vec<(PathBuf, Gone)>) {
        let now = Instant::now();
        let mut ready = Vec::new();
        let mut gone = Vec::new();
        for (path, p) in self.pending.iter_mut() {
            match stat(path) {
                Ok((size, mtime)) => {
                    if size != p.size || mtime != p.mtime {
                        p.size = size;
                        p.mtime = mtime;
                        p.changed = now;
                        continue;
                    }
                    if now.duration_since(p.changed) < quiet {
                        continue;
                    }
                    // Without a close or rename event, wait until the file has
                    // not been written for the open grace period (by its mtime,
                    // so files that were there long before we started are quick).
                    let idle = mtime
                        .and_then(|m| SystemTime::now().duration_since(m).ok())
                        .unwrap_or_default()
                        .max(now.duration_since(p.changed));
                    if p.closed || idle >= open_grace {
                        ready.push(path.clone());
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // A dangling symlink is not "deleted": it is reported as such.
                    if std::fs::symlink_metadata(path).is_ok() {
                        ready.push(path.clone());
                    } else {
                        gone.push((path.clone(), Gone::Deleted));
                    }
                }
                Err(e) => gone.push((path.clone(), Gone::Unreadable(e.to_string()))),
            }
        }
        for p in ready.iter().chain(gone.iter().map(|(p, _)| p)) {
            self.pending.remove(p);
        }
        ready.sort();
        (ready, gone)
    }
}

/// Files (and symlinks) under `dir`, skipping temporary names and the folders
/// `skip` says to; into subfolders only when `recursive`. Symlinked folders are
/// not followed.
pub fn scan(dir: &Path, recursive: bool, skip: &dyn Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if recursive && !skip(&path) && !is_temp_name(&path) {
                    stack.push(path);
                }
            } else if (ft.is_file() || ft.is_symlink()) && !is_temp_name(&path) {
                if ft.is_symlink() && path.is_dir() {
                    continue;
                }
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_recognised() {
        for n in [
            ".photo.jpg.Xa81b2",
            "photo.jpg.part",
            "photo.jpg.crdownload",
            "photo.tmp",
            "photo.jpg~",
            ".photo.jpg.swp",
            "x.SWP",
        ] {
            assert!(is_temp_name(Path::new(n)), "{n}");
        }
        for n in ["photo.jpg", "IMG_0001.JPG", "part.png", "tmp.png"] {
            assert!(!is_temp_name(Path::new(n)), "{n}");
        }
    }

    #[test]
    fn a_file_being_written_is_not_ready_until_closed_and_quiet() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.png");
        std::fs::write(&p, b"abc").unwrap();
        let mut a = Arrivals::default();
        let quiet = Duration::from_millis(50);
        let grace = Duration::from_secs(60);
        a.touch(&p, false);
        std::thread::sleep(Duration::from_millis(80));
        // Quiet, but no close seen and recently written: not yet.
        assert!(a.take_ready(quiet, grace).0.is_empty());
        a.touch(&p, true);
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(a.take_ready(quiet, grace).0, vec![p.clone()]);
        assert!(a.is_empty());
        a.touch(&p, true);
        std::fs::remove_file(&p).unwrap();
        let (ready, gone) = a.take_ready(quiet, grace);
        assert!(ready.is_empty());
        assert_eq!(gone, vec![(p, Gone::Deleted)]);
    }
}
