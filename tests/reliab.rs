//! Issue 20 items 6–10 and 14 (-shm), issue 19's worker items: the worker and
//! the store never run a job twice, lose history, or die on a full disk.

use crate::util::atelier_in;
use std::path::Path;
use std::time::Duration;

use atelier::config::Config;
use atelier::engine::gatys::spec::{RunSpec, StyleRef};
use atelier::queue::{Status, Store};

use crate::util::{root, wait_until};

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

fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn load_config(text: &str) -> Result<Config, String> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, text).unwrap();
    Config::load(Some(&p), true).map_err(|e| e.to_string())
}

// ---- item 6: a live worker on this host is never declared gone ----

#[test]
fn a_live_worker_on_this_host_is_never_declared_gone_even_with_an_old_heartbeat() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let id = store.add(&spec(), &[], 0).unwrap();
    // This test process is the "worker": its PID is alive on this host.
    let me = format!("{}:{}", this_host(), std::process::id());
    assert_eq!(store.claim(&me, "cpu").unwrap().unwrap().id, id);
    std::thread::sleep(Duration::from_millis(20));
    // Every heartbeat is older than 0 s: still not gone, its process lives.
    assert_eq!(store.recover(0.0).unwrap(), Vec::<i64>::new());
    let r = store.get(id).unwrap();
    assert_eq!(
        (r.status, r.worker.as_deref()),
        (Status::Running, Some(&*me))
    );
    // A worker of another host with an old heartbeat is stale.
    let id2 = store.add(&spec(), &[], 0).unwrap();
    assert_eq!(store.claim("elsewhere:1", "cpu").unwrap().unwrap().id, id2);
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(store.recover(0.0).unwrap(), vec![id2]);
}

#[test]
fn stale_after_must_exceed_several_heartbeat_intervals() {
    let min = atelier::queue::worker::MIN_STALE_AFTER;
    assert!(min >= 3.0 * atelier::queue::worker::HEARTBEAT_INTERVAL.as_secs_f64());
    for v in ["0", "0.0", "1.0", &format!("{}", min - 1.0)] {
        let e = load_config(&format!("[worker]\nstale_after = {v}\n")).unwrap_err();
        assert!(e.contains("worker.stale_after"), "{v}: {e}");
    }
    let c = load_config(&format!("[worker]\nstale_after = {min}\n")).unwrap();
    assert_eq!(c.worker.stale_after, min);
}

// ---- item 8: a resumed run keeps its history ----

fn worker(data: &Path) -> std::process::Child {
    atelier_in(data)
        .args(["worker", "--exit-when-idle", "--device", "cpu"])
        .args(["--log-every", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn queue_add(data: &Path, args: &[&str]) -> i64 {
    let o = atelier_in(data)
        .args(["queue", "add"])
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    out.trim()
        .strip_prefix("queued run ")
        .unwrap_or_else(|| panic!("{out}"))
        .parse()
        .unwrap()
}

#[test]
fn a_killed_and_resumed_run_reports_the_whole_run() {
    use atelier::jobs::Outcome;
    use atelier::queue::history::RunHistory;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = root().join("contents/chelsea.png");
    let s = root().join("styles/436535.jpg");
    // 400 steps at 32 px: long enough for snapshots (at most one a second).
    let id = queue_add(
        d,
        &[
            c.to_str().unwrap(),
            s.to_str().unwrap(),
            "--size",
            "32",
            "--steps",
            "400",
            "--device",
            "cpu",
        ],
    );
    let store = Store::open(d).unwrap();
    let run_dir = store.run_dir(id);
    let mut w = worker(d);
    wait_until(
        "a resume point and its history",
        Duration::from_secs(120),
        || {
            store
                .get(id)
                .map(|r| r.resume_step.is_some())
                .unwrap_or(false)
                && RunHistory::load(&run_dir).best.is_some()
        },
    );
    w.kill().unwrap(); // SIGKILL
    w.wait().unwrap();
    assert_eq!(store.recover(120.0).unwrap(), vec![id]);
    let before = RunHistory::load(&run_dir);
    let best_before = before.best.unwrap();
    let step = store.get(id).unwrap().resume_step.unwrap();
    let o = worker(d).wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains(&format!("run {id}: resumed at step {step}")),
        "{out}"
    );
    let r = store.get(id).unwrap();
    assert_eq!(r.status, Status::Done, "{:?}", r.error);
    let Some(Outcome::Stylize(outcome)) = r.outcome else {
        panic!("{:?}", r.outcome)
    };
    let points = store.samples_since(id, 0).unwrap();
    let last_step = points.iter().map(|p| p.step).max().unwrap();
    // Counts over the whole run, not the last attempt's.
    assert!(
        outcome.evals >= last_step,
        "{} evals, last step {last_step}",
        outcome.evals
    );
    assert!(outcome.best_eval <= outcome.evals);
    // The best image of the whole run: never worse than an earlier best.
    assert!(
        outcome.losses.total <= best_before.losses.total,
        "{} > {}",
        outcome.losses.total,
        best_before.losses.total
    );
    // Time goes on from the earlier attempts' time (downtime excluded): the
    // first evaluation after the resume point is later than that.
    let after: Vec<f64> = points
        .iter()
        .filter(|p| p.step == step + 1)
        .map(|p| p.seconds)
        .collect();
    assert!(!after.is_empty());
    for t in after {
        assert!(t >= before.seconds, "{t} s < {} s", before.seconds);
    }
}

// ---- item 9: an emptied database next to old run folders ----

#[test]
fn an_emptied_database_never_reuses_an_old_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Old runs 1..3 whose database is gone (emptied, replaced, deleted).
    for id in 1..=3 {
        let f = d.join("runs").join(id.to_string());
        std::fs::create_dir_all(&f).unwrap();
        std::fs::write(f.join("output.png"), format!("old run {id}")).unwrap();
    }
    std::fs::create_dir_all(d.join("runs/notes")).unwrap();
    let store = Store::open(d).unwrap();
    let s = spec();
    let a = store.add(&s, &[], 0).unwrap();
    let b = store.add(&s, &[], 0).unwrap();
    assert_eq!((a, b), (4, 5));
    assert!(!store.run_dir(a).exists());
    // A worker runs it into its own folder; the old ones are untouched.
    let o = worker(d).wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(store.get(a).unwrap().status, Status::Done);
    assert!(store.run_dir(a).join("output.png").exists());
    for id in 1..=3 {
        let old = std::fs::read_to_string(d.join(format!("runs/{id}/output.png"))).unwrap();
        assert_eq!(old, format!("old run {id}"));
    }
}

// ---- item 10: what really ran is recorded ----

#[test]
fn a_rerun_records_its_new_inputs_and_a_changed_input_fails_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let content = d.join("c.png");
    std::fs::copy(root().join("contents/chelsea.png"), &content).unwrap();
    let s = root().join("styles/436535.jpg");
    let args = |c: &Path| {
        vec![
            c.to_str().unwrap().to_string(),
            s.to_str().unwrap().to_string(),
            "--size".into(),
            "32".into(),
            "--steps".into(),
            "2".into(),
        ]
    };
    let a: Vec<String> = args(&content);
    let id = queue_add(d, &a.iter().map(String::as_str).collect::<Vec<_>>());
    // A missing file is refused at once, nothing queued.
    let o = atelier_in(d)
        .args(["runs", "rerun", &id.to_string(), "--set"])
        .arg(format!("content={}", d.join("missing.png").display()))
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.png"));
    let store = Store::open(d).unwrap();
    assert_eq!(store.list(&Default::default()).unwrap().len(), 1);
    // Another photo: recorded with its own path and sha256.
    let other = root().join("contents/chelsea.png");
    let o = atelier_in(d)
        .args(["runs", "rerun", &id.to_string(), "--set"])
        .arg(format!("content={}", other.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let runs = store.list(&Default::default()).unwrap();
    let rerun = runs.iter().find(|r| r.id != id).unwrap();
    let c = rerun
        .inputs
        .iter()
        .find(|i| i.role == atelier::jobs::Role::Content)
        .unwrap();
    assert_eq!(c.path, std::fs::canonicalize(&other).unwrap());
    assert_eq!(
        c.sha256,
        atelier::engine::nets::weights::sha256_file(&other).unwrap()
    );
    // The first run's content changes after `queue add`: that run fails
    // saying so; the re-run (its file unchanged) is done.
    std::fs::copy(root().join("styles/436535.jpg"), &content).unwrap();
    let o = worker(d).wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = store.get(id).unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(
        r.error
            .as_deref()
            .unwrap_or("")
            .contains("changed since the run was queued"),
        "{:?}",
        r.error
    );
    assert_eq!(store.get(rerun.id).unwrap().status, Status::Done);
}
