//! What the store does on this host's file system, apart from any database:
//! run folders and their files, the lowest id a new run may take next to
//! leftover folders, the liveness of a local worker process, and the
//! half-written files an interrupted run leaves behind.

use std::path::Path;

/// The lowest id a new run may take: above every numeric folder in
/// `runs_dir`, so that a database emptied or replaced next to old run
/// folders never makes a new run write into an old one's.
pub fn min_run_id(runs_dir: &Path) -> i64 {
    std::fs::read_dir(runs_dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<i64>().ok())
                .filter(|id| *id > 0)
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
        + 1
}

/// This host's name, as workers record it (`host:pid`): `ATELIER_HOST`
/// when set (containers, whose names say nothing; tests of several hosts
/// on one machine), else the kernel's.
pub(crate) fn hostname() -> String {
    std::env::var("ATELIER_HOST")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether process `pid` of this host exists. A zombie (killed, not yet
/// reaped) counts as gone.
pub(crate) fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// The PID of `worker` (`host:pid`) when it runs on this host.
pub(crate) fn local_pid(worker: &str, host: &str) -> Option<u32> {
    worker
        .rsplit_once(':')
        .filter(|(h, _)| *h == host)
        .and_then(|(_, pid)| pid.parse::<u32>().ok())
}

/// Removes the hidden temporary files an interrupted write leaves behind.
pub(crate) fn remove_partial_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if crate::jobs::RunFiles::is_partial(&name) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_id_is_above_every_numeric_run_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(min_run_id(&dir.path().join("missing")), 1);
        for name in ["3", "12", "x", "-4"] {
            std::fs::create_dir(dir.path().join(name)).unwrap();
        }
        assert_eq!(min_run_id(dir.path()), 13);
    }

    #[test]
    fn only_this_hosts_workers_have_a_local_pid() {
        assert_eq!(local_pid("box:42", "box"), Some(42));
        assert_eq!(local_pid("other:42", "box"), None);
        assert_eq!(local_pid("box:x", "box"), None);
        assert!(process_alive(std::process::id()));
    }
}
