//! Queue, History and Compare with one run of every kind: each row and
//! side panel shows the kind and its own parameters, never a Gatys spec for
//! a training, an apply, an analogy or a video; Live and History of a video
//! run show its frames.

use atelier::engine::analogy::AnalogySpec;
use atelier::engine::fast::train::TrainSpec;
use atelier::engine::gatys::spec::StyleRef;
use atelier::jobs::{apply, texture, train, video, Job, Outcome, Progress};
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

/// A video of the clip `pan` with Gatys and irises, 64 px, 48 frames.
fn video_run(id: i64, status: Status) -> Run {
    let mut gatys = spec();
    gatys.size = 64;
    gatys.steps = 20;
    gatys.styles[0].path = "/library/irises.png".into();
    let job = Job::Video(video::Spec {
        input: "/clips/pan.mp4".into(),
        method: video::Method::Gatys(gatys),
        temporal_weight: 1e3,
        encoding: Default::default(),
        container: Some("mp4".into()),
        frames: 48,
    });
    let done = (status == Status::Done).then(|| {
        Outcome::Video(video::Outcome {
            frames: 48,
            width: 64,
            height: 36,
            resumed: 0,
            seconds: 96.0,
            video: Some(format!("/data/runs/{id}/video.mp4").into()),
            fps: Some(24.0),
        })
    });
    Run {
        outcome: done,
        ..with_job(id, status, job)
    }
}

/// A stylize, texture, train (30 iterations of 128 px crops), apply,
/// analogy and video run, newest first.
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
        pixel_limit: 1 << 24,
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
        regions: None,
        content_mask: None,
    };
    let analogy = AnalogySpec {
        size: 224,
        iterations: 10,
        ..AnalogySpec::default()
    };
    vec![
        Run {
            inputs: run(6, Status::Done, "pan", "irises", None).inputs,
            ..video_run(6, Status::Done)
        },
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
    // The training run (fourth row) selected: its side panel.
    press(&mut a, "5jjj");
    let t = render(&mut a, 120, 30);
    let s = screen(&t);
    for kind in ["stylize", "texture", "train", "apply", "analogy", "video"] {
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
    press(&mut a, "5jjmjC");
    let t = render(&mut a, 120, 30);
    let s = screen(&t);
    assert!(s.contains("model irises-fast"), "{s}");
    assert!(s.contains("crop 128 px"), "{s}");
    assert!(s.contains("content chelsea"), "{s}");
}

#[test]
fn history_shows_a_video_run_s_clip_and_its_middle_first_and_last_frames() {
    let mut a = app_with_every_kind();
    // The video run is the newest: the first row.
    press(&mut a, "5");
    let t = render(&mut a, 120, 36);
    let s = screen(&t);
    assert!(s.contains("frames 48 · 24 fps · 2.0 s"), "{s}");
    assert!(s.contains("temporal weight 1000"), "{s}");
    assert!(!s.contains("lbfgs"), "a Gatys spec for a video:\n{s}");
    let r = a.snap.history[0].clone();
    let frame = |n: &str| std::path::PathBuf::from(format!("/data/runs/6/frames/{n}.png"));
    // The run's image is its middle frame (of 48: the 25th), not its output.
    assert_eq!(
        atelier::tui::panes::live::run_image(&a, &r),
        Some(frame("000025"))
    );
    let view = atelier::tui::panes::views::view(&a, &r);
    let extra: Vec<_> = view.extra_images.iter().map(|(_, p)| p.clone()).collect();
    assert_eq!(extra, [frame("000001"), frame("000048")]);
    insta::assert_snapshot!(t.backend());
    // Opened: what it is and made, and the three frames.
    press(&mut a, "\n");
    let t = render(&mut a, 120, 36);
    let s = screen(&t);
    assert!(s.contains("video of pan, 64 px, 20 steps"), "{s}");
    for title in [" middle frame ", " first frame ", " last frame "] {
        assert!(s.contains(title), "{s}");
    }
    insta::assert_snapshot!("history_opens_a_video_run", t.backend());
}

#[test]
fn live_shows_a_video_run_s_frame_loss_fps_eta_and_current_frame() {
    let mut a = app(true);
    let r = Run {
        inputs: run(7, Status::Running, "pan", "irises", None).inputs,
        ..video_run(7, Status::Running)
    };
    a.on_data(Snapshot {
        queue: vec![r.clone()],
        history: vec![r.clone()],
        data_dir: "/data".into(),
        ..Snapshot::default()
    });
    a.outbox.clear();
    // 12 frames done in 6 s; the 13th at evaluation 30 of 50.
    a.progress.insert(
        7,
        Progress::Video(video::Progress {
            frame: 12,
            of: 48,
            eval: 30,
            evals: 50,
            loss: Some(1.234e5),
            fresh: 12,
            elapsed: std::time::Duration::from_secs(6),
        }),
    );
    press(&mut a, "4");
    let t = render(&mut a, 110, 30);
    let s = screen(&t);
    assert!(
        s.contains("frame 13 of 48 · step 30/50 · loss 1.2340e5"),
        "{s}"
    );
    assert!(s.contains("2.00 fps · ETA 18 s"), "{s}");
    // The image is the frame finished last (the 12th).
    assert!(s.contains(" current frame "), "{s}");
    assert_eq!(
        atelier::tui::panes::live::run_image(&a, &r),
        Some("/data/runs/7/frames/000012.png".into())
    );
    insta::assert_snapshot!(t.backend());
}
