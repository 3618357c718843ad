//! The train, apply and analogy kinds through the binary: queued, run by a
//! worker (also one killed mid-training), and a drop folder with `model =`.
//! Tiny sizes throughout (32–48 px, a handful of iterations).

use crate::util::atelier_in;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atelier::engine::fast::model_file::{blank_info, Model};
use atelier::engine::fast::transformer::{Arch, Norm};
use atelier::jobs::Outcome;
use atelier::queue::{Filter, Run, Status, Store};

use crate::util::{json_output, write_pattern};

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Three small photos (the bundled contents, downscaled).
fn dataset(dir: &Path) -> PathBuf {
    crate::util::small_photos(dir)
}

fn queue_train(data: &Path, ds: &Path, name: &str, iterations: u64, every: u64) {
    let (it, ev) = (iterations.to_string(), every.to_string());
    ok(atelier_in(data)
        .args(["queue", "add", "train", "styles/36029.jpg", "--name", name])
        .args(["--dataset".as_ref(), ds.as_os_str()])
        .args([
            "--size",
            "32",
            "--batch",
            "1",
            "--width",
            "0.25",
            "--iterations",
            &it,
            "--checkpoint-every",
            &ev,
            "--preview-every",
            &ev,
        ]));
}

fn worker(data: &Path) -> String {
    ok(atelier_in(data).args([
        "worker",
        "--exit-when-idle",
        "--device",
        "cpu",
        "--log-every",
        "1",
    ]))
}

fn runs(data: &Path) -> Vec<Run> {
    let mut v = Store::open(data).unwrap().list(&Filter::default()).unwrap();
    v.sort_by_key(|r| r.id);
    v
}

fn model_names(data: &Path) -> Vec<(String, serde_json::Value)> {
    let v = json_output(atelier_in(data).args(["models", "ls", "--json"]));
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap_or("").to_string(), e.clone()))
        .collect()
}

#[test]
fn a_queued_training_run_saves_its_model_into_the_library() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ds = dataset(tmp.path());
    queue_train(&data, &ds, "tiny-kinds", 4, 2);
    let log = worker(&data);
    let r = &runs(&data)[0];
    assert_eq!(r.status, Status::Done, "{log}\n{:?}", r.error);
    let Some(Outcome::Train(o)) = &r.outcome else {
        panic!("no train outcome: {:?}", r.outcome)
    };
    assert_eq!(o.iterations, 4);
    let models = model_names(&data);
    let (_, entry) = models
        .iter()
        .find(|(n, _)| n == "tiny-kinds")
        .unwrap_or_else(|| panic!("not in models ls: {models:?}"));
    assert_eq!(PathBuf::from(entry["path"].as_str().unwrap()), o.path);
    // Losses per iteration, the Live view's preview, a checkpoint recorded.
    let store = Store::open(&data).unwrap();
    let samples = store.samples(r.id).unwrap();
    assert_eq!(samples.len(), 4, "{samples:?}");
    assert!(samples.iter().all(|s| s.total.is_finite() && s.total > 0.0));
    assert!(store.files(r.id).current().exists());
    assert!(store.files(r.id).output().exists());
    // The name is taken now: a second run of that name is refused at once.
    let out = atelier_in(&data)
        .args([
            "queue",
            "add",
            "train",
            "styles/36029.jpg",
            "--name",
            "tiny-kinds",
        ])
        .args(["--dataset".as_ref(), ds.as_os_str()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
}

/// A worker process, killed (SIGKILL) and reaped when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_training_worker_killed_mid_run_resumes_from_its_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ds = dataset(tmp.path());
    queue_train(&data, &ds, "resumed", 40, 5);
    let w = Killed(
        atelier_in(&data)
            .args(["worker", "--device", "cpu"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let store = Store::open(&data).unwrap();
    let start = Instant::now();
    let at = loop {
        let cks = store.checkpoints(1).unwrap_or_default();
        if let Some(c) = cks.last() {
            break c.step;
        }
        assert!(start.elapsed() < Duration::from_secs(300), "no checkpoint");
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(w); // kill -9 mid-training
    assert!(at >= 5 && at % 5 == 0, "checkpoint at {at}");
    let r = store.get(1).unwrap();
    assert_ne!(r.status, Status::Done, "finished before it was killed");
    // A new worker finds the run's worker gone, queues it again and
    // continues from the checkpoint, not from iteration 0.
    let log = worker(&data);
    let resumed: i64 = log
        .lines()
        .find_map(|l| l.strip_prefix("run 1: resumed at step "))
        .unwrap_or_else(|| panic!("not resumed:\n{log}"))
        .trim()
        .parse()
        .unwrap();
    assert!(resumed >= at, "resumed at {resumed}, checkpoint at {at}");
    let first_step: u64 = log
        .lines()
        .find_map(|l| l.strip_prefix("run 1: step "))
        .and_then(|s| s.split(':').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(first_step, resumed as u64 + 1, "{log}");
    let r = store.get(1).unwrap();
    assert_eq!(r.status, Status::Done, "{log}\n{:?}", r.error);
    let Some(Outcome::Train(o)) = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(o.iterations, 40);
    assert!(model_names(&data).iter().any(|(n, _)| n == "resumed"));
}

/// A fresh (untrained) model of width 0.25 saved as `name` in `data`'s library.
fn user_model(data: &Path, name: &str) -> PathBuf {
    let dir = data.join("models");
    std::fs::create_dir_all(&dir).unwrap();
    let arch = Arch {
        norm: Norm::Instance,
        width: 0.25,
    };
    tch::manual_seed(3);
    let m = Model::new(blank_info(arch), tch::Device::Cpu).unwrap();
    let p = dir.join(format!("{name}.safetensors"));
    m.save(&p).unwrap();
    p
}

#[test]
fn apply_and_analogy_are_queued_and_executed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    user_model(&data, "m");
    let (a, b) = (tmp.path().join("a.png"), tmp.path().join("b.png"));
    write_pattern(&a, 40, 32);
    write_pattern(&b, 36, 36);
    ok(atelier_in(&data)
        .args(["queue", "add", "apply", "m"])
        .args([&a, &b])
        .args(["--size", "24"]));
    ok(atelier_in(&data)
        .args(["queue", "add", "analogy"])
        .args([&a, &b])
        .args(["--size", "32", "--fast"]));
    // A model that is not in the library is refused when queued.
    let bad = atelier_in(&data)
        .args(["queue", "add", "apply", "no-such-model"])
        .arg(&a)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no model 'no-such-model'"));
    let log = worker(&data);
    let rs = runs(&data);
    assert_eq!(rs.len(), 2);
    for r in &rs {
        assert_eq!(r.status, Status::Done, "{log}\n{:?}", r.error);
    }
    let Some(Outcome::Apply(o)) = &rs[0].outcome else {
        panic!("{:?}", rs[0].outcome)
    };
    assert_eq!(o.outputs.len(), 2);
    for p in &o.outputs {
        let img = image::open(p).unwrap();
        assert_eq!(img.width().max(img.height()), 24, "{}", p.display());
        assert!(p
            .file_name()
            .unwrap()
            .to_string_lossy()
            .ends_with("__m.png"));
    }
    let Some(Outcome::Analogy(o)) = &rs[1].outcome else {
        panic!("{:?}", rs[1].outcome)
    };
    let dir = Store::open(&data).unwrap().files(rs[1].id).dir;
    for f in [&o.b, &o.flow, &o.flow_picture] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    let a_prime = image::open(dir.join("output.png")).unwrap();
    assert_eq!(a_prime.width(), 32);
    // runs ls names each kind with its inputs.
    let ls = ok(atelier_in(&data).args(["runs", "ls"]));
    assert!(ls.contains("apply") && ls.contains("analogy"), "{ls}");
}

pub(crate) fn config(dir: &Path, rule: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(
        &p,
        format!(
            "[watcher]\nquiet = 0.3\nopen_grace = 3.0\nreconcile_every = 1.0\n\
             poll_interval = 0.1\ndebounce = 0.05\n\
             [[watch]]\nname = \"fast\"\ninbox = {:?}\noutput = {:?}\n{rule}\n",
            dir.join("inbox").display().to_string(),
            dir.join("out").display().to_string(),
        ),
    )
    .unwrap();
    p
}

#[test]
fn a_drop_folder_rule_with_a_model_delivers_one_pass_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let data = dir.join("data");
    std::fs::create_dir_all(dir.join("inbox")).unwrap();
    user_model(&data, "m");
    // model and styles together, and an unknown model: errors naming the rule.
    let both = config(dir, "model = \"m\"\nstyles = [\"x\"]");
    let out = atelier_in(&data)
        .arg("--config")
        .arg(&both)
        .arg("watch")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a single-style model"));
    let unknown = config(dir, "model = \"nope\"");
    let out = atelier_in(&data)
        .arg("--config")
        .arg(&unknown)
        .arg("watch")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("fast") && err.contains("nope"), "{err}");

    let cfg = config(dir, "model = \"m\"");
    let logf = std::fs::File::create(dir.join("watch.log")).unwrap();
    let _w = Killed(
        atelier_in(&data)
            .arg("--config")
            .arg(&cfg)
            .arg("watch")
            .stdout(logf.try_clone().unwrap())
            .stderr(logf)
            .spawn()
            .unwrap(),
    );
    let log = || std::fs::read_to_string(dir.join("watch.log")).unwrap_or_default();
    let wait = |what: &str, f: &dyn Fn() -> bool| {
        let start = Instant::now();
        while !f() {
            assert!(
                start.elapsed() < Duration::from_secs(180),
                "timed out waiting for {what}:\n{}",
                log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait("the watcher", &|| log().contains("] watching "));
    write_pattern(&dir.join("staged.png"), 44, 30);
    std::fs::rename(dir.join("staged.png"), dir.join("inbox/photo.png")).unwrap();
    let want = dir.join("out/photo__m.png");
    wait("the output", &|| want.exists());
    let img = image::open(&want).unwrap();
    assert_eq!((img.width(), img.height()), (44, 30));
    let rs = runs(&data);
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].kind(), "apply");
}
