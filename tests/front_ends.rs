//! Every front end builds an apply through the apply kind's one builder: an
//! MSG-Net with a painting it was not trained on works from `atelier apply`,
//! `queue add apply` (run by a worker), a drop-folder rule and Compose, and
//! one bad request gets the same sentence from each.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use atelier::engine::fast::models::ModelLibrary;
use atelier::jobs::{Job, Outcome};
use atelier::queue::{Filter, Status, Store};
use atelier::tui::lib_item::load_models;
use atelier::tui::panes::compose::{ComposeState, Kind, MarkedStyle};
use atelier::tui::panes::library::LibItem;
use atelier::watch::{Rule, RuleConfig};

use crate::util::{atelier_in, error_of, msg_net, root, stdout_ok, worker_config, write_pattern};

/// The sentence every front end refuses an unknown painting with.
const UNKNOWN: &str = "invalid style: 'no-such-painting' is neither a style of 'duo' (0:s0, 1:s1) nor a painting in the library or a file";

/// A painting none of the test models was trained on.
fn unseen() -> PathBuf {
    root().join("styles/36131.jpg")
}

/// A small MSG-Net `duo` with two styles (s0, s1) in `data`'s models
/// (random weights: any output will do).
fn duo(data: &Path) {
    msg_net(&data.join("models/duo.safetensors"));
}

struct Setup {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    data: PathBuf,
    photo: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let data = dir.join("data");
    duo(&data);
    let photo = dir.join("photo.png");
    write_pattern(&photo, 40, 32);
    Setup {
        _dir: tmp,
        dir,
        data,
        photo,
    }
}

fn models(s: &Setup) -> ModelLibrary {
    ModelLibrary::new(root().join("models"), s.data.join("models"))
}

/// A `model = "duo"` rule over an inbox in `s` with `styles`.
fn rule(s: &Setup, styles: &[String]) -> Result<Rule, String> {
    std::fs::create_dir_all(s.dir.join("inbox")).unwrap();
    let text = format!(
        "inbox = {:?}\noutput = {:?}\nmodel = \"duo\"\nstyles = {styles:?}\n",
        s.dir.join("inbox").display().to_string(),
        s.dir.join("out").display().to_string(),
    );
    let c: RuleConfig = toml::from_str(&text).unwrap();
    Rule::resolve(&c, Default::default(), &root().join("styles"), &models(s))
        .map_err(|e| e.to_string())
}

/// Compose with `duo`, the photo, and `painting` marked (if any).
fn compose(s: &Setup, painting: Option<&Path>) -> ComposeState {
    let mut c = ComposeState::new(Default::default());
    c.kind = Kind::Apply;
    c.content = Some(LibItem::from_path(&s.photo));
    c.model = load_models(&models(s))
        .into_iter()
        .find(|m| m.name == "duo");
    assert!(c.model.as_ref().is_some_and(|m| m.msg), "duo is an MSG-Net");
    c.styles = painting
        .map(|p| MarkedStyle {
            item: LibItem::from_path(p),
            weight: 1.0,
        })
        .into_iter()
        .collect();
    c
}

#[test]
fn an_msg_net_takes_an_unseen_painting_from_every_front_end() {
    let s = setup();
    let painting = unseen().display().to_string();
    // (a) The one-shot command.
    let out = s.dir.join("cli.png");
    stdout_ok(
        atelier_in(&s.data)
            .args(["apply", "duo"])
            .arg(&s.photo)
            .args(["--style", &painting, "-o"])
            .arg(&out),
    );
    assert!(out.exists());
    // (b) The queue.
    stdout_ok(
        atelier_in(&s.data)
            .args(["queue", "add", "apply", "duo"])
            .arg(&s.photo)
            .args(["--style", &painting]),
    );
    let store = Store::open(&s.data).unwrap();
    // (c) A drop-folder rule, for an arrival.
    let r = rule(&s, std::slice::from_ref(&painting)).unwrap();
    let arrival =
        atelier::jobs::Input::checked(atelier::jobs::Role::Content, None, &s.photo, 1 << 26)
            .unwrap();
    for w in r.watched_runs(arrival) {
        store.add_job(&w.job, &w.inputs, 0).unwrap();
    }
    // (d) Compose, with the painting marked.
    for run in compose(&s, Some(&unseen())).runs().unwrap() {
        let Job::Apply(mut spec) = run.job else {
            panic!("not an apply: {:?}", run.job)
        };
        let inputs = spec.inputs().unwrap();
        store.add_job(&Job::Apply(spec), &inputs, 0).unwrap();
    }
    atelier::queue::worker::Worker::new(Store::open(&s.data).unwrap(), worker_config())
        .run(&AtomicBool::new(false), &mut |_| {})
        .unwrap();
    let runs = store.list(&Filter::default()).unwrap();
    assert_eq!(
        runs.len(),
        3,
        "one run each from the queue, the rule, Compose"
    );
    for r in &runs {
        assert_eq!(r.status, Status::Done, "run {}: {:?}", r.id, r.error);
        let Some(Job::Apply(spec)) = r.job() else {
            panic!("not an apply")
        };
        assert_eq!(spec.label(), "duo-36131", "named after the painting");
        assert!(
            r.inputs.iter().any(|i| i.path == unseen()),
            "the painting is an input of run {}",
            r.id
        );
        let Some(Outcome::Apply(o)) = &r.outcome else {
            panic!("no outcome")
        };
        assert!(o.outputs.iter().all(|p| p.exists()), "{o:?}");
    }
}

#[test]
fn an_unknown_painting_is_refused_with_one_sentence_by_every_front_end() {
    let s = setup();
    let bad = "no-such-painting";
    let cli = error_of(
        atelier_in(&s.data)
            .args(["apply", "duo"])
            .arg(&s.photo)
            .args(["--style", bad, "-o"])
            .arg(s.dir.join("o.png")),
    );
    assert_eq!(cli, UNKNOWN);
    let queue = error_of(
        atelier_in(&s.data)
            .args(["queue", "add", "apply", "duo"])
            .arg(&s.photo)
            .args(["--style", bad]),
    );
    assert_eq!(queue, UNKNOWN);
    let e = rule(&s, &[bad.to_string()]).unwrap_err();
    assert!(e.contains(UNKNOWN), "{e}");
    let mut c = compose(&s, None);
    c.apply_mix = bad.into();
    let e = c.runs().unwrap_err();
    assert_eq!(e, UNKNOWN);
    assert!(!s.dir.join("o.png").exists());
    assert!(Store::open(&s.data)
        .unwrap()
        .list(&Filter::default())
        .unwrap()
        .is_empty());
}
