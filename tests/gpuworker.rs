//! Issue 19, the worker side of the GPU box: the memory check before a run,
//! a run that keeps killing its worker, a device fault, `--device auto`
//! spreading workers over (faked) GPUs, `--all-gpus`, runs that take their
//! size and steps from the worker's device, and runs that ask for a kind of
//! device. All on the CPU, at 32 px.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use atelier::engine::infra::device::{DeviceKind, FAKE_GPUS};
use atelier::engine::infra::memory::{check_against, run_bytes};
use atelier::jobs::{Input, Job};
use atelier::queue::run::DeviceDefaults;
use atelier::queue::store::MAX_CRASHES;
use atelier::queue::worker::{SizeSteps, Worker};
use atelier::queue::{Status, Store, StoreError};
use tch::Device;

use crate::util::{chelsea_spec as spec, root, wait_until, worker_config as config};

fn atelier(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_atelier"));
    c.arg("--data-dir")
        .arg(data)
        .env("XDG_CONFIG_HOME", "/nonexistent-atelier-test-config")
        .env("ATELIER_HOME", root())
        .env_remove(FAKE_GPUS);
    c
}

fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn sigterm(child: &Child) {
    // SAFETY: kill(2) on a child this test started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
}

// ---- item 1: the memory check before a run ----

#[test]
fn a_run_that_does_not_fit_fails_with_the_memory_message_and_the_next_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (big, small) = (spec(64, 2), spec(32, 2));
    let (w, h) = image::image_dimensions(&big.content).unwrap();
    // Free memory between what the two runs need: the 64 px run cannot fit.
    let (need_big, need_small) = (run_bytes(&big, w, h), run_bytes(&small, w, h));
    assert!(need_small < need_big);
    let free = (need_small + need_big) / 2;
    let ids = [
        store.add(&big, &[], 0).unwrap(),
        store.add(&small, &[], 0).unwrap(),
    ];
    let mut worker = Worker::new(Store::open(dir.path()).unwrap(), config()).with_free_memory(free);
    let taken = worker.run(&AtomicBool::new(false), &mut |_| {}).unwrap();
    assert_eq!(taken, 2);
    let refused = store.get(ids[0]).unwrap();
    assert_eq!(refused.status, Status::Failed);
    // The CLI's message (less its --force hint), for this device and figure.
    let expected = check_against(&big, w, h, Device::Cpu, Some(free))
        .unwrap_err()
        .to_string();
    assert_eq!(refused.error.as_deref(), Some(expected.as_str()));
    assert!(
        expected.contains("64 px run needs about") && expected.contains("free on cpu"),
        "{expected}"
    );
    // It never started: no samples, no output.
    assert!(store.samples_since(ids[0], i64::MIN).unwrap().is_empty());
    assert!(refused.output.is_none());
    let next = store.get(ids[1]).unwrap();
    assert_eq!(next.status, Status::Done, "{:?}", next.error);
}

// ---- item 3: a device fault puts the run back and stops the worker ----

#[test]
fn a_device_fault_puts_the_run_back_and_stops_the_worker() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let ids: Vec<i64> = (0..3)
        .map(|_| store.add(&spec(32, 2), &[], 0).unwrap())
        .collect();
    let mut worker = Worker::new(Store::open(dir.path()).unwrap(), config())
        .with_engine_fault("CUDA error: an illegal memory access was encountered");
    let e = worker
        .run(&AtomicBool::new(false), &mut |_| {})
        .unwrap_err();
    assert!(matches!(e, StoreError::DeviceUnusable { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(
        msg.starts_with("device cpu is unusable: ")
            && msg.contains("illegal memory access")
            && msg.ends_with("; the run was put back"),
        "{msg}"
    );
    // The run is queued again (first in line), not failed nor a crash; the
    // others were never taken.
    let back = store.get(ids[0]).unwrap();
    assert_eq!(back.status, Status::Queued);
    assert_eq!((back.crashes, back.error.as_deref()), (0, None));
    let queue: Vec<i64> = store.queue().unwrap().iter().map(|r| r.id).collect();
    assert_eq!(queue, ids);
    for id in &ids[1..] {
        assert_eq!(store.get(*id).unwrap().attempts, 0, "run {id}");
    }
    assert!(
        store.workers().unwrap().is_empty(),
        "the worker unregistered"
    );
    // A worker on a sound device runs all three.
    let mut sound = Worker::new(Store::open(dir.path()).unwrap(), config());
    assert_eq!(sound.run(&AtomicBool::new(false), &mut |_| {}).unwrap(), 3);
    for id in ids {
        assert_eq!(store.get(id).unwrap().status, Status::Done, "run {id}");
    }
}

#[test]
fn an_out_of_memory_error_fails_the_run_clearly_and_the_worker_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let ids = [
        store.add(&spec(32, 2), &[], 0).unwrap(),
        store.add(&spec(32, 2), &[], 0).unwrap(),
    ];
    let mut worker = Worker::new(Store::open(dir.path()).unwrap(), config())
        .with_engine_fault("CUDA out of memory. Tried to allocate 2.00 GiB");
    // Every run fails the same way; the worker takes both.
    assert_eq!(worker.run(&AtomicBool::new(false), &mut |_| {}).unwrap(), 2);
    for id in ids {
        let r = store.get(id).unwrap();
        assert_eq!(r.status, Status::Failed);
        let e = r.error.unwrap_or_default();
        assert!(
            e.starts_with("not enough memory: cpu ran out of memory during the 32 px run"),
            "{e}"
        );
    }
}

// ---- item 2: a run that crashed its worker three times fails ----

#[test]
fn a_run_that_killed_its_worker_three_times_fails_and_the_next_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = Store::open(d).unwrap();
    // A run far too long to end by itself, then a short one.
    let doomed = store.add(&spec(32, 1_000_000), &[], 0).unwrap();
    let next = store.add(&spec(32, 2), &[], 0).unwrap();
    let host = this_host();
    for round in 1..=MAX_CRASHES {
        let mut w = atelier(d)
            .args(["worker", "--device", "cpu", "--log-every", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let me = format!("{host}:{}", w.id());
        // Killed while it runs: claimed by this worker, and evaluating
        // (a heartbeat after the claim comes with the evaluations' flushes).
        wait_until("the run evaluating", Duration::from_secs(120), || {
            let r = store.get(doomed).unwrap();
            r.status == Status::Running
                && r.worker.as_deref() == Some(&*me)
                && r.heartbeat.zip(r.started).is_some_and(|(h, s)| h > s)
        });
        w.kill().unwrap(); // SIGKILL
        w.wait().unwrap();
        let r = store.get(doomed).unwrap();
        assert_eq!((r.attempts, r.crashes), (round, round - 1));
    }
    let o = atelier(d)
        .args(["worker", "--device", "cpu", "--exit-when-idle"])
        .args(["--log-every", "0"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = store.get(doomed).unwrap();
    assert_eq!(r.status, Status::Failed);
    assert_eq!(r.crashes, MAX_CRASHES);
    let e = r.error.unwrap_or_default();
    assert!(
        e.starts_with("crashed its worker 3 times; last at 20"),
        "{e}"
    );
    assert!(
        out.contains(&format!("run {doomed}: failed (crashed its worker 3 times")),
        "{out}"
    );
    assert_eq!(r.attempts, MAX_CRASHES, "not taken a fourth time");
    let n = store.get(next).unwrap();
    assert_eq!(n.status, Status::Done, "{:?}", n.error);
}

// ---- item 4: `--device auto` spreads workers over the GPUs ----

/// The live workers' devices, once `n` are registered.
fn devices_of(store: &Store, n: usize) -> Vec<String> {
    wait_until("the workers to register", Duration::from_secs(60), || {
        store.workers().unwrap().len() >= n
    });
    let mut d: Vec<String> = store
        .workers()
        .unwrap()
        .into_iter()
        .map(|w| w.device)
        .collect();
    d.sort();
    d
}

fn auto_worker(d: &Path, gpus: &str) -> Child {
    atelier(d)
        .args(["worker", "--device", "auto"])
        .env(FAKE_GPUS, gpus)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn workers_on_auto_take_different_gpus_then_the_cpu() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let store = Store::open(d).unwrap();
    // Two started at once: one transaction each, so never the same GPU.
    let gpus = "0:80000,1:80000";
    let mut ws = vec![auto_worker(d, gpus), auto_worker(d, gpus)];
    assert_eq!(devices_of(&store, 2), ["cuda:0", "cuda:1"]);
    // Every GPU is taken: a third worker on auto takes the CPU.
    ws.push(auto_worker(d, gpus));
    assert_eq!(devices_of(&store, 3), ["cpu", "cuda:0", "cuda:1"]);
    for w in &ws {
        sigterm(w);
    }
    for mut w in ws {
        w.wait().unwrap();
    }
    assert!(store.workers().unwrap().is_empty());
    // The freest GPU first; a dead worker's device is free again.
    let mut first = auto_worker(d, "0:1000,1:90000");
    assert_eq!(devices_of(&store, 1), ["cuda:1"]);
    first.kill().unwrap(); // its row stays, its process is gone
    first.wait().unwrap();
    let mut second = auto_worker(d, "0:1000,1:90000");
    wait_until("the second worker", Duration::from_secs(60), || {
        store
            .workers()
            .unwrap()
            .iter()
            .any(|w| w.pid == i64::from(second.id()))
    });
    let mine = store
        .workers()
        .unwrap()
        .into_iter()
        .find(|w| w.pid == i64::from(second.id()))
        .unwrap();
    assert_eq!(mine.device, "cuda:1");
    sigterm(&second);
    second.wait().unwrap();
}

// ---- item 5: `--all-gpus` ----

#[test]
fn all_gpus_starts_one_worker_process_per_gpu() {
    let dir = tempfile::tempdir().unwrap();
    let o = atelier(dir.path())
        .args(["worker", "--all-gpus", "--exit-when-idle"])
        .env(FAKE_GPUS, "0:80000,1:80000")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let host = this_host();
    let mut pids = Vec::new();
    for i in 0..2 {
        let prefix = format!("[cuda:{i}] worker {host}:");
        let line = out
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no worker on cuda:{i}: {out}"));
        assert!(line.ends_with(&format!(" on cuda:{i}")), "{line}");
        let pid: u32 = line[prefix.len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        pids.push(pid);
    }
    assert_ne!(pids[0], pids[1], "a process each");
    assert!(!pids.contains(&std::process::id()));

    // No GPU: says so and runs one worker on the CPU.
    let o = atelier(dir.path())
        .args(["worker", "--all-gpus", "--exit-when-idle"])
        .env(FAKE_GPUS, "")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("no CUDA device found: --all-gpus runs one worker on the CPU"),
        "{out}"
    );
    assert_eq!(
        out.lines()
            .filter(|l| l.starts_with("worker ") && l.ends_with(" on cpu"))
            .count(),
        1,
        "{out}"
    );
}

// ---- item 6: size and steps from the worker's device ----

fn queue_add(d: &Path, args: &[&str]) -> i64 {
    let c = root().join("contents/chelsea.png");
    let s = root().join("styles/436535.jpg");
    let o = atelier(d)
        .args(["queue", "add", c.to_str().unwrap(), s.to_str().unwrap()])
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
fn queue_add_leaves_what_it_was_not_given_to_the_device_and_records_a_device_kind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let open = queue_add(d, &[]);
    let sized = queue_add(d, &["--size", "40"]);
    let both = queue_add(d, &["--size", "40", "--steps", "3"]);
    // A GPU need not be here to queue a run for one.
    let gpu = queue_add(d, &["--device", "cuda"]);
    let cpu = queue_add(d, &["--device", "cpu", "--steps", "3"]);
    let store = Store::open(d).unwrap();
    let got = |id| {
        let r = store.get(id).unwrap();
        (r.device_defaults, r.device_kind)
    };
    let dd = |size, steps| DeviceDefaults { size, steps };
    assert_eq!(got(open), (dd(true, true), None));
    assert_eq!(got(sized), (dd(false, true), None));
    assert_eq!(got(both), (dd(false, false), None));
    assert_eq!(got(gpu), (dd(true, true), Some("cuda".into())));
    assert_eq!(got(cpu), (dd(true, false), Some("cpu".into())));
    // The GPU's defaults as a start (the built-in [gpu]).
    assert_eq!(store.get(gpu).unwrap().spec().unwrap().size, 512);
}

#[test]
fn a_worker_fills_the_defaults_of_its_device_and_keeps_given_values() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let all = DeviceDefaults {
        size: true,
        steps: true,
    };
    let job = |size, steps| Job::Stylize(spec(size, steps));
    let open = store.add_job_on(&job(256, 200), &[], 0, None, all).unwrap();
    let steps_only = DeviceDefaults {
        size: false,
        steps: true,
    };
    let sized = store
        .add_job_on(&job(40, 200), &[], 0, None, steps_only)
        .unwrap();
    let fixed = store.add(&spec(48, 3), &[], 0).unwrap();
    let mut c = config();
    // Tiny defaults for the CPU, so that the test runs them.
    c.defaults.cpu = SizeSteps { size: 32, steps: 2 };
    let mut worker = Worker::new(Store::open(dir.path()).unwrap(), c);
    let mut started = Vec::new();
    worker
        .run(&AtomicBool::new(false), &mut |e| {
            if let atelier::queue::worker::WorkerEvent::Started(r) = e {
                started.push(r.describe());
            }
        })
        .unwrap();
    let shape = |id| {
        let r = store.get(id).unwrap();
        assert_eq!(r.status, Status::Done, "run {id}: {:?}", r.error);
        let s = r.spec().unwrap();
        let img = image::open(r.output.as_ref().unwrap()).unwrap();
        (s.size, s.steps, img.width().max(img.height()))
    };
    assert_eq!(shape(open), (32, 2, 32), "the CPU's defaults");
    assert_eq!(shape(sized), (40, 2, 40), "the given size kept");
    assert_eq!(shape(fixed), (48, 3, 48), "explicit values untouched");
    // The start line says what runs.
    assert!(started[0].ends_with("32 px, 2 steps"), "{started:?}");
}

#[test]
fn a_worker_takes_only_runs_its_device_kind_can_serve() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let none = DeviceDefaults::default();
    let job = Job::Stylize(spec(32, 2));
    let gpu_only = store
        .add_job_on(&job, &[], 0, Some(DeviceKind::Cuda), none)
        .unwrap();
    let cpu_only = store
        .add_job_on(&job, &[], 0, Some(DeviceKind::Cpu), none)
        .unwrap();
    let any = store.add_job_on(&job, &[], 0, None, none).unwrap();
    let claim = |w: &str, device: &str| store.claim(w, device).unwrap().map(|r| r.id);
    assert_eq!(
        claim("h:1", "cpu"),
        Some(cpu_only),
        "the GPU run is skipped"
    );
    assert_eq!(claim("h:2", "cpu"), Some(any));
    assert_eq!(claim("h:3", "cpu"), None, "only a GPU run is left");
    assert_eq!(claim("h:4", "cuda:1"), Some(gpu_only));
}

// ---- the schema migration keeps older queued runs as they were ----

#[test]
fn runs_of_a_schema_4_database_keep_their_values_and_ask_for_no_device() {
    let dir = tempfile::tempdir().unwrap();
    let s = spec(40, 3);
    let spec_json = serde_json::to_string(&s).unwrap();
    let inputs = serde_json::to_string(&[Input::hashed(
        atelier::jobs::Role::Content,
        None,
        s.content.clone(),
        "a".repeat(64),
    )])
    .unwrap();
    let sql = std::fs::read_to_string(root().join("tests/fixtures/store_v4.sql"))
        .unwrap()
        .replace("@SPEC@", &spec_json)
        .replace("@INPUTS@", &inputs);
    rusqlite::Connection::open(dir.path().join("atelier.db"))
        .unwrap()
        .execute_batch(&sql)
        .unwrap();
    let store = Store::open(dir.path()).unwrap();
    let queued = store.get(3).unwrap();
    assert_eq!(queued.status, Status::Queued);
    assert_eq!(queued.crashes, 0);
    assert_eq!(queued.device_kind, None);
    assert!(!queued.device_defaults.any(), "its values are explicit");
    // A GPU worker takes it (no device kind) with its own values.
    let r = store.claim("h:1", "cuda:0").unwrap().unwrap();
    assert_eq!(r.id, 3);
    assert_eq!((r.spec().unwrap().size, r.spec().unwrap().steps), (40, 3));
}
