//! Job kinds through the store, the worker and the CLI: the schema 4 → 5
//! migration, rows this build cannot read, a stylize and a texture run side
//! by side (killed and resumed), and a stale run re-claimed by a second worker.

use crate::util::atelier_in;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use atelier::engine::gatys::spec::{RunSpec, StyleRef};
use atelier::jobs::stylize::{FinalLosses, Outcome as StylizeOutcome};
use atelier::jobs::{Job, Outcome};
use atelier::queue::{Filter, Input, Status, Store, StoreError, StoredJob};

use crate::util::{json_output, root, wait_until};

pub(crate) fn worker(data: &Path) -> Child {
    atelier_in(data)
        .args([
            "worker",
            "--exit-when-idle",
            "--device",
            "cpu",
            "--log-every",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn runs_json(data: &Path) -> Vec<serde_json::Value> {
    serde_json::from_value(json_output(atelier_in(data).args(["runs", "ls", "--json"]))).unwrap()
}

fn queue_add(data: &Path, args: &[&str]) -> i64 {
    let out = ok(&atelier_in(data)
        .args(["queue", "add"])
        .args(args)
        .output()
        .unwrap());
    out.trim()
        .strip_prefix("queued run ")
        .unwrap_or_else(|| panic!("{out}"))
        .parse()
        .unwrap()
}

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

/// A database as the release before job kinds wrote it (schema 4).
fn write_v4_db(dir: &Path) {
    let s = spec();
    let spec_json = serde_json::to_string(&s).unwrap();
    let inputs = serde_json::to_string(&[
        Input::hashed(
            atelier::jobs::Role::Content,
            Some("chelsea".into()),
            s.content.clone(),
            "a".repeat(64),
        ),
        Input::hashed(
            atelier::jobs::Role::Style,
            None,
            s.styles[0].path.clone(),
            "b".repeat(64),
        ),
    ])
    .unwrap();
    let sql = std::fs::read_to_string(root().join("tests/fixtures/store_v4.sql"))
        .unwrap()
        .replace("@SPEC@", &spec_json)
        .replace("@INPUTS@", &inputs);
    let conn = rusqlite::Connection::open(dir.join("atelier.db")).unwrap();
    conn.execute_batch(&sql).unwrap();
}

#[test]
fn a_schema_4_database_migrates_and_lists_the_same_runs_as_stylize() {
    let dir = tempfile::tempdir().unwrap();
    write_v4_db(dir.path());
    let store = Store::open(dir.path()).unwrap();
    let runs = store.list(&Filter::default()).unwrap();
    let ids: Vec<i64> = runs.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![3, 2, 1]);
    assert!(runs.iter().all(|r| r.kind() == "stylize"));
    assert!(
        runs.iter().all(|r| r.spec() == Some(&spec())),
        "the spec survives"
    );
    let done = store.get(1).unwrap();
    assert_eq!(done.status, Status::Done);
    assert_eq!(
        done.outcome,
        Some(Outcome::Stylize(StylizeOutcome {
            evals: 3,
            best_eval: 2,
            stop: "steps".into(),
            rollbacks: 0,
            losses: FinalLosses {
                style: 1.5,
                content: 2.5,
                tv: 0.5,
                total: 4.5
            },
        }))
    );
    assert_eq!(done.input_name(atelier::jobs::Role::Content), "chelsea");
    let samples = store.samples(1).unwrap();
    assert_eq!(samples.len(), 3);
    assert_eq!(
        (samples[1].eval, samples[1].style, samples[1].total),
        (2, 1.5, 4.5)
    );
    assert_eq!(
        store.samples_since(1, 2).unwrap().len(),
        4,
        "one step, four series"
    );
    let interrupted = store.get(2).unwrap();
    assert_eq!(interrupted.status, Status::Interrupted);
    assert_eq!(interrupted.priority, 5);
    assert_eq!(interrupted.resume_step, Some(7));
    // Another process sees the same, with kinds.
    let seen = runs_json(dir.path());
    let kinds: Vec<&str> = seen.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["stylize"; 3]);
    assert_eq!(seen[2]["outcome"]["losses"]["total"], 4.5);
}

#[test]
fn a_row_this_build_cannot_read_is_listed_not_fatal_and_never_claimed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let s = spec();
    let good = store.add(&s, &[], 0).unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("atelier.db")).unwrap();
    conn.execute_batch(
        "INSERT INTO runs (created, status, priority, position, kind, spec, inputs)
         VALUES (1.0, 'queued', 9, 0, 'fast-style', '{\"model\": \"x\"}', '[]');
         INSERT INTO runs (created, status, priority, position, kind, spec, inputs)
         VALUES (2.0, 'done', 0, 0, 'stylize', '{\"size\": \"huge\"}', '[]');",
    )
    .unwrap();
    let runs = store.list(&Filter::default()).unwrap();
    assert_eq!(runs.len(), 3);
    let unknown: Vec<&str> = runs
        .iter()
        .filter(|r| matches!(r.job, StoredJob::Unknown(_)))
        .map(|r| r.kind())
        .collect();
    assert_eq!(unknown, vec!["stylize", "fast-style"]);
    assert_eq!(store.queue().unwrap().len(), 2);
    // The CLI lists them all, with their kinds.
    let seen = runs_json(dir.path());
    let kinds: Vec<&str> = seen.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["stylize", "fast-style", "stylize"]);
    assert!(ok(&atelier_in(dir.path())
        .args(["runs", "ls"])
        .output()
        .unwrap())
    .contains("fast-style"));
    // The higher-priority run of an unknown kind is left for a build that knows it.
    let claimed = store.claim("w:1", "cpu").unwrap().unwrap();
    assert_eq!(claimed.id, good);
    assert!(store.claim("w:1", "cpu").unwrap().is_none());
}

#[test]
fn a_stylize_and_a_texture_run_from_the_cli_are_run_by_one_worker() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let chelsea = root().join("contents/chelsea.png");
    let style = root().join("styles/436535.jpg");
    let (c, s) = (chelsea.to_str().unwrap(), style.to_str().unwrap());
    let a = queue_add(
        d,
        &[c, s, "--size", "32", "--steps", "2", "--device", "cpu"],
    );
    let b = queue_add(
        d,
        &[
            "stylize", c, s, "--size", "32", "--steps", "2", "--device", "cpu",
        ],
    );
    let t = queue_add(
        d,
        &[
            "texture", s, "--size", "40", "--steps", "3", "--seed", "7", "--square",
        ],
    );
    let out = ok(&worker(d).wait_with_output().unwrap());
    for id in [a, b, t] {
        assert!(out.contains(&format!("run {id}: done")), "{out}");
    }
    let seen = runs_json(d);
    let kind_of = |id: i64| {
        seen.iter()
            .find(|r| r["id"] == id)
            .map(|r| (r["kind"].as_str().unwrap().to_string(), r["status"].clone()))
            .unwrap()
    };
    assert_eq!(kind_of(a), ("stylize".into(), "done".into()));
    assert_eq!(kind_of(b), ("stylize".into(), "done".into()));
    assert_eq!(kind_of(t), ("texture".into(), "done".into()));
    let store = Store::open(d).unwrap();
    let r = store.get(t).unwrap();
    let Some(Job::Texture(spec)) = r.job() else {
        panic!("{:?}", r.job)
    };
    assert_eq!(
        (spec.gatys.size, spec.gatys.steps, spec.gatys.seed),
        (40, 3, 7)
    );
    assert_eq!(spec.gatys.content_weight, 0.0);
    assert_eq!(r.inputs.len(), 1);
    let img = image::open(r.output.unwrap()).unwrap();
    assert_eq!((img.width(), img.height()), (40, 40));
    let shown = json_output(atelier_in(d).args(["runs", "show", &t.to_string(), "--json"]));
    assert_eq!(shown["run"]["kind"], "texture");
    // L-BFGS may evaluate more than once a step, and a rolled-back
    // evaluation has no sample.
    let samples = shown["samples"].as_array().unwrap().len() as i64;
    let evals = shown["run"]["outcome"]["evals"].as_i64().unwrap();
    assert!(
        samples > 0 && samples <= evals,
        "{samples} samples, {evals} evals"
    );
}

/// Kills a worker once `id` has a resume point; a second worker must take
/// the run up from there and finish it.
fn killed_then_resumed(d: &Path, id: i64) {
    let store = Store::open(d).unwrap();
    let mut w = worker(d);
    wait_until("a resume point", Duration::from_secs(120), || {
        store
            .get(id)
            .map(|r| r.resume_step.is_some())
            .unwrap_or(false)
    });
    w.kill().unwrap(); // SIGKILL
    w.wait().unwrap();
    assert_eq!(store.recover(120.0).unwrap(), vec![id]);
    let r = store.get(id).unwrap();
    assert_eq!(r.status, Status::Interrupted);
    let step = r.resume_step.unwrap();
    assert_eq!(
        store.checkpoints(id).unwrap().last().map(|c| c.step),
        Some(step)
    );
    let out = ok(&worker(d).wait_with_output().unwrap());
    assert!(
        out.contains(&format!("run {id}: resumed at step {step}")),
        "{out}"
    );
    let r = store.get(id).unwrap();
    assert_eq!(r.status, Status::Done, "{:?}", r.error);
    assert_eq!(r.attempts, 2);
    assert!(r.output.unwrap().exists());
}

#[test]
fn a_killed_stylize_run_resumes_from_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let c = root().join("contents/chelsea.png");
    let s = root().join("styles/436535.jpg");
    let id = queue_add(
        dir.path(),
        &[
            c.to_str().unwrap(),
            s.to_str().unwrap(),
            "--size",
            "32",
            "--steps",
            "100",
            "--device",
            "cpu",
        ],
    );
    killed_then_resumed(dir.path(), id);
}

#[test]
fn a_killed_texture_run_resumes_from_its_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let s = root().join("styles/436535.jpg");
    let id = queue_add(
        dir.path(),
        &[
            "texture",
            s.to_str().unwrap(),
            "--size",
            "32",
            "--steps",
            "100",
        ],
    );
    killed_then_resumed(dir.path(), id);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.get(id).unwrap().kind(), "texture");
}

#[test]
fn a_stale_run_reclaimed_by_a_second_worker_is_finished_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let first = Store::open(dir.path()).unwrap();
    let second = Store::open(dir.path()).unwrap();
    let s = spec();
    let id = first.add(&s, &[], 0).unwrap();
    let out = dir.path().join("out.png");
    let outcome = Outcome::Stylize(StylizeOutcome {
        evals: 2,
        best_eval: 2,
        stop: "steps".into(),
        rollbacks: 0,
        losses: FinalLosses::default(),
    });
    assert_eq!(first.claim("host-a:1", "cpu").unwrap().unwrap().id, id);
    // Worker a stops beating; b's recovery takes the run back and b claims it.
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(second.recover(0.0).unwrap(), vec![id]);
    second
        .requeue_interrupted(atelier::queue::OnInterrupted::Resume)
        .unwrap();
    assert_eq!(second.claim("host-b:2", "cpu").unwrap().unwrap().id, id);
    // a wakes up: none of its status changes land.
    let refused = |r: Result<(), StoreError>| {
        assert!(matches!(r, Err(StoreError::NotOwner { .. })), "{r:?}");
    };
    refused(first.set_resume_point(id, "host-a:1", &out, 1));
    refused(first.finish_done(id, "host-a:1", &out, &outcome));
    refused(first.finish_failed(id, "host-a:1", "late"));
    refused(first.finish_cancelled(id, "host-a:1"));
    refused(first.requeue(id, "host-a:1"));
    assert_eq!(first.get(id).unwrap().worker.as_deref(), Some("host-b:2"));
    // b finishes it, once.
    second.finish_done(id, "host-b:2", &out, &outcome).unwrap();
    refused(second.finish_done(id, "host-b:2", &out, &outcome));
    refused(second.finish_failed(id, "host-b:2", "twice"));
    let r = first.get(id).unwrap();
    assert_eq!((r.status, r.attempts), (Status::Done, 2));
    assert_eq!(r.error, None);
    assert_eq!(r.outcome, Some(outcome));
}

#[test]
fn loss_samples_read_incrementally_match_a_full_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path()).unwrap();
    let id = store.add(&spec(), &[], 0).unwrap();
    let sample = |eval: i64, total: f64| atelier::queue::Sample {
        eval,
        style: total / 2.0,
        content: total / 4.0,
        tv: total / 4.0,
        total,
        seconds: eval as f64,
    };
    let mut cache = atelier::queue::LossCache::default();
    store
        .add_samples(id, &[sample(1, 8.0), sample(2, 4.0)])
        .unwrap();
    assert_eq!(cache.refresh(&store, id, 1).unwrap().len(), 2);
    store.add_samples(id, &[sample(3, 2.0)]).unwrap();
    assert_eq!(store.samples_since(id, 2).unwrap().len(), 4);
    assert_eq!(
        cache.refresh(&store, id, 1).unwrap(),
        store.samples(id).unwrap().as_slice()
    );
    // A resumed attempt rewrites steps after its resume point: read anew.
    store
        .add_samples(id, &[sample(2, 5.0), sample(3, 3.0)])
        .unwrap();
    let fresh = cache.refresh(&store, id, 2).unwrap().to_vec();
    assert_eq!(fresh, store.samples(id).unwrap());
    assert_eq!(fresh[1].total, 5.0);
}
