//! Queue, History and Compare with one run of every kind: each row and
//! side panel shows the kind and its own parameters, never a Gatys spec for
//! a training, an apply or an analogy.

use atelier::engine::analogy::AnalogySpec;
use atelier::engine::fast::train::TrainSpec;
use atelier::engine::gatys::spec::StyleRef;
use atelier::jobs::{apply, texture, train, Job, Outcome};
use atelier::queue::{Run, Status, StoredJob};
use atelier::tui::data::Snapshot;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use crate::tui::{app, press, render, run, spec};

fn with_job(id: i64, status: Status, job: Job) -> Run {
    Run {
        job: StoredJob::Known(job),
        ..run(id, status, "chelsea", "irises", None)
    }
}

/// A stylize, texture, train (30 iterations of 128 px crops), apply and
/// analogy run, newest first.
fn every_kind() -> Vec<Run> {
    let texture = texture::Spec::new(
        &spec(),
        StyleRef {
            path: "/library/irises.png".into(),
            weight: 1.0,
        },
        false,
    );
    let train = train::Spec {
        name: "irises-fast".into(),
        train: TrainSpec {
            size: 128,
            iterations: 30,
            batch: 2,
            ..TrainSpec::default()
        },
        sample_every: 1,
    };
    let apply = apply::Spec {
        model: "/data/models/irises-fast.safetensors".into(),
        model_name: Some("irises-fast".into()),
        contents: vec!["/library/chelsea.png".into(), "/library/coffee.png".into()],
        size: Some(384),
        pixel_limit: 1 << 26,
        mix: None,
        arbitrary: None,
        msg: Vec::new(),
        style_masks: Vec::new(),
        content_mask: None,
    };
    let analogy = AnalogySpec {
        size: 224,
        iterations: 10,
        ..AnalogySpec::default()
    };
    vec![
        with_job(5, Status::Queued, Job::Analogy(analogy)),
        with_job(4, Status::Done, Job::Apply(apply)),
        Run {
            outcome: Some(Outcome::Train(train::Outcome {
                model: "irises-fast".into(),
                path: "/data/models/irises-fast.safetensors".into(),
                iterations: 30,
                losses: [("total".to_string(), 6.912e5)].into_iter().collect(),
                seconds: 12.0,
            })),
            ..with_job(3, Status::Done, Job::Train(train))
        },
        with_job(2, Status::Done, Job::Texture(texture)),
        with_job(1, Status::Done, Job::Stylize(spec())),
    ]
}

fn screen(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let w = buf.area.width as usize;
    buf.content
        .chunks(w)
        .map(|row| row.iter().map(|c| c.symbol()).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

fn app_with_every_kind() -> atelier::tui::app::App {
    let mut a = app(true);
    let runs = every_kind();
    a.on_data(Snapshot {
        queue: runs.clone(),
        history: runs,
        workers: Vec::new(),
        focus: None,
        data_dir: "/data".into(),
        watch: Vec::new(),
        watcher_running: false,
        memory: None,
        content_size: None,
        ..Snapshot::default()
    });
    a.outbox.clear();
    a
}

#[test]
fn history_shows_each_kind_with_its_own_parameters() {
    let mut a = app_with_every_kind();
    // The training run (third row) selected: its side panel.
    press(&mut a, "5jj");
    let t = render(&mut a, 120, 30);
    let s = screen(&t);
    for kind in ["stylize", "texture", "train", "apply", "analogy"] {
        assert!(s.contains(kind), "no {kind} row:\n{s}");
    }
    assert!(s.contains("crop 128 px"), "{s}");
    assert!(
        s.contains("model irises-fast · crop 128 px · iterations"),
        "{s}"
    );
    assert!(!s.contains("lbfgs"), "a Gatys spec for a training:\n{s}");
    insta::assert_snapshot!(t.backend());
}

#[test]
fn queue_rows_show_each_kinds_size_and_length() {
    let mut a = app_with_every_kind();
    press(&mut a, "3");
    let t = render(&mut a, 120, 20);
    let s = screen(&t);
    let row = |id: &str| {
        s.lines()
            .find(|l| l.trim_start_matches('│').trim_start().starts_with(id))
            .unwrap_or_else(|| panic!("no row {id}:\n{s}"))
            .to_string()
    };
    assert!(
        row("3 ").contains(" 128 ") && row("3 ").contains(" 30 "),
        "{s}"
    );
    assert!(
        row("4 ").contains(" 384 ") && row("4 ").contains(" 2 "),
        "{s}"
    );
    assert!(!row("3 ").contains(" 200 "), "{s}");
    // A training's final loss is a loss too.
    assert!(row("3 ").contains("6.912e5"), "{s}");
    insta::assert_snapshot!(t.backend());
}

#[test]
fn compare_shows_each_runs_kind_parameters_and_inputs() {
    let mut a = app_with_every_kind();
    // Mark the apply run, move to the training run, compare.
    press(&mut a, "5jmjC");
    let t = render(&mut a, 120, 30);
    let s = screen(&t);
    assert!(s.contains("model irises-fast"), "{s}");
    assert!(s.contains("crop 128 px"), "{s}");
    assert!(s.contains("content chelsea"), "{s}");
}
