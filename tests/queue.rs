//! The job queue and run history: ordering, and the faults it must survive
//! (killed workers, two workers, concurrent readers, foreign databases, a full
//! disk), with real worker processes on a temporary data dir.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atelier::engine::gatys::spec::RunSpec;
use atelier::queue::{Filter, Input, Status, Store, StoreError};

use crate::util::{chelsea_spec as spec, json_output, root, wait_until};

pub fn inputs(s: &RunSpec) -> Vec<Input> {
    vec![
        Input {
            role: atelier::jobs::Role::Content,
            name: None,
            path: s.content.clone(),
            sha256: "-".into(),
        },
        Input {
            role: atelier::jobs::Role::Style,
            name: None,
            path: s.styles[0].path.clone(),
            sha256: "-".into(),
        },
    ]
}

fn worker(data: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_atelier"))
        .args([
            "worker",
            "--exit-when-idle",
            "--device",
            "cpu",
            "--log-every",
            "0",
            "--data-dir",
        ])
        .arg(data)
        .env("XDG_CONFIG_HOME", "/nonexistent-atelier-test-config")
        .env("ATELIER_HOME", root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn claims_follow_priority_and_moves_and_cancels_apply() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let s = spec(32, 1);
    let a = store.add(&s, &inputs(&s), 0).unwrap();
    let b = store.add(&s, &inputs(&s), 5).unwrap();
    let c = store.add(&s, &inputs(&s), 0).unwrap();
    let order: Vec<i64> = store.queue().unwrap().iter().map(|r| r.id).collect();
    assert_eq!(order, vec![b, a, c]);
    store.move_to(c, 1).unwrap();
    let order: Vec<i64> = store.queue().unwrap().iter().map(|r| r.id).collect();
    assert_eq!(order, vec![c, b, a]);
    assert_eq!(store.claim("w:1", "cpu").unwrap().unwrap().id, c);
    // Running runs come first in the queue view; the next claim takes b.
    assert_eq!(store.queue().unwrap()[0].status, Status::Running);
    assert_eq!(store.cancel(a).unwrap(), Status::Cancelled);
    assert_eq!(store.cancel(c).unwrap(), Status::Running);
    assert!(store.cancel_requested(c).unwrap());
    assert_eq!(store.claim("w:1", "cpu").unwrap().unwrap().id, b);
    assert!(store.claim("w:1", "cpu").unwrap().is_none());
    assert!(matches!(
        store.move_to(a, 1),
        Err(StoreError::WrongStatus { .. })
    ));
    assert!(matches!(store.get(999), Err(StoreError::NoSuchRun(999))));
    assert!(matches!(
        store.delete(c),
        Err(StoreError::WrongStatus { .. })
    ));
    store.delete(a).unwrap();
    assert_eq!(store.list(&Filter::default()).unwrap().len(), 2);
}

fn digest(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}

#[test]
fn corrupt_or_foreign_databases_are_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("atelier.db");
    std::fs::write(&db, b"these are my notes, not a database\n").unwrap();
    let before = digest(&db);
    let e = Store::open(dir.path())
        .err()
        .expect("garbage refused")
        .to_string();
    assert!(
        e.contains("atelier.db") && e.contains("not an atelier database"),
        "{e}"
    );
    assert_eq!(digest(&db), before);
    // Through the CLI: one line, non-zero exit.
    let o = Command::new(env!("CARGO_BIN_EXE_atelier"))
        .args(["runs", "ls", "--data-dir"])
        .arg(dir.path())
        .env("XDG_CONFIG_HOME", "/nonexistent-atelier-test-config")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("atelier.db"), "{stderr}");
    assert_eq!(digest(&db), before);

    // Another application's SQLite database.
    let dir2 = tempfile::tempdir().unwrap();
    let db2 = dir2.path().join("atelier.db");
    {
        let c = rusqlite::Connection::open(&db2).unwrap();
        c.execute_batch("CREATE TABLE accounts (id INTEGER, owner TEXT); INSERT INTO accounts VALUES (1, 'me');").unwrap();
    }
    let before = digest(&db2);
    let e = Store::open(dir2.path())
        .err()
        .expect("foreign db refused")
        .to_string();
    assert!(e.contains("not an atelier database"), "{e}");
    assert_eq!(digest(&db2), before);
}

/// `atelier runs ls --json` in another process: what it sees of the store.
fn runs_seen_by_another_process(data: &Path) -> Vec<serde_json::Value> {
    let v = json_output(
        Command::new(env!("CARGO_BIN_EXE_atelier"))
            .args(["runs", "ls", "--json", "--data-dir"])
            .arg(data)
            .env("XDG_CONFIG_HOME", "/nonexistent-atelier-test-config")
            .env("ATELIER_HOME", root()),
    );
    serde_json::from_value(v).unwrap()
}

/// Several stores in one process (the TUI's store thread and its worker) and
/// other processes coming and going: every write stays visible to everyone.
/// Closing any descriptor of the database file drops all of a process's POSIX
/// locks on it, so a store that read the file's header outside SQLite let the
/// next process to close its connection take itself for the last one and
/// remove the WAL that the first store was still writing to.
#[test]
fn a_second_store_in_a_process_keeps_the_first_ones_writes_visible() {
    let dir = tempfile::tempdir().unwrap();
    let first = Store::open(dir.path()).unwrap();
    let s = spec(32, 2);
    first.add(&s, &inputs(&s), 0).unwrap();
    let _second = Store::open(dir.path()).unwrap();
    assert_eq!(runs_seen_by_another_process(dir.path()).len(), 1);
    // That process has closed its connection; the first store writes on.
    first.add(&s, &inputs(&s), 0).unwrap();
    assert_eq!(
        runs_seen_by_another_process(dir.path()).len(),
        2,
        "a write of the first store was lost to other processes"
    );
}

#[test]
fn two_workers_run_each_of_twenty_runs_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let s = spec(32, 2);
    let ids: Vec<i64> = (0..20)
        .map(|_| store.add(&s, &inputs(&s), 0).unwrap())
        .collect();
    let (a, b) = (worker(dir.path()), worker(dir.path()));
    let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
    let mut started = Vec::new();
    for o in &outs {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for line in String::from_utf8_lossy(&o.stdout).lines() {
            if let Some(rest) = line.strip_prefix("run ") {
                if let Some((id, _)) = rest.split_once(": started") {
                    started.push(id.parse::<i64>().unwrap());
                }
            }
        }
    }
    started.sort();
    assert_eq!(started, ids, "each run started exactly once");
    for id in ids {
        let r = store.get(id).unwrap();
        assert_eq!(r.status, Status::Done, "run {id}: {:?}", r.error);
        assert_eq!(r.attempts, 1, "run {id}");
        assert!(r.output.unwrap().exists());
    }
}

#[test]
fn a_killed_worker_leaves_its_run_interrupted_and_a_restart_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let long = spec(40, 150);
    let id = store.add(&long, &inputs(&long), 0).unwrap();
    let s = spec(32, 2);
    let other = store.add(&s, &inputs(&s), 0).unwrap();
    let other_before = serde_json::to_value(store.get(other).unwrap()).unwrap();

    let mut w = worker(dir.path());
    wait_until("loss samples", Duration::from_secs(60), || {
        store.samples(id).map(|s| s.len() >= 5).unwrap_or(false)
    });
    w.kill().unwrap(); // SIGKILL
    w.wait().unwrap();

    let dead = store.recover(120.0).unwrap();
    assert_eq!(dead, vec![id]);
    let r = store.get(id).unwrap();
    assert_eq!(r.status, Status::Interrupted);
    assert_eq!(
        serde_json::to_value(store.get(other).unwrap()).unwrap(),
        other_before,
        "nothing else changed"
    );
    // No half-written file is visible in the run's folder.
    if let Ok(entries) = std::fs::read_dir(store.run_dir(id)) {
        let names: Vec<String> = entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.ends_with(".part")), "{names:?}");
        assert!(!names.contains(&"output.png".to_string()), "{names:?}");
    }

    // A new worker takes it back (policy: resume) and finishes everything.
    let o = worker(dir.path()).wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = store.get(id).unwrap();
    assert_eq!(r.status, Status::Done, "{:?}", r.error);
    assert_eq!(r.attempts, 2);
    assert!(r.output.unwrap().exists());
    assert_eq!(store.get(other).unwrap().status, Status::Done);
    let _ = &mut store;
}

#[test]
fn a_worker_records_the_rollbacks_of_a_diverging_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // Adam with a huge step diverges at once, over and over; two scales, so
    // the second scale's rollbacks must be counted after the first's evaluations.
    let s = RunSpec {
        optimizer: atelier::engine::gatys::spec::OptimizerKind::Adam,
        learning_rate: Some(100.0),
        scales: atelier::engine::gatys::pyramid::Scales::Count(2),
        ..spec(48, 20)
    };
    let id = store.add(&s, &inputs(&s), 0).unwrap();
    let o = worker(dir.path()).wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = store.get(id).unwrap();
    assert_eq!(r.status, Status::Done, "{:?}", r.error);
    let rollbacks = store.rollbacks(id).unwrap();
    assert!(rollbacks.len() >= 2, "{rollbacks:?}");
    let samples = store.samples(id).unwrap();
    let evals = r.evals().unwrap();
    for rb in &rollbacks {
        assert!(
            rb.to_eval < rb.eval && rb.eval <= evals,
            "{rb:?} of {evals}"
        );
        // The diverged evaluation has no loss sample (the guard rejected it).
        assert!(samples.iter().all(|x| x.eval != rb.eval), "{rb:?}");
        assert!(!rb.reason.is_empty() && rb.remedy.contains("halved"));
    }
    // Each scale rolls back to a point of its own; counted per scale, the
    // second scale's rollbacks would point back into the first.
    let targets: std::collections::HashSet<i64> = rollbacks.iter().map(|rb| rb.to_eval).collect();
    assert!(targets.len() >= 2, "{rollbacks:?}");
}

#[test]
fn cancelling_a_running_run_stops_it_within_an_evaluation_or_two() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let long = spec(40, 5000);
    let id = store.add(&long, &inputs(&long), 0).unwrap();
    let w = worker(dir.path());
    wait_until("samples", Duration::from_secs(60), || {
        store.samples(id).map(|s| !s.is_empty()).unwrap_or(false)
    });
    assert_eq!(store.cancel(id).unwrap(), Status::Running);
    let o = w.wait_with_output().unwrap();
    assert!(o.status.success());
    let r = store.get(id).unwrap();
    assert_eq!(r.status, Status::Cancelled);
    assert!(r.output.is_none());
}

#[test]
fn readers_polling_while_workers_write_never_see_a_lock_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let s = spec(32, 6);
    let ids: Vec<i64> = (0..6)
        .map(|_| store.add(&s, &inputs(&s), 0).unwrap())
        .collect();
    let mut w = worker(dir.path());
    let data: PathBuf = dir.path().to_path_buf();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let data = data.clone();
            let ids = ids.clone();
            std::thread::spawn(move || {
                let mut reads = 0;
                let start = Instant::now();
                while start.elapsed() < Duration::from_secs(60) {
                    // Like a TUI poll: fresh connection, list, queue, samples.
                    let st = Store::open(&data).expect("open while a worker writes");
                    st.list(&Filter::default()).expect("list");
                    st.queue().expect("queue");
                    for id in &ids {
                        st.samples(*id).expect("samples");
                    }
                    reads += 1;
                    if ids
                        .iter()
                        .all(|id| st.get(*id).unwrap().status == Status::Done)
                    {
                        break;
                    }
                }
                reads
            })
        })
        .collect();
    for r in readers {
        assert!(r.join().expect("reader saw an error") > 0);
    }
    assert!(w.wait().unwrap().success());
}

/// Unmounts the tmpfs even when the test fails.
struct Mount(PathBuf);
impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_fails_the_run_with_the_reason_and_keeps_the_database_sound() {
    let dir = tempfile::tempdir().unwrap();
    let fs = dir.path().join("tiny");
    std::fs::create_dir(&fs).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&fs)
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    }
    let _guard = Mount(fs.clone());
    // Leave about 2 KiB free: too little for the output PNG.
    let free = {
        let out = Command::new("df")
            .args(["--output=avail", "-B1"])
            .arg(&fs)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    std::fs::write(fs.join("filler"), vec![0u8; (free - 2048) as usize]).ok();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::os::unix::fs::symlink(&fs, data.join("runs")).unwrap();
    let store = Store::open(&data).unwrap();
    let s = spec(96, 2);
    let id = store.add(&s, &inputs(&s), 0).unwrap();
    let ok = store.add(&s, &inputs(&s), 0).unwrap();
    let o = worker(&data).wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for rid in [id, ok] {
        let r = store.get(rid).unwrap();
        assert_eq!(r.status, Status::Failed);
        let e = r.error.unwrap_or_default();
        assert!(e.contains("No space left"), "run {rid}: {e}");
    }
    let c = rusqlite::Connection::open(data.join("atelier.db")).unwrap();
    let check: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    // No torn files visible.
    for e in std::fs::read_dir(&fs).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            for f in std::fs::read_dir(e.path()).unwrap() {
                let name = f.unwrap().file_name().to_string_lossy().into_owned();
                assert!(
                    name.starts_with('.') || name == "thumb.png" || name == "output.png",
                    "{name}"
                );
                assert_ne!(name, "output.png", "an output appeared on a full disk");
            }
        }
    }
}
