//! The sha256 of the files this store's process has hashed, so that a
//! worker reads an input once per run, not once to find it on this host and
//! again to check it is what was queued. A hash is reused only while the
//! file's size, modification and change times and inode are those it was
//! taken with: any write to the file changes its change time, which no
//! program can set back, so a file changed since is hashed again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::Store;
use crate::engine::nets::weights::sha256_file;

/// How many files are remembered; past it the memory starts again (a
/// worker that has run through thousands of inputs needs none of the old).
const MAX_REMEMBERED: usize = 4096;

/// What identifies one state of a file's contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        Some(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

#[derive(Default)]
pub(super) struct Digests(RefCell<HashMap<PathBuf, (Stamp, String)>>);

impl Digests {
    /// Records `sha256` as the hash of `path` as it is now (a file this
    /// process just wrote and checked).
    fn remember(&self, path: &Path, sha256: &str) {
        let Some(stamp) = Stamp::of(path) else {
            return;
        };
        let mut known = self.0.borrow_mut();
        if known.len() >= MAX_REMEMBERED {
            known.clear();
        }
        known.insert(path.to_path_buf(), (stamp, sha256.to_string()));
    }

    fn known(&self, path: &Path) -> Option<String> {
        let stamp = Stamp::of(path)?;
        match self.0.borrow().get(path) {
            Some((s, hash)) if *s == stamp => Some(hash.clone()),
            _ => None,
        }
    }
}

impl Store {
    /// The sha256 of the file at `path`, read unless this process hashed
    /// it as it is now.
    pub(crate) fn file_sha256(&self, path: &Path) -> crate::engine::Result<String> {
        if let Some(hash) = self.digests.known(path) {
            return Ok(hash);
        }
        let before = Stamp::of(path);
        let hash = sha256_file(path)?;
        // Kept only when the file did not change while it was read.
        if before.is_some() && Stamp::of(path) == before {
            self.digests.remember(path, &hash);
        }
        Ok(hash)
    }

    /// Records `sha256` as the hash of the file this process just wrote
    /// at `path` and checked.
    pub(super) fn remember_sha256(&self, path: &Path, sha256: &str) {
        self.digests.remember(path, sha256);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(data: &[u8]) -> String {
        use sha2::Digest;
        format!("{:x}", sha2::Sha256::digest(data))
    }

    #[test]
    fn a_file_is_read_once_while_it_is_unchanged_and_again_once_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let file = dir.path().join("photo.png");
        std::fs::write(&file, b"first").unwrap();
        assert_eq!(store.file_sha256(&file).unwrap(), hash(b"first"));
        // Served from memory: a hash recorded for the file as it is now
        // comes back without the file being read.
        store.remember_sha256(&file, "remembered");
        assert_eq!(store.file_sha256(&file).unwrap(), "remembered");

        // Rewritten with as many bytes and its modification time set back:
        // its change time still tells, and it is read again (once the
        // clock the kernel stamps files with has moved on).
        let meta = std::fs::metadata(&file).unwrap();
        let mtime = meta.modified().unwrap();
        let changed = std::time::UNIX_EPOCH
            + std::time::Duration::new(meta.ctime() as u64, meta.ctime_nsec() as u32);
        while std::time::SystemTime::now() < changed + std::time::Duration::from_millis(20) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::fs::write(&file, b"other").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        assert_eq!(store.file_sha256(&file).unwrap(), hash(b"other"));
    }
}
