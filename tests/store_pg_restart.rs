//! A PostgreSQL server that goes away while a worker runs (it restarts):
//! the worker keeps its run, tries its store again with backoff, and
//! finishes the run once; the run queued behind it is not lost.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use atelier::engine::gatys::spec::RunSpec;
use atelier::queue::run::now;
use atelier::queue::{Status, Store};

use crate::store_pg::TestDb;
use crate::store_pg_hosts::{worker, CONFIG};
use crate::util::{chelsea_spec, root, wait_until};

/// `scripts/pg_test_server.sh what dir`; its output.
fn server(what: &str, dir: &Path) -> String {
    let out = Command::new(root().join("scripts/pg_test_server.sh"))
        .arg(what)
        .arg(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "pg_test_server.sh {what}: {stderr}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_worker_rides_out_a_server_restart_and_finishes_its_run_once() {
    // Where the PostgreSQL tests run; this one restarts a server of its own.
    if TestDb::new().is_none() {
        return;
    }
    let cluster = tempfile::tempdir().unwrap();
    let url = server("start", cluster.path());
    let folders = tempfile::tempdir().unwrap();
    let config = folders.path().join("config.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let data = folders.path().join("w");
    let store = Store::open_at(&folders.path().join("q"), Some(&url)).unwrap();
    let add = |s: &RunSpec, priority| store.add(s, &[], priority).unwrap();
    // Long enough that the server is down before it ends, even on a fast CPU.
    let long = add(&chelsea_spec(64, 300), 1);
    let next = add(&chelsea_spec(32, 2), 0);

    let w = worker("a", &data, &config, &url);
    wait_until("the long run under way", Duration::from_secs(300), || {
        store.samples(long).is_ok_and(|s| !s.is_empty())
    });
    server("down", cluster.path());
    // The run goes on without its store and writes its result; the worker
    // then waits for the store to record it.
    let output = data.join(format!("runs/{long}/output.png"));
    wait_until("the output written", Duration::from_secs(600), || {
        output.exists()
    });
    let back = now();
    server("up", cluster.path());

    wait_until("both runs done", Duration::from_secs(300), || {
        [long, next]
            .iter()
            .all(|&id| store.get(id).is_ok_and(|r| r.status == Status::Done))
    });
    for id in [long, next] {
        let r = store.get(id).unwrap();
        assert_eq!((r.attempts, r.crashes), (1, 0), "run {id} ran once");
    }
    let r = store.get(long).unwrap();
    assert!(
        r.finished.is_some_and(|t| t >= back),
        "recorded after the server came back"
    );
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(w.id() as i32, libc::SIGTERM) };
    let out = w.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "it kept going: {stderr}");
    server("stop", cluster.path());
}
