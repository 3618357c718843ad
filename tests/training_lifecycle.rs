//! A training finishes exactly once and never loses its weights: stops at
//! a checkpoint, kills around the save, failed saves, two runs of one name,
//! resumes with other settings or another -o, a dataset changed after
//! queueing. Tiny sizes (32 px crops of 48 px photos, width 0.25).

use crate::util::atelier_in;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use atelier::engine::arbitrary::train::ArbTrainSpec;
use atelier::engine::fast::dataset::Dataset;
use atelier::engine::fast::train::{train, TrainProgress, TrainSpec};
use atelier::engine::fast::transformer::{Arch, Norm};
use atelier::engine::infra::flow::Flow;
use atelier::engine::infra::sink::Sink;
use atelier::engine::nets::vgg::{Pooling, Vgg19};
use atelier::engine::nets::weights::Weights;
use atelier::engine::Error;
use atelier::jobs::Outcome;
use atelier::queue::{Filter, Run, Status, Store};

use crate::util::{root, wait_until, weights_path};

const STYLE: &str = "styles/36029.jpg";

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn dataset(dir: &Path) -> PathBuf {
    crate::util::small_photos(dir)
}

/// The tiny training settings, as command-line flags.
fn tiny(ds: &Path, iterations: u64, every: u64) -> Vec<String> {
    let mut v: Vec<String> = ["--size", "32", "--batch", "1", "--width", "0.25"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.extend([
        "--dataset".to_string(),
        ds.display().to_string(),
        "--iterations".into(),
        iterations.to_string(),
        "--checkpoint-every".into(),
        every.to_string(),
        "--preview-every".into(),
        every.to_string(),
    ]);
    v
}

fn queue_train(data: &Path, ds: &Path, name: &str, iterations: u64, every: u64, extra: &[&str]) {
    let out = atelier_in(data)
        .args(["queue", "add", "train", STYLE, "--name", name])
        .args(tiny(ds, iterations, every))
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

fn worker(data: &Path) -> Command {
    let mut c = atelier_in(data);
    c.args([
        "worker",
        "--exit-when-idle",
        "--device",
        "cpu",
        "--log-every",
        "1",
    ]);
    c
}

fn run(data: &Path, id: i64) -> Run {
    Store::open(data).unwrap().get(id).unwrap()
}

fn user_models(data: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(data.join("models"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A child process, killed and reaped when dropped.
struct Reaped(Option<Child>);

impl Reaped {
    fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `c` (its standard output dropped: a long log would fill the pipe).
fn spawn(mut c: Command) -> Reaped {
    Reaped(Some(
        c.stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ))
}

/// Waits for the child to end; its output.
fn finish(mut r: Reaped, limit: Duration) -> Output {
    let mut c = r.0.take().unwrap();
    wait_until("the process to end", limit, || {
        c.try_wait().unwrap().is_some()
    });
    c.wait_with_output().unwrap()
}

/// Stops at its first checkpoint from `checkpoint` (as the worker's sink
/// does for a run taken over by another worker or cancelled).
struct StopAtCheckpoint {
    iterations: Vec<u64>,
    checkpoints: Vec<u64>,
}

impl Sink<TrainProgress> for StopAtCheckpoint {
    fn progress(&mut self, p: &TrainProgress) -> atelier::engine::Result<Flow> {
        self.iterations.push(p.iteration);
        Ok(Flow::Continue)
    }

    fn checkpoint(&mut self, iteration: usize, _path: &Path) -> Result<Flow, Error> {
        self.checkpoints.push(iteration as u64);
        Ok(Flow::Stop)
    }
}

#[test]
fn a_stop_asked_at_a_checkpoint_ends_the_training_there_without_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let spec = TrainSpec {
        style: root().join(STYLE),
        dataset: dataset(dir.path()),
        size: 32,
        style_size: 32,
        batch: 1,
        iterations: 8,
        arch: Arch {
            norm: Norm::Instance,
            width: 0.25,
        },
        checkpoint_every: 2,
        preview_every: 0,
        ..TrainSpec::default()
    };
    let vgg = Vgg19::new(
        &Weights::load(&weights_path()).unwrap(),
        Pooling::Max,
        tch::Device::Cpu,
    )
    .unwrap();
    let mut obs = StopAtCheckpoint {
        iterations: Vec::new(),
        checkpoints: Vec::new(),
    };
    let ck = dir.path().join("ck.safetensors");
    let r = train(&spec, &vgg, &ck, None, &mut obs);
    assert!(matches!(r, Err(Error::Cancelled)), "{:?}", r.err());
    assert_eq!(obs.checkpoints, vec![2]);
    assert_eq!(obs.iterations, vec![1, 2]);
    // The checkpoint stays: the run can be resumed by whoever owns it.
    let resume = atelier::engine::fast::train::read_resume(&ck).unwrap();
    assert_eq!(resume.iteration, 2);
}

#[test]
fn an_adain_training_stopped_at_a_checkpoint_ends_there_without_a_decoder() {
    use atelier::engine::arbitrary::model_file::Method;
    use atelier::engine::arbitrary::train::{prepare, resumable_iteration, train};
    let dir = tempfile::tempdir().unwrap();
    let spec = ArbTrainSpec {
        checkpoint_every: 2,
        ..crate::arbitrary::tiny_spec(Method::Adain, 4, &dataset(dir.path()), 8)
    };
    let w = Weights::load(&weights_path()).unwrap();
    let model = prepare(&spec, None, &w, tch::Device::Cpu).unwrap();
    let mut obs = StopAtCheckpoint {
        iterations: Vec::new(),
        checkpoints: Vec::new(),
    };
    let ck = dir.path().join("ck.safetensors");
    let r = train(&spec, model, &ck, false, &mut obs);
    assert!(matches!(r, Err(Error::Cancelled)), "{:?}", r.err());
    // No iteration after the stop, so no further checkpoint either.
    assert_eq!(obs.checkpoints, vec![2]);
    assert_eq!(obs.iterations, vec![1, 2]);
    assert_eq!(resumable_iteration(&ck, &spec).unwrap(), 2);
}

#[test]
fn a_queued_training_taken_over_at_a_checkpoint_saves_no_model() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ds = dataset(tmp.path());
    queue_train(&data, &ds, "taken", 400, 2, &[]);
    let w = spawn(worker(&data));
    let store = Store::open(&data).unwrap();
    wait_until("a checkpoint", Duration::from_secs(300), || {
        !store.checkpoints(1).unwrap_or_default().is_empty()
    });
    // Another worker has the run now (as after a lease expired elsewhere).
    let db = rusqlite::Connection::open(data.join("atelier.db")).unwrap();
    db.execute("UPDATE runs SET worker = 'elsewhere:1' WHERE id = 1", [])
        .unwrap();
    let out = finish(w, Duration::from_secs(300));
    let r = run(&data, 1);
    assert_ne!(r.status, Status::Done, "{}", text(&out));
    let step = store.samples(1).unwrap().last().map_or(0, |s| s.eval);
    assert!(step < 400, "trained to the end: {step}");
    assert!(user_models(&data).is_empty(), "{:?}", user_models(&data));
}

#[test]
fn a_worker_killed_right_after_saving_the_model_finishes_the_run_with_that_model() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ds = dataset(tmp.path());
    queue_train(&data, &ds, "once", 6, 2, &[]);
    let crashed = worker(&data)
        .env("ATELIER_TEST_CRASH_AT", "train-model-saved")
        .output()
        .unwrap();
    assert!(!crashed.status.success(), "{}", text(&crashed));
    assert_eq!(user_models(&data), vec!["once.safetensors"]);
    assert_ne!(run(&data, 1).status, Status::Done);
    // The next worker takes the run back: the saved model is its result,
    // with no training again and no second model.
    let out = worker(&data).output().unwrap();
    let log = text(&out);
    let r = run(&data, 1);
    assert_eq!(r.status, Status::Done, "{log}\n{:?}", r.error);
    assert_eq!(user_models(&data), vec!["once.safetensors"], "{log}");
    assert!(!log.contains("run 1: step 1:"), "trained again:\n{log}");
    let Some(Outcome::Train(o)) = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert_eq!(o.iterations, 6);
    assert_eq!(o.path, data.join("models/once.safetensors"));
    let files = Store::open(&data).unwrap().files(1);
    assert!(!files.training_checkpoint().exists());
    assert!(!files.saved_model().exists());
}

#[test]
fn a_training_whose_preview_photo_vanished_still_finishes_with_its_model() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ds = dataset(tmp.path());
    let preview = tmp.path().join("preview.png");
    std::fs::copy(ds.join("1.png"), &preview).unwrap();
    queue_train(
        &data,
        &ds,
        "vanished",
        60,
        2,
        &["--preview", preview.to_str().unwrap()],
    );
    let w = spawn(worker(&data));
    let store = Store::open(&data).unwrap();
    wait_until("a checkpoint", Duration::from_secs(300), || {
        !store.checkpoints(1).unwrap_or_default().is_empty()
    });
    std::fs::remove_file(&preview).unwrap();
    assert_eq!(run(&data, 1).status, Status::Running, "ended too soon");
    let out = finish(w, Duration::from_secs(600));
    let r = run(&data, 1);
    assert_eq!(r.status, Status::Done, "{}\n{:?}", text(&out), r.error);
    assert_eq!(user_models(&data), vec!["vanished.safetensors"]);
    assert!(store.files(1).output().exists());
}

#[test]
fn a_queued_training_whose_model_cannot_be_saved_keeps_its_final_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ds = dataset(tmp.path());
    queue_train(&data, &ds, "unsaved", 4, 3, &[]);
    // A file where the models folder goes: the save fails (as a read-only
    // folder would; root ignores permissions).
    std::fs::write(data.join("models"), b"not a folder").unwrap();
    let out = worker(&data).output().unwrap();
    let r = run(&data, 1);
    assert_eq!(r.status, Status::Failed, "{}", text(&out));
    let error = r.error.unwrap_or_default();
    assert!(error.contains("the trained weights are kept in"), "{error}");
    let ck = Store::open(&data).unwrap().files(1).training_checkpoint();
    let at = atelier::engine::fast::train::read_resume(&ck).unwrap();
    assert_eq!(at.iteration, 4, "the final iteration's weights");
}

fn cli_train(data: &Path, ds: &Path, out: &str, iterations: u64, extra: &[&str]) -> Command {
    let mut c = atelier_in(data);
    c.args([
        "train",
        STYLE,
        "--device",
        "cpu",
        "--log-every",
        "1",
        "-o",
        out,
    ])
    .args(tiny(ds, iterations, 2))
    .args(extra);
    c
}

#[test]
fn a_command_line_training_whose_save_fails_resumes_into_its_model() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ds = dataset(tmp.path());
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("models"), b"not a folder").unwrap();
    let first = cli_train(&data, &ds, "kept", 4, &[]).output().unwrap();
    assert!(!first.status.success());
    let err = String::from_utf8_lossy(&first.stderr).into_owned();
    assert!(err.contains("the trained weights are kept in"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    std::fs::remove_file(data.join("models")).unwrap();
    let again = cli_train(&data, &ds, "kept", 4, &["--resume"])
        .output()
        .unwrap();
    let log = text(&again);
    assert!(again.status.success(), "{log}");
    assert!(log.contains("resuming at iteration 4"), "{log}");
    assert!(!log.contains("iter 1/4"), "trained again:\n{log}");
    assert_eq!(user_models(&data), vec!["kept.safetensors"]);
}

#[test]
fn two_command_line_trainings_of_one_name_cannot_run_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ds = dataset(tmp.path());
    let first = spawn(cli_train(&data, &ds, "same", 400, &[]));
    let ck = data.join("training/same.checkpoint.safetensors");
    wait_until(
        "the first run's checkpoint",
        Duration::from_secs(300),
        || ck.exists(),
    );
    // Frozen (still holding its lock) so that its checkpoint stays near the
    // first one while the second starts, whatever the machine's speed.
    assert_eq!(
        unsafe { libc::kill(first.id() as libc::pid_t, libc::SIGSTOP) },
        0
    );
    let second = cli_train(&data, &ds, "same", 4, &[]).output().unwrap();
    assert!(!second.status.success());
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains("another `atelier train` is training 'same'"),
        "{err}"
    );
    drop(first);
    // Killed: its lock goes with it, and --resume continues its checkpoint.
    let resumed = cli_train(&data, &ds, "same", 12, &["--resume"])
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", text(&resumed));
}

#[test]
fn a_resume_with_other_settings_names_them_before_saying_it_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ds = dataset(tmp.path());
    let first = spawn(cli_train(&data, &ds, "first", 400, &[]));
    let ck = data.join("training/first.checkpoint.safetensors");
    wait_until("a checkpoint", Duration::from_secs(300), || ck.exists());
    // SIGINT: the run stops at its next iteration with a checkpoint.
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(first.id() as i32, libc::SIGINT) };
    let stopped = finish(first, Duration::from_secs(300));
    assert_eq!(stopped.status.code(), Some(130), "{}", text(&stopped));
    let at = atelier::engine::fast::train::read_resume(&ck)
        .unwrap()
        .iteration;
    assert!((2..400).contains(&at), "{at}");

    let lr = cli_train(&data, &ds, "first", 400, &["--resume", "--lr", "0.5"])
        .output()
        .unwrap();
    assert!(!lr.status.success());
    let log = text(&lr);
    assert!(log.contains("lr 0.001 then, 0.5 now"), "{log}");
    assert!(!log.contains("resuming at"), "{log}");

    let short = cli_train(&data, &ds, "first", 1, &["--resume"])
        .output()
        .unwrap();
    assert!(!short.status.success());
    let log = text(&short);
    assert!(
        log.contains(&format!("at iteration {at}, past --iterations 1")),
        "{log}"
    );
    assert!(!log.contains("resuming at"), "{log}");

    // Another -o finds the checkpoint by its settings.
    let other = cli_train(&data, &ds, "other", at + 2, &["--resume"])
        .output()
        .unwrap();
    let log = text(&other);
    assert!(other.status.success(), "{log}");
    assert!(
        log.contains(&format!("resuming at iteration {at} from")),
        "{log}"
    );
    assert_eq!(user_models(&data), vec!["other.safetensors"]);
}

#[test]
fn a_training_refuses_the_name_of_a_bundled_model() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ds = dataset(tmp.path());
    for name in ["adain", "irises"] {
        let out = cli_train(&data, &ds, name, 2, &[]).output().unwrap();
        assert!(!out.status.success(), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("a bundled model has that name"),
            "{name}: {err}"
        );
    }
    let out = atelier_in(&data)
        .args([
            "train",
            "--style",
            STYLE,
            "--extend",
            "cin-eight",
            "-o",
            "cin-eight",
        ])
        .args(tiny(&ds, 2, 2))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("a bundled model has that name"), "{err}");
    assert!(user_models(&data).is_empty());
}

#[test]
fn a_training_cleans_up_the_half_written_files_of_a_killed_one() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ds = dataset(tmp.path());
    let work = data.join("training");
    std::fs::create_dir_all(&work).unwrap();
    let part = work.join(".atelier-AbC123.part");
    std::fs::write(&part, vec![0u8; 4096]).unwrap();
    let out = cli_train(&data, &ds, "clean", 2, &[]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!part.exists());
}

#[test]
fn a_dataset_changed_after_queueing_fails_the_run_and_a_rerun_records_it_anew() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let ds = dataset(tmp.path());
    queue_train(&data, &ds, "changed", 2, 2, &[]);
    std::fs::copy(ds.join("0.png"), ds.join("3.png")).unwrap();
    let out = worker(&data).output().unwrap();
    let r = run(&data, 1);
    assert_eq!(r.status, Status::Failed, "{}", text(&out));
    let error = r.error.unwrap_or_default();
    assert!(
        error.contains("the dataset") && error.contains("changed since the run was queued"),
        "{error}"
    );
    assert!(user_models(&data).is_empty());
    let rerun = atelier_in(&data)
        .args(["runs", "rerun", "1"])
        .output()
        .unwrap();
    assert!(rerun.status.success(), "{}", text(&rerun));
    let out = worker(&data).output().unwrap();
    let runs = Store::open(&data)
        .unwrap()
        .list(&Filter::default())
        .unwrap();
    let second = runs.iter().find(|r| r.id == 2).unwrap();
    assert_eq!(second.status, Status::Done, "{}", text(&out));
}

#[test]
fn a_folder_of_tiny_images_is_not_said_to_hold_no_images() {
    let dir = tempfile::tempdir().unwrap();
    image::RgbImage::new(1, 1)
        .save(dir.path().join("dot.png"))
        .unwrap();
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let e = Dataset::scan(dir.path()).err().unwrap().to_string();
    assert!(e.contains("1 image(s) smaller than"), "{e}");
    assert!(e.contains("1 other files skipped"), "{e}");
}
