//! Issue 20 items 6–10 and 14 (-shm), issue 19's worker items: the worker and
//! the store never run a job twice, lose history, or die on a full disk.

use std::path::Path;
use std::time::Duration;

use atelier::config::Config;
use atelier::engine::spec::{RunSpec, StyleRef};
use atelier::queue::{Status, Store};

use crate::util::root;

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

#[allow(dead_code)]
fn open(d: &Path) -> Store {
    Store::open(d).unwrap()
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
