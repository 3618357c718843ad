//! A studio on one PostgreSQL store, end to end: worker processes as hosts
//! `a` and `b` (`ATELIER_HOST`), each with its own data folder, take runs
//! queued from a third folder whose input files are gone before any worker
//! starts (they travel through the store); `b` is killed -9 in the middle
//! of a run, which `a` takes over once `b`'s lease has expired; every
//! output is exported on the third host.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use atelier::engine::gatys::spec::RunSpec;
use atelier::queue::{Status, Store};

use crate::store_pg::TestDb;
use crate::store_pg_blobs::spec_on_copies;
use crate::util::{atelier_in, wait_until};

/// The shortest lease atelier accepts (`[worker] stale_after`), and fast polling.
pub const CONFIG: &str = "[worker]\nstale_after = 30.0\npoll_interval = 0.1\nsnapshot_every = 0\n";

/// A CPU worker process on host `host` with data folder `data`.
pub fn worker(host: &str, data: &Path, config: &Path, url: &str) -> Child {
    atelier_in(data)
        .env("ATELIER_HOST", host)
        .arg("--config")
        .arg(config)
        .args([
            "--store",
            url,
            "worker",
            "--device",
            "cpu",
            "--log-every",
            "0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The host part of the worker that holds (or last held) run `id`.
fn host_of(store: &Store, id: i64) -> String {
    let w = store.get(id).unwrap().worker.unwrap_or_default();
    w.rsplit_once(':').map(|(h, _)| h.to_string()).unwrap_or(w)
}

#[test]
fn two_hosts_share_one_queue_and_a_killed_hosts_run_is_done_once_elsewhere() {
    let Some(db) = TestDb::new() else { return };
    let folders = tempfile::tempdir().unwrap();
    let [queuer, data_a, data_b] = ["queuer", "a", "b"].map(|n| folders.path().join(n));
    let config = folders.path().join("config.toml");
    std::fs::write(&config, CONFIG).unwrap();

    // Queued from a third folder: three short runs for `b` first, then the
    // long one it will die in, then three more short ones.
    let store = Store::open_at(&queuer, Some(&db.url)).unwrap();
    let (short, files) = spec_on_copies(&folders.path().join("files"), 32, 2);
    let long = RunSpec {
        size: 40,
        steps: 60,
        ..short.clone()
    };
    let add = |s: &RunSpec, priority| {
        let mut s = s.clone();
        let inputs = atelier::jobs::stylize::inputs(&mut s, None, &[]).unwrap();
        store.add(&s, &inputs, priority).unwrap()
    };
    let first: Vec<i64> = (0..3).map(|_| add(&short, 10)).collect();
    let doomed = add(&long, 5);
    let last: Vec<i64> = (0..3).map(|_| add(&short, 0)).collect();
    for f in &files {
        std::fs::remove_file(f).unwrap();
    }

    let mut b = worker("b", &data_b, &config, &db.url);
    wait_until("b on the long run", Duration::from_secs(300), || {
        store.samples(doomed).is_ok_and(|s| !s.is_empty())
    });
    let a = worker("a", &data_a, &config, &db.url);
    wait_until("a registered", Duration::from_secs(60), || {
        store
            .workers()
            .is_ok_and(|w| w.iter().any(|w| w.host == "a"))
    });
    b.kill().unwrap(); // SIGKILL: no chance to put its run back
    b.wait().unwrap();
    assert_eq!(store.get(doomed).unwrap().status, Status::Running);

    // `a` sees `b`'s lease expire, takes the run over and finishes it.
    wait_until("the long run done on a", Duration::from_secs(900), || {
        store.get(doomed).is_ok_and(|r| r.status == Status::Done)
    });
    // SIGTERM: `a` stops cleanly, as after a Ctrl-C (exit status 130).
    // SAFETY: a plain kill(2) of our own child.
    unsafe { libc::kill(a.id() as i32, libc::SIGTERM) };
    let out = a.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");

    for &id in first.iter().chain(&last).chain([&doomed]) {
        let r = store.get(id).unwrap();
        assert_eq!(r.status, Status::Done, "run {id}: {:?}", r.error);
        let want = if id == doomed { 2 } else { 1 };
        assert_eq!(
            r.attempts, want,
            "run {id} was started {} times",
            r.attempts
        );
        assert!(r.output.as_deref().is_some_and(Path::exists), "run {id}");
    }
    for &id in &first {
        assert_eq!(host_of(&store, id), "b", "run {id}");
    }
    for &id in last.iter().chain([&doomed]) {
        assert_eq!(host_of(&store, id), "a", "run {id}");
    }
    let r = store.get(doomed).unwrap();
    assert_eq!(r.crashes, 1);
    assert!(r.output.unwrap().starts_with(&data_a), "written on a");
    assert!(
        store.workers().unwrap().is_empty(),
        "both gone from the store"
    );

    // Every output on the third host, from the store: the workers' folders
    // are gone.
    for d in [&data_a, &data_b] {
        std::fs::remove_dir_all(d).unwrap();
    }
    let exported = folders.path().join("exported");
    for &id in first.iter().chain(&last).chain([&doomed]) {
        let out = atelier_in(&queuer)
            .args(["--store", &db.url, "runs", "export", &id.to_string()])
            .arg(&exported)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "run {id}: {stderr}");
        let img = image::open(exported.join(format!("run-{id}.png"))).unwrap();
        let want = if id == doomed { 40 } else { 32 };
        assert_eq!(img.width().max(img.height()), want, "run {id}");
    }
}
