//! Write failures (issue 20, items 7 and 14): a full disk or an I/O error
//! while the worker writes a run's files fails that run with the reason,
//! leaves no partial file and the worker takes the next run; a read-only
//! database is listed without leaving a `-shm` or `-wal` behind.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;

use atelier::engine::gatys::spec::{RunSpec, StyleRef};
use atelier::engine::infra::output::Fault;
use atelier::queue::worker::Worker;
use atelier::queue::{Status, Store};

use crate::util::{root, worker_config as config};

fn spec() -> RunSpec {
    RunSpec {
        content: root().join("contents/chelsea.png"),
        styles: vec![StyleRef {
            path: root().join("styles/436535.jpg"),
            weight: 1.0,
        }],
        size: 32,
        steps: 2,
        ..RunSpec::default()
    }
}

/// Queues two runs, lets one worker with `faults` take both; returns the
/// store and the ids.
fn two_runs(dir: &Path, output: Option<Fault>, thumb: Option<Fault>) -> (Store, [i64; 2]) {
    let store = Store::open(dir).unwrap();
    let ids = [
        store.add(&spec(), &[], 0).unwrap(),
        store.add(&spec(), &[], 0).unwrap(),
    ];
    let mut worker =
        Worker::new(Store::open(dir).unwrap(), config()).with_write_faults(output, thumb);
    let taken = worker.run(&AtomicBool::new(false), &mut |_| {}).unwrap();
    assert_eq!(taken, 2, "the worker survives the first failure");
    (store, ids)
}

/// The files left in a run's folder, temporaries included.
fn left_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_full_disk_at_the_thumbnail_fails_the_run_and_removes_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let (store, ids) = two_runs(dir.path(), None, Some(Fault::DiskFull { after: 100 }));
    for id in ids {
        let r = store.get(id).unwrap();
        assert_eq!(r.status, Status::Failed, "run {id}");
        let error = r.error.unwrap_or_default();
        assert!(error.starts_with("disk full: "), "{error}");
        let files = store.files(id);
        let left = left_in(&files.dir);
        assert!(!files.output().exists(), "run {id} left {left:?}");
        assert!(
            !left
                .iter()
                .any(|n| n.ends_with(".png") || n.ends_with(".part")),
            "run {id} left {left:?}"
        );
    }
}

#[test]
fn an_io_error_at_the_output_fails_the_run_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (store, ids) = two_runs(dir.path(), Some(Fault::Io), None);
    for id in ids {
        let r = store.get(id).unwrap();
        assert_eq!(r.status, Status::Failed, "run {id}");
        let error = r.error.unwrap_or_default();
        assert!(error.contains("injected I/O error"), "{error}");
        assert!(!store.files(id).output().exists());
        assert!(!store.files(id).thumb().exists());
    }
}

fn mode(p: &Path) -> Option<u32> {
    std::fs::metadata(p)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

/// `atelier runs ls` on `data`, as user nobody when the tests run as root
/// (whom no permission stops): the user who may only read the database.
fn list_as_reader(data: &Path) -> std::process::Output {
    let bin = env!("CARGO_BIN_EXE_atelier");
    // SAFETY: geteuid has no preconditions.
    let mut c = if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin]);
        c
    } else {
        Command::new(bin)
    };
    c.arg("--data-dir")
        .arg(data)
        .args(["runs", "ls"])
        .env("XDG_CONFIG_HOME", "/nonexistent-atelier-test-config")
        .env("ATELIER_HOME", root())
        .output()
        .unwrap()
}

#[test]
fn listing_a_read_only_database_leaves_no_shm_or_wal_behind() {
    let dir = tempfile::tempdir().unwrap();
    let id = Store::open(dir.path())
        .unwrap()
        .add(&spec(), &[], 0)
        .unwrap();
    let db = dir.path().join("atelier.db");
    let shm = dir.path().join("atelier.db-shm");
    let wal = dir.path().join("atelier.db-wal");
    // The last connection closed: SQLite removed its -wal and -shm.
    assert_eq!((mode(&shm), mode(&wal)), (None, None));
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o444)).unwrap();
    // A read-only folder, then a folder anyone may write (a shared one).
    for folder in [0o755, 0o777] {
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(folder)).unwrap();
        let out = list_as_reader(dir.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "folder {folder:o}: {stderr}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(&id.to_string()), "{stdout}");
        assert_eq!(
            (mode(&shm), mode(&wal)),
            (None, None),
            "folder {folder:o}: {stderr}"
        );
        assert_eq!(mode(&db), Some(0o444));
    }
    // The owner still writes to it once it is writable again.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    Store::open(dir.path())
        .unwrap()
        .add(&spec(), &[], 0)
        .unwrap();
}
