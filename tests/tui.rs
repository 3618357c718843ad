//! The TUI: panels rendered into ratatui's TestBackend and compared with insta
//! snapshots (images drawn as half-blocks, so they are deterministic), key
//! handling as actions on the state, odd terminal sizes, and an end-to-end run
//! in tmux.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command as Proc;
use std::time::{Duration, Instant};

use atelier::engine::gatys::spec::{RunSpec, StyleRef};
use atelier::jobs::stylize::Outcome as StylizeOutcome;
use atelier::jobs::{Job, Outcome};
use atelier::queue::{FinalLosses, Input, Point, RollbackRecord, Run, Sample, Status, StoredJob};
use atelier::tui::app::{App, Mode};
use atelier::tui::data::{Command, DeviceMemory, Focus, Snapshot};
use atelier::tui::images::{ImageKey, Loaded};
use atelier::tui::keymap::Keymap;
use atelier::tui::panes::compose::estimate::Pace;
use atelier::tui::panes::compose::{Field, Kind};
use atelier::tui::panes::library::{LibItem, ModelItem};
use atelier::tui::tab::Tab;
use atelier::tui::ui;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Size;
use ratatui::Terminal;
use ratatui_image::picker::Picker;
use ratatui_image::Resize;

use crate::util::root;

fn item(name: &str, artist: &str) -> LibItem {
    LibItem {
        name: name.into(),
        title: name.replace('-', " "),
        artist: artist.into(),
        date: if artist.is_empty() {
            String::new()
        } else {
            "1889".into()
        },
        licence: if artist.is_empty() {
            String::new()
        } else {
            "CC0".into()
        },
        path: PathBuf::from(format!("/library/{name}.png")),
    }
}

pub(crate) fn spec() -> RunSpec {
    RunSpec {
        content: "/library/chelsea.png".into(),
        styles: vec![StyleRef {
            path: "/library/irises.png".into(),
            weight: 1.0,
        }],
        size: 256,
        steps: 200,
        ..RunSpec::default()
    }
}

pub(crate) fn run(id: i64, status: Status, content: &str, style: &str, loss: Option<f64>) -> Run {
    let input = |role: atelier::jobs::Role, name: &str| Input {
        role,
        name: Some(name.into()),
        path: format!("/library/{name}.png").into(),
        sha256: "0".repeat(64),
    };
    Run {
        id,
        created: 1_795_000_000.0 + id as f64 * 60.0,
        status,
        priority: 0,
        job: StoredJob::Known(Job::Stylize(spec())),
        inputs: vec![
            input(atelier::jobs::Role::Content, content),
            input(atelier::jobs::Role::Style, style),
        ],
        output: (status == Status::Done).then(|| format!("/data/runs/{id}/output.png").into()),
        device: Some("cpu".into()),
        worker: (status == Status::Running).then(|| "box:42".into()),
        started: None,
        finished: None,
        heartbeat: None,
        outcome: loss.map(|total| {
            Outcome::Stylize(StylizeOutcome {
                evals: 200,
                best_eval: 197,
                stop: "steps done".into(),
                rollbacks: 0,
                losses: FinalLosses {
                    style: total / 3.0,
                    content: total / 2.0,
                    tv: total / 6.0,
                    total,
                },
            })
        }),
        error: (status == Status::Failed).then(|| "content.png: not a readable image".into()),
        cancel_requested: false,
        attempts: 1,
        crashes: 0,
        device_kind: None,
        device_defaults: Default::default(),
        resume_from: None,
        resume_step: None,
    }
}

pub(crate) fn samples(n: i64) -> Vec<Sample> {
    (1..=n)
        .map(|e| {
            let t = 1e8 / (e as f64).powf(1.5) + 2e6;
            Sample {
                eval: e,
                style: t * 0.4,
                content: t * 0.5 + 1e6,
                tv: 5e3,
                total: t + 1e6,
                seconds: e as f64 * 0.8,
            }
        })
        .collect()
}

pub(crate) fn rule(name: &str) -> atelier::watch::RuleState {
    atelier::watch::RuleState {
        name: name.into(),
        inbox: format!("/srv/{name}").into(),
        output: "/srv/out".into(),
        styles: vec!["irises".into(), "wheat-field-with-cypresses".into()],
        preset: Some("preview".into()),
        enabled: true,
        paused: false,
        backend: Some("native".into()),
        arriving: 0,
        counts: atelier::queue::RuleCounts {
            queued: 2,
            done: 7,
            failed: 1,
            delivered: 14,
        },
        failures: vec![atelier::queue::WatchFailure {
            path: format!("/srv/{name}/notes.png").into(),
            reason: "not a readable image (unknown format)".into(),
            time: 1_795_000_000.0,
        }],
        last_error: None,
    }
}

pub(crate) fn app(with_library: bool) -> App {
    let (contents, styles) = if with_library {
        (
            vec![
                item("astronaut", ""),
                item("chelsea", ""),
                item("coffee", ""),
            ],
            vec![
                item("irises", "Vincent van Gogh"),
                item("wheat-field-with-cypresses", "Vincent van Gogh"),
                item("the-harvesters", "Pieter Bruegel the Elder"),
            ],
        )
    } else {
        (Vec::new(), Vec::new())
    };
    App::new(
        Keymap::new(&HashMap::new()).unwrap(),
        contents,
        styles,
        spec(),
    )
}

pub(crate) fn with_runs(mut a: App) -> App {
    let history = vec![
        run(4, Status::Running, "coffee", "irises", None),
        run(3, Status::Failed, "rocket", "irises", None),
        run(
            2,
            Status::Done,
            "chelsea",
            "wheat-field-with-cypresses",
            Some(2.3483e6),
        ),
        run(1, Status::Done, "astronaut", "the-harvesters", Some(4.1e6)),
    ];
    let queue = vec![
        history[0].clone(),
        run(5, Status::Queued, "chelsea", "irises", None),
    ];
    a.on_data(Snapshot {
        queue,
        history,
        // Run 4's worker, on another host, heard from just now.
        workers: vec![atelier::queue::WorkerInfo {
            id: "box:42".into(),
            pid: 42,
            host: "box".into(),
            device: "cpu".into(),
            started: 0.0,
            heartbeat: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64(),
            current_run: Some(4),
        }],
        focus: Some(Focus {
            run: 4,
            samples: samples(120),
            points: Vec::new(),
            rollbacks: Vec::new(),
        }),
        data_dir: "/data".into(),
        watch: Vec::new(),
        watcher_running: false,
        memory: Some(DeviceMemory {
            base: 400 << 20,
            available: Some(6 << 30),
        }),
        content_size: None,
        ..Snapshot::default()
    });
    a.outbox.clear();
    a
}

/// Renders twice: the first frame asks for images, which are then made here
/// (a gradient, as half-blocks) so the second frame shows them.
pub(crate) fn render(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut want: Vec<ImageKey> = Vec::new();
    t.draw(|f| ui::draw(f, app, &mut want)).unwrap();
    let picker = Picker::halfblocks();
    for key in want {
        let img = image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, 128])
        });
        let p = picker
            .new_protocol(
                image::DynamicImage::ImageRgb8(img),
                Size::new(key.cols, key.rows),
                Resize::Scale(None),
            )
            .unwrap();
        app.on_image(Loaded { key, result: Ok(p) });
    }
    let mut again = Vec::new();
    t.draw(|f| ui::draw(f, app, &mut again)).unwrap();
    t
}

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

pub(crate) fn press(a: &mut App, keys: &str) {
    for c in keys.chars() {
        let code = match c {
            '\n' => KeyCode::Enter,
            '\t' => KeyCode::Tab,
            '\x1b' => KeyCode::Esc,
            c => KeyCode::Char(c),
        };
        a.on_key(key(code));
    }
}

#[test]
fn snapshot_empty_library() {
    let mut a = app(false);
    insta::assert_snapshot!(render(&mut a, 100, 24).backend());
}

#[test]
fn snapshot_full_library() {
    let mut a = app(true);
    press(&mut a, "j\nl j ");
    insta::assert_snapshot!(render(&mut a, 100, 24).backend());
}

/// Preview as you browse: with a photo chosen, each painting the cursor
/// stops on is asked for once; the Preview says it is being made, then shows
/// it (or why not); without a photo, or with it off, nothing is asked.
#[test]
fn library_asks_for_a_styled_preview_of_the_chosen_photo_once_per_painting() {
    use atelier::tui::browse::{BrowseDone, Stage};
    let mut a = app(true);
    a.browse_model = Some("adain".into());
    press(&mut a, "l");
    assert_eq!(a.browse_request(), None, "no photo chosen yet");
    press(&mut a, "h\nl");
    let first = a.browse_request().expect("a photo and a painting");
    assert_eq!(first.content, a.compose.content.as_ref().unwrap().path);
    assert_eq!(a.browse_request(), None, "asked already");
    let text = render(&mut a, 100, 24).backend().to_string();
    assert!(text.contains("making"), "{text}");
    press(&mut a, "j");
    let second = a.browse_request().expect("the next painting");
    assert_ne!(second.style, first.style);
    a.browse.insert(BrowseDone {
        key: second.clone(),
        stage: Stage::Model,
        result: Err("model file unreadable".into()),
    });
    let text = render(&mut a, 100, 24).backend().to_string();
    assert!(text.contains("model file unreadable"), "{text}");
    press(&mut a, "k");
    assert_eq!(
        a.browse_request(),
        Some(first.clone()),
        "back: asked again, never made"
    );
    a.browse_model = None;
    press(&mut a, "j");
    assert_eq!(a.browse_request(), None, "off");
}

#[test]
fn snapshot_compose_form() {
    let mut a = app(true);
    press(&mut a, "\nl 2jjj+");
    insta::assert_snapshot!(render(&mut a, 100, 24).backend());
}

/// Compose with each kind the build knows picked in the first row: each
/// shows its own parameter table and says what `r` would queue.
#[test]
fn snapshot_compose_with_each_kind() {
    for kind in Kind::known() {
        let mut a = app(true);
        press(&mut a, "\nl j 2");
        a.compose.set(Field::Kind, kind.name()).unwrap();
        let screen = render(&mut a, 100, 26);
        insta::assert_snapshot!(format!("compose_kind_{}", kind.name()), screen.backend());
    }
}

#[test]
fn compose_texture_kind_queues_textures_of_the_marked_styles() {
    let mut a = app(true);
    // Two styles and no content: a texture needs none.
    press(&mut a, "l j 2l");
    assert_eq!(a.compose.kind, Kind::Texture, "→ on the kind row");
    press(&mut a, "r");
    match a.outbox.last() {
        Some(Command::Enqueue(items)) => {
            assert_eq!(items.len(), 2, "one texture per style");
            for it in items {
                assert!(matches!(it.job, Job::Texture(_)), "{:?}", it.job);
                assert_eq!(it.content_name, None);
            }
            assert_eq!(items[1].style_names, ["wheat-field-with-cypresses"]);
        }
        other => panic!("expected an enqueue, got {other:?}"),
    }
}

/// The video kind takes a typed clip as its content and the marked
/// painting, and queues the video job of them (Gatys, Ruder's default
/// steadiness), or a model's with the model chosen; a clip that is not
/// there is refused in the form.
#[test]
fn compose_video_kind_queues_a_video_of_the_typed_clip() {
    let tmp = tempfile::tempdir().unwrap();
    let clip = tmp.path().join("pan.mp4");
    std::fs::write(&clip, b"not probed until queued").unwrap();
    let mut a = app(true);
    press(&mut a, "l 2");
    a.compose.set(Field::Kind, "video").unwrap();
    press(&mut a, "r");
    assert!(
        !a.outbox.iter().any(|c| matches!(c, Command::Enqueue(_))),
        "no clip yet"
    );
    let missing = a.compose.set(Field::Param(0), "/no/such/clip.mp4");
    assert!(missing.unwrap_err().contains("/no/such/clip.mp4"));
    a.compose
        .set(Field::Param(0), &clip.display().to_string())
        .unwrap();
    press(&mut a, "r");
    match a.outbox.last() {
        Some(Command::Enqueue(items)) => {
            assert_eq!(items.len(), 1, "one video per marked painting");
            let Job::Video(v) = &items[0].job else {
                panic!("{:?}", items[0].job)
            };
            assert_eq!(v.input, clip);
            assert_eq!(
                v.temporal_weight,
                atelier::jobs::video::GATYS_TEMPORAL_WEIGHT
            );
            let atelier::jobs::video::Method::Gatys(g) = &v.method else {
                panic!("{:?}", v.method)
            };
            assert_eq!(g.styles[0].path, PathBuf::from("/library/irises.png"));
            assert_eq!(items[0].content_name.as_deref(), Some("pan"));
            assert_eq!(items[0].style_names, ["irises"]);
        }
        other => panic!("expected an enqueue, got {other:?}"),
    }
}

#[test]
fn snapshot_queue() {
    let mut a = with_runs(app(true));
    press(&mut a, "3");
    insta::assert_snapshot!(render(&mut a, 100, 24).backend());
}

#[test]
fn snapshot_live_run_with_chart() {
    let mut a = with_runs(app(true));
    press(&mut a, "4");
    insta::assert_snapshot!(render(&mut a, 110, 30).backend());
}

#[test]
fn snapshot_history_with_runs() {
    let mut a = with_runs(app(true));
    press(&mut a, "5jj");
    insta::assert_snapshot!(render(&mut a, 110, 26).backend());
}

#[test]
fn snapshot_help_overlay() {
    let mut a = with_runs(app(true));
    press(&mut a, "5?");
    insta::assert_snapshot!(render(&mut a, 100, 40).backend());
}

#[test]
fn snapshot_watch_pane_with_a_rule() {
    let mut a = with_runs(app(true));
    let mut snap = a.snap.clone();
    snap.watch = vec![rule("camera")];
    a.on_data(snap);
    press(&mut a, "6");
    insta::assert_snapshot!(render(&mut a, 110, 20).backend());
}

#[test]
fn snapshot_compose_blend_with_memory_estimate() {
    let mut a = with_runs(app(true));
    press(&mut a, "1j\nl j 2jjl");
    a.compose.styles[0].weight = 0.7;
    a.compose.styles[1].weight = 0.3;
    let mut snap = a.snap.clone();
    snap.content_size = Some(("/library/chelsea.png".into(), 451, 300));
    a.on_data(snap);
    press(&mut a, "jj");
    insta::assert_snapshot!(render(&mut a, 100, 26).backend());
}

#[test]
fn snapshot_live_chart_marks_rollbacks() {
    let mut a = with_runs(app(true));
    let mut snap = a.snap.clone();
    if let Some(f) = snap.focus.as_mut() {
        f.rollbacks = vec![RollbackRecord {
            eval: 61,
            to_eval: 58,
            loss: Some(4.2e9),
            reason: "loss 4.2000e9 jumped above 10× the best 3.4e6".into(),
            remedy: "halved the step".into(),
        }];
    }
    a.on_data(snap);
    press(&mut a, "4");
    insta::assert_snapshot!(render(&mut a, 110, 30).backend());
}

#[test]
fn snapshot_tiny_terminal() {
    let mut a = app(true);
    insta::assert_snapshot!(render(&mut a, 30, 10).backend());
}

#[test]
fn odd_sizes_never_panic() {
    for (w, h) in [(60, 20), (300, 90), (40, 12), (1, 1), (200, 60), (80, 24)] {
        for tab in '1'..='6' {
            let mut a = with_runs(app(true));
            press(&mut a, &tab.to_string());
            render(&mut a, w, h);
            press(&mut a, "?");
            render(&mut a, w, h);
        }
    }
}

#[test]
fn library_keys_choose_content_and_mark_styles() {
    let mut a = app(true);
    press(&mut a, "j\n");
    assert_eq!(a.compose.content.as_ref().unwrap().name, "chelsea");
    press(&mut a, "lj ");
    press(&mut a, "j ");
    let marked: Vec<&str> = a
        .compose
        .styles
        .iter()
        .map(|s| s.item.name.as_str())
        .collect();
    assert_eq!(marked, ["wheat-field-with-cypresses", "the-harvesters"]);
    press(&mut a, " ");
    assert_eq!(a.compose.styles.len(), 1, "space again unmarks");
    // Filtering by typing narrows the list; Esc clears it.
    press(&mut a, "/gogh");
    assert!(matches!(a.mode, Mode::Input { .. }));
    press(&mut a, "\n");
    assert_eq!(a.lib.visible(a.lib.side()).len(), 2);
    press(&mut a, "\x1b");
    assert_eq!(a.lib.visible(a.lib.side()).len(), 3);
}

#[test]
fn compose_edits_fields_and_enqueues_content_times_styles() {
    let mut a = app(true);
    press(&mut a, "2r");
    assert!(
        !a.outbox.iter().any(|c| matches!(c, Command::Enqueue(_))),
        "nothing to queue without inputs"
    );
    assert!(a.compose.error.as_deref().unwrap().contains("content"));
    press(&mut a, "1\nl j 2");
    // Kind, preset, styles (each | blend), a weight per style, then the parameters.
    assert_eq!(a.compose.selected(), Field::Kind);
    press(&mut a, "jjjjj");
    assert_eq!(a.compose.selected(), Field::Param(0));
    press(&mut a, "\n");
    // Typing a size: clear the prefilled value first.
    for _ in 0..5 {
        a.on_key(key(KeyCode::Backspace));
    }
    press(&mut a, "96\n");
    assert_eq!(a.compose.spec.size, 96);
    press(&mut a, "j+");
    assert_eq!(a.compose.spec.steps, 250);
    press(&mut a, "\nabc\n");
    assert_eq!(a.compose.spec.steps, 250, "a bad value is refused");
    let e = a.compose.error.clone().unwrap();
    assert!(e.starts_with("steps: '250abc' is not"), "{e}");
    // Colours, scales and style scale are fields too.
    press(&mut a, "jjjjjjjjj+");
    assert_eq!(a.compose.error, None, "a good edit clears the error");
    assert_eq!(
        a.compose.spec.preserve_colors,
        atelier::engine::nets::color::ColorMode::Luminance
    );
    press(&mut a, "j+");
    assert_eq!(
        a.compose.spec.scales,
        atelier::engine::gatys::pyramid::Scales::Count(2)
    );
    press(&mut a, "j-");
    assert_eq!(a.compose.spec.style_scale, 0.75);
    press(&mut a, "kk-kk");
    press(&mut a, "r");
    match a.outbox.last() {
        Some(Command::Enqueue(items)) => {
            assert_eq!(items.len(), 2);
            assert!(items.iter().all(|r| r.job.gatys().unwrap().size == 96
                && r.content_name.as_deref() == Some("astronaut")));
            assert_eq!(items[1].style_names, ["wheat-field-with-cypresses"]);
        }
        other => panic!("expected an enqueue, got {other:?}"),
    }
}

#[test]
fn compose_blends_the_marked_styles_with_their_weights() {
    let mut a = app(true);
    press(&mut a, "1\nl j 2");
    press(&mut a, "jjl");
    assert!(a.compose.blend, "→ on the styles row switches to blend");
    press(&mut a, "j\n");
    for _ in 0..5 {
        a.on_key(key(KeyCode::Backspace));
    }
    press(&mut a, "0\n");
    assert!(
        a.compose.error.as_deref().unwrap().contains("above 0"),
        "{:?}",
        a.compose.error
    );
    assert_eq!(a.compose.styles[0].weight, 1.0);
    press(&mut a, "\n");
    a.on_key(key(KeyCode::Backspace));
    a.on_key(key(KeyCode::Backspace));
    a.on_key(key(KeyCode::Backspace));
    press(&mut a, "7\nj\n");
    a.on_key(key(KeyCode::Backspace));
    a.on_key(key(KeyCode::Backspace));
    a.on_key(key(KeyCode::Backspace));
    press(&mut a, "3\n");
    assert_eq!(a.compose.shares_label(), "0.70 / 0.30");
    press(&mut a, "r");
    match a.outbox.last() {
        Some(Command::Enqueue(items)) => {
            assert_eq!(items.len(), 1, "one blended run");
            let w: Vec<f64> = items[0]
                .job
                .gatys()
                .unwrap()
                .styles
                .iter()
                .map(|s| s.weight)
                .collect();
            assert_eq!(w, [7.0, 3.0]);
            assert_eq!(
                items[0].style_names,
                ["irises", "wheat-field-with-cypresses"]
            );
        }
        other => panic!("expected an enqueue, got {other:?}"),
    }
    // Back to one run per style.
    press(&mut a, "gjjh");
    assert!(!a.compose.blend);
}

#[test]
fn compose_presets_fill_the_form() {
    let tiny = RunSpec {
        size: 64,
        steps: 10,
        tv_weight: 0.5,
        ..spec()
    };
    let mut a = app(true).with_presets(vec![("tiny".into(), tiny)]);
    press(&mut a, "2jl");
    assert_eq!(
        (
            a.compose.spec.size,
            a.compose.spec.steps,
            a.compose.spec.tv_weight
        ),
        (64, 10, 0.5)
    );
    assert_eq!(a.compose.value(Field::Preset), "tiny");
    press(&mut a, "l");
    assert_eq!(
        a.compose.spec.size, 256,
        "round again to none: the defaults"
    );
    press(&mut a, "\n");
    for _ in 0..4 {
        a.on_key(key(KeyCode::Backspace));
    }
    press(&mut a, "tiny\n");
    assert_eq!(a.compose.spec.steps, 10);
}

#[test]
fn compose_memory_estimate_follows_the_size_and_flags_what_does_not_fit() {
    let mut a = with_runs(app(true));
    press(&mut a, "1\nl 2");
    let content = a.compose.content.clone().unwrap().path;
    assert!(matches!(
        a.outbox.iter().find(|c| matches!(c, Command::Content(_))),
        Some(Command::Content(Some(p))) if *p == content
    ));
    let mut snap = a.snap.clone();
    snap.content_size = Some((content, 600, 400));
    snap.memory = Some(DeviceMemory {
        base: 0,
        available: Some(800 << 20),
    });
    a.on_data(snap);
    let before = a.memory_estimate();
    assert!(!before.assumed_square && !before.too_big, "{before:?}");
    press(&mut a, "jj");
    for _ in 0..16 {
        press(&mut a, "+");
    }
    let after = a.memory_estimate();
    assert!(after.run > 10 * before.run, "{before:?} {after:?}");
    assert!(after.too_big, "{after:?}");
    let t = render(&mut a, 100, 26);
    let screen = format!("{:?}", t.backend());
    assert!(screen.contains("too big: only 800 MiB free"), "{screen}");
}

#[test]
fn watch_keys_pause_and_resume_the_selected_rule() {
    let mut a = with_runs(app(true));
    press(&mut a, "6 ");
    assert!(a.outbox.is_empty(), "no rules: nothing to pause");
    let mut snap = a.snap.clone();
    snap.watch = vec![rule("camera"), rule("scans")];
    a.on_data(snap);
    a.outbox.clear();
    press(&mut a, "j ");
    assert!(matches!(a.outbox.last(), Some(Command::PauseRule(r, true)) if r == "scans"));
    assert!(a.snap.watch[1].paused && !a.snap.watch[0].paused);
    let t = render(&mut a, 110, 20);
    assert!(format!("{:?}", t.backend()).contains("paused"));
    press(&mut a, "p");
    assert!(matches!(a.outbox.last(), Some(Command::PauseRule(r, false)) if r == "scans"));
    let help = a.keymap.help(Some(a.context()));
    assert!(help.iter().any(|h| h.help.contains("pause")));
}

#[test]
fn queue_and_history_keys_become_commands() {
    let mut a = with_runs(app(true));
    press(&mut a, "3jK");
    assert!(matches!(a.outbox.last(), Some(Command::Move(5, 1))));
    // The cursor stays with the run (the next snapshot shows it moved).
    assert_eq!(a.queue.id, Some(5));
    press(&mut a, "j+");
    assert!(matches!(a.outbox.last(), Some(Command::Priority(5, 1))));
    press(&mut a, "x");
    assert_eq!(a.mode, Mode::ConfirmCancel(5));
    press(&mut a, "n");
    assert!(
        !matches!(a.outbox.last(), Some(Command::Cancel(_))),
        "n keeps the run"
    );
    press(&mut a, "xy");
    assert!(matches!(a.outbox.last(), Some(Command::Cancel(5))));
    press(&mut a, "5jjm");
    press(&mut a, "jC");
    assert_eq!(a.history.compare, Some((2, 1)));
    press(&mut a, "\x1bD");
    assert_eq!(a.mode, Mode::ConfirmDelete(1));
    press(&mut a, "y");
    assert!(matches!(a.outbox.last(), Some(Command::Delete(1))));
    press(&mut a, "ky");
    assert_eq!(a.clipboard.as_deref(), Some("/data/runs/2/output.png"));
    press(&mut a, "R");
    assert!(matches!(a.outbox.last(), Some(Command::Rerun(2))));
    press(&mut a, "e");
    assert_eq!(a.tab, Tab::Compose, "e opens the run in Compose");
    press(&mut a, "q");
    assert!(a.quit);
}

/// The real program in tmux: queue a tiny CPU run with keys, watch it finish,
/// find it in History.
#[test]
fn end_to_end_in_tmux() {
    if Proc::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[tui]\nimage_protocol = \"halfblocks\"\n[worker]\ndevice = \"cpu\"\n",
    )
    .unwrap();
    let session = format!("atelier-test-{}", std::process::id());
    let cmd = format!(
        "ATELIER_HOME={} XDG_CACHE_HOME={} {} --config {} --data-dir {}",
        root().display(),
        dir.path().join("cache").display(),
        env!("CARGO_BIN_EXE_atelier"),
        cfg.display(),
        dir.path().join("data").display()
    );
    let tmux = |args: &[&str]| Proc::new("tmux").args(args).output().unwrap();
    assert!(tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "100",
        "-y",
        "30",
        &cmd
    ])
    .status
    .success());
    struct Kill(String);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Proc::new("tmux")
                .args(["kill-session", "-t", &self.0])
                .output();
        }
    }
    let _kill = Kill(session.clone());
    let screen = || {
        String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", &session]).stdout).into_owned()
    };
    let wait_for = |text: &str, secs: u64| {
        let start = Instant::now();
        loop {
            let s = screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "'{text}' never appeared; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let send = |keys: &[&str]| {
        for k in keys {
            tmux(&["send-keys", "-t", &session, k]);
            std::thread::sleep(Duration::from_millis(150));
        }
    };
    wait_for("Photos", 30);
    // Library: first photo as content, first painting marked.
    send(&["Enter", "l", "Space", "2"]);
    wait_for("Parameters", 10);
    // Past the kind and preset rows: size 48, steps 5.
    send(&[
        "j", "j", "Enter", "BSpace", "BSpace", "BSpace", "BSpace", "4", "8", "Enter", "j", "Enter",
        "BSpace", "BSpace", "BSpace", "BSpace", "5", "Enter", "r",
    ]);
    wait_for("queued run 1", 20);
    send(&["5"]);
    wait_for("done", 120);
    let s = screen();
    assert!(s.contains("History (1)"), "{s}");
    send(&["?"]);
    wait_for("Esc closes", 10);
    // q closes the help, then quits.
    send(&["q"]);
    send(&["q"]);
}

/// Issue 14: an image evicted from the cache showed "loading" forever,
/// because nobody asked for it again.
#[test]
fn an_evicted_image_is_asked_for_again() {
    use atelier::tui::images::ImageCache;
    let mut a = app(true);
    let mut t = Terminal::new(TestBackend::new(100, 30)).unwrap();
    let mut want = Vec::new();
    t.draw(|f| ui::draw(f, &a, &mut want)).unwrap();
    let asked = a.images.request(want);
    assert_eq!(asked.len(), 1, "the library preview: {asked:?}");
    let shown = asked[0].clone();
    let proto = |key: &ImageKey| {
        let img = image::RgbImage::from_pixel(8, 8, image::Rgb([200, 100, 50]));
        Picker::halfblocks()
            .new_protocol(
                image::DynamicImage::ImageRgb8(img),
                Size::new(key.cols, key.rows),
                Resize::Scale(None),
            )
            .unwrap()
    };
    // Asked once only while it is on its way.
    assert!(a.images.request(vec![shown.clone()]).is_empty());
    a.on_image(Loaded {
        key: shown.clone(),
        result: Ok(proto(&shown)),
    });
    let mut again = Vec::new();
    t.draw(|f| ui::draw(f, &a, &mut again)).unwrap();
    assert!(again.is_empty(), "shown from the cache");
    // Other images push it out of the cache.
    for i in 0..ImageCache::LIMIT as u16 {
        let key = ImageKey::new(std::path::Path::new("/elsewhere.png"), 10 + i, 5);
        let p = proto(&key);
        a.on_image(Loaded { key, result: Ok(p) });
    }
    assert!(a.images.get(&shown).is_none(), "evicted");
    let mut missed = Vec::new();
    t.draw(|f| ui::draw(f, &a, &mut missed)).unwrap();
    assert_eq!(missed, std::slice::from_ref(&shown));
    assert_eq!(a.images.request(missed), [shown], "asked for again");
}

/// Issue 14: a panic in the TUI's worker thread vanished, leaving its run
/// "running". Now the run fails with the panic's message and the UI hears it.
#[test]
fn a_worker_panic_fails_its_run_and_is_reported() {
    use atelier::queue::worker::WorkerEvent;
    use atelier::queue::Store;
    use atelier::tui::event::Event;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let id = store.add(&spec(), &[], 0).unwrap();
    let run = store.claim("tui:test", "cpu").unwrap().unwrap();
    assert_eq!(run.id, id);
    let (tx, rx) = std::sync::mpsc::channel();
    atelier::tui::worker::supervise(dir.path(), tx, |events| {
        events(&WorkerEvent::Started(Box::new(run)));
        panic!("tensor exploded");
    });
    let stopped: Vec<String> = rx
        .try_iter()
        .filter_map(|e| match e {
            Event::WorkerStopped(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(stopped.len(), 1, "{stopped:?}");
    assert!(
        stopped[0].contains("tensor exploded") && stopped[0].contains(&format!("run {id}")),
        "{stopped:?}"
    );
    let after = store.get(id).unwrap();
    assert_eq!(after.status, Status::Failed);
    assert!(
        after
            .error
            .as_deref()
            .unwrap_or("")
            .contains("tensor exploded"),
        "{:?}",
        after.error
    );
    let mut a = app(false);
    a.on_worker_stopped(stopped[0].clone());
    assert_eq!(a.worker_status, "worker: crashed");
}

/// Issue 20: with `image_protocol = "auto"` the terminal query left a reader
/// behind that swallowed the first key, however late. In a detached tmux
/// session the outer terminal never answers, which is exactly that case.
#[test]
fn the_first_key_after_start_is_not_swallowed_in_tmux() {
    if Proc::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[tui]\nimage_protocol = \"auto\"\nstart_worker = false\n[worker]\ndevice = \"cpu\"\n",
    )
    .unwrap();
    let session = format!("atelier-key-{}", std::process::id());
    let cmd = format!(
        "ATELIER_HOME={} XDG_CACHE_HOME={} {} --config {} --data-dir {}",
        root().display(),
        dir.path().join("cache").display(),
        env!("CARGO_BIN_EXE_atelier"),
        cfg.display(),
        dir.path().join("data").display()
    );
    let tmux = |args: &[&str]| Proc::new("tmux").args(args).output().unwrap();
    let started = tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "100",
        "-y",
        "30",
        &cmd,
    ]);
    assert!(started.status.success());
    struct Kill(String);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = Proc::new("tmux")
                .args(["kill-session", "-t", &self.0])
                .output();
        }
    }
    let _kill = Kill(session.clone());
    let screen = || {
        String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", &session]).stdout).into_owned()
    };
    let wait_for = |text: &str, secs: u64| {
        let start = Instant::now();
        loop {
            let s = screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "'{text}' never appeared; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for("Photos", 30);
    // Past the query's deadline, so an old-style reader would be waiting.
    std::thread::sleep(Duration::from_millis(2500));
    tmux(&["send-keys", "-t", &session, "5"]);
    wait_for("History (0)", 10);
    tmux(&["send-keys", "-t", &session, "q"]);
}

/// A training run (run 9, 300 of 1000 iterations) with every series it
/// records, as the store hands them to the TUI.
pub(crate) fn train_run() -> (Run, Vec<Point>) {
    let mut r = run(9, Status::Running, "coffee", "irises", None);
    r.job = StoredJob::Known(Job::Train(atelier::jobs::train::Spec {
        name: "irises-fast".into(),
        train: atelier::engine::fast::train::TrainSpec {
            style: "/library/irises.png".into(),
            dataset: "/data/coco".into(),
            size: 256,
            style_size: 256,
            batch: 4,
            iterations: 1000,
            content_weight: 1e5,
            style_weight: 1e10,
            tv_weight: 0.0,
            lr: 1e-3,
            arch: Default::default(),
            seed: 1,
            checkpoint_every: 100,
            preview_every: 50,
            preview: None,
            more_styles: Vec::new(),
            extend: None,
            style_names: Vec::new(),
        },
        sample_every: 10,
        pixel_limit: 1 << 24,
    }));
    r.inputs.retain(|i| i.role == atelier::jobs::Role::Style);
    let mut points = Vec::new();
    for step in (10..=300).step_by(10) {
        let t = 1e6 / (step as f64).sqrt();
        for (series, value) in [
            ("content", t * 0.6),
            ("style", t * 0.4),
            ("total", t),
            ("images_per_second", 7.5),
        ] {
            points.push(Point {
                step,
                series: series.into(),
                value,
                seconds: step as f64 * 0.5,
            });
        }
    }
    (r, points)
}

#[test]
fn snapshot_live_train_run() {
    let mut a = app(true);
    let (r, points) = train_run();
    a.on_data(Snapshot {
        queue: vec![r.clone()],
        history: vec![r],
        focus: Some(Focus {
            run: 9,
            points,
            ..Focus::default()
        }),
        data_dir: "/data".into(),
        ..Snapshot::default()
    });
    press(&mut a, "4");
    let t = render(&mut a, 110, 30);
    let screen = format!("{:?}", t.backend());
    // The kind's own header and series, not the stylize step/eval figures.
    assert!(screen.contains("iteration 300/1000"), "{screen}");
    assert!(screen.contains("7.50 images/s"), "{screen}");
    assert!(!screen.contains("eval/s"), "{screen}");
    insta::assert_snapshot!(t.backend());
}

pub(crate) fn model_item(name: &str, style: &str) -> ModelItem {
    ModelItem {
        name: name.into(),
        path: format!("/models/{name}.safetensors").into(),
        origin: "bundled",
        styles: vec![format!("/library/{style}.png").into()],
        style_sources: Vec::new(),
        multi: false,
        msg: false,
        arbitrary: None,
        about: vec![
            "instance norm, width 0.5 · trained by atelier".into(),
            "2400 iterations of 2 × 128 px on cpu, 20 min".into(),
        ],
        error: None,
        pace: Pace::measured("cpu", name.into(), 1200.0, (2400, 2, 128)),
    }
}

/// The Models column: → twice from the photos, the highlighted model's
/// painting and training in the preview.
#[test]
fn snapshot_library_models() {
    let mut a = app(true);
    a.lib.set_models(vec![
        model_item("wheat-field-with-cypresses", "wheat-field-with-cypresses"),
        model_item("irises", "irises"),
    ]);
    press(&mut a, "llj");
    let t = render(&mut a, 120, 24);
    let screen = format!("{:?}", t.backend());
    assert!(screen.contains("Models (2)"), "{screen}");
    assert!(screen.contains("irises (bundled)"), "{screen}");
    insta::assert_snapshot!(t.backend());
}

#[test]
fn compose_apply_queues_the_photo_through_the_model_chosen_in_the_library() {
    let mut a = app(true);
    a.lib.set_models(vec![model_item("irises", "irises")]);
    press(&mut a, "j\n2");
    a.compose.set(Field::Kind, "apply").unwrap();
    press(&mut a, "r");
    assert!(
        !matches!(a.outbox.last(), Some(Command::Enqueue(_))),
        "no model chosen yet: nothing queued"
    );
    let why = a.compose.error.clone().unwrap_or_default();
    assert!(why.contains("pick a model"), "{why}");
    press(&mut a, "1ll\n");
    assert_eq!(a.compose.kind, Kind::Apply, "Enter on a model picks apply");
    press(&mut a, "2r");
    match a.outbox.last() {
        Some(Command::Enqueue(items)) => {
            assert_eq!(items.len(), 1);
            match &items[0].job {
                Job::Apply(s) => {
                    assert_eq!(s.model, PathBuf::from("/models/irises.safetensors"));
                    assert_eq!(s.model_name.as_deref(), Some("irises"));
                    assert_eq!(s.contents, [PathBuf::from("/library/chelsea.png")]);
                }
                other => panic!("not an apply job: {other:?}"),
            }
            assert_eq!(items[0].content_name.as_deref(), Some("chelsea"));
        }
        other => panic!("nothing queued: {other:?}"),
    }
}

#[test]
fn compose_apply_with_an_arbitrary_model_queues_a_run_per_marked_painting() {
    let mut a = app(true);
    let mut wct = model_item("wct", "");
    wct.arbitrary = Some(atelier::engine::arbitrary::model_file::Method::Wct);
    a.lib.set_models(vec![wct]);
    // The photo, then the model, no painting marked yet: refused, saying why.
    press(&mut a, "j\nll\n2r");
    assert_eq!(a.compose.kind, Kind::Apply);
    let why = a.compose.error.clone().unwrap_or_default();
    assert!(why.contains("name the painting(s)"), "{why}");
    press(&mut a, "1h j 2");
    let screen = format!("{:?}", render(&mut a, 100, 26).backend());
    assert!(screen.contains("r queues 2 runs"), "{screen}");
    press(&mut a, "r");
    let Some(Command::Enqueue(items)) = a.outbox.last() else {
        panic!("nothing queued: {:?}", a.compose.error)
    };
    assert_eq!(items.len(), 2, "one per marked painting");
    for it in items {
        let Job::Apply(s) = &it.job else {
            panic!("not an apply job: {:?}", it.job)
        };
        let arb = s.arbitrary.as_ref().expect("paintings for a wct model");
        assert_eq!((arb.styles.len(), arb.alpha), (1, 0.6));
        assert_eq!(it.style_names.len(), 1);
        assert!(s.mix.is_none());
    }
}

#[test]
fn compose_train_queues_a_training_run_per_marked_painting() {
    let mut a = app(true);
    press(&mut a, "l j 2");
    a.compose.set(Field::Kind, "train").unwrap();
    let t = render(&mut a, 100, 26);
    let screen = format!("{:?}", t.backend());
    assert!(screen.contains("iterations"), "{screen}");
    assert!(screen.contains("r queues 2 training runs"), "{screen}");
    press(&mut a, "r");
    match a.outbox.last() {
        Some(Command::Enqueue(items)) => {
            assert_eq!(items.len(), 2, "one per marked painting");
            match &items[1].job {
                Job::Train(s) => {
                    assert_eq!(s.name, "wheat-field-with-cypresses");
                    assert_eq!(
                        s.train.style,
                        PathBuf::from("/library/wheat-field-with-cypresses.png")
                    );
                    assert!(s.train.dataset.is_absolute(), "{:?}", s.train.dataset);
                }
                other => panic!("not a train job: {other:?}"),
            }
        }
        other => panic!("nothing queued: {other:?}"),
    }
}

/// A model a training run saved shows in the Library once the run is done,
/// with its painting found among the paintings.
#[test]
fn a_model_trained_from_the_tui_appears_in_the_library() {
    use atelier::engine::fast::model_file::{blank_info, Model, StyleSource};
    use atelier::engine::fast::models::ModelLibrary;
    use atelier::engine::fast::transformer::Arch;
    let tmp = tempfile::tempdir().unwrap();
    let (bundled, user, styles) = (
        tmp.path().join("bundled"),
        tmp.path().join("user"),
        tmp.path().join("styles"),
    );
    for d in [&bundled, &user, &styles] {
        std::fs::create_dir_all(d).unwrap();
    }
    let mut a = app(true)
        .with_models(ModelLibrary::new(bundled, user.clone()).with_styles_dir(styles.clone()));
    assert!(a.lib.models.is_empty());
    // The painting moved since training: found by name in the paintings folder.
    std::fs::write(styles.join("irises.png"), b"png").unwrap();
    let mut info = blank_info(Arch {
        width: 0.25,
        ..Arch::default()
    });
    info.styles = vec![StyleSource {
        name: "irises".into(),
        path: "/gone/irises.png".into(),
        sha256: String::new(),
    }];
    info.source = "trained by atelier".into();
    Model::new(info, tch::Device::Cpu)
        .unwrap()
        .save(&user.join("irises-fast.safetensors"))
        .unwrap();
    let (mut r, _) = train_run();
    r.status = Status::Done;
    a.on_data(Snapshot {
        history: vec![r],
        data_dir: "/data".into(),
        ..Snapshot::default()
    });
    let names: Vec<&str> = a.lib.models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["irises-fast"]);
    assert_eq!(a.lib.models[0].origin, "yours");
    assert_eq!(a.lib.models[0].styles, [styles.join("irises.png")]);
    assert!(a.lib.models[0].error.is_none());
}

#[test]
fn ctrl_u_clears_the_input_line_and_other_control_chords_are_not_text() {
    let mut a = app(true);
    press(&mut a, "2j\n");
    assert!(matches!(a.mode, Mode::Input { .. }));
    let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
    a.on_key(ctrl('a'));
    a.on_key(ctrl('u'));
    press(&mut a, "48");
    match &a.mode {
        Mode::Input { buffer, .. } => assert_eq!(buffer, "48"),
        other => panic!("{other:?}"),
    }
}

/// A done analogy shows its B and its field picture beside A′, from its run
/// folder.
#[test]
fn a_done_analogy_shows_b_and_the_field_beside_a_prime() {
    use atelier::engine::analogy::{AnalogySpec, Timings};
    let mut a = app(true);
    let mut r = run(7, Status::Done, "astronaut", "irises", None);
    r.job = StoredJob::Known(Job::Analogy(AnalogySpec {
        a: "/library/astronaut.png".into(),
        b_prime: "/library/irises.png".into(),
        ..AnalogySpec::default()
    }));
    r.outcome = Some(Outcome::Analogy(atelier::jobs::analogy::Outcome {
        b: "a-prime.b.png".into(),
        flow: "a-prime.flo".into(),
        flow_picture: "a-prime.flow.png".into(),
        timings: Timings {
            patchmatch: 1.0,
            reconstruction: 2.0,
            total: 3.5,
        },
        identity_share: 0.1,
    }));
    a.on_data(Snapshot {
        history: vec![r.clone()],
        data_dir: "/data".into(),
        ..Snapshot::default()
    });
    let v = atelier::tui::panes::views::view(&a, &r);
    let paths: Vec<PathBuf> = v.extra_images.iter().map(|(_, p)| p.clone()).collect();
    assert_eq!(
        paths,
        [
            PathBuf::from("/data/runs/7/a-prime.b.png"),
            PathBuf::from("/data/runs/7/a-prime.flow.png")
        ]
    );
    press(&mut a, "5\n");
    let t = render(&mut a, 120, 34);
    let screen = format!("{:?}", t.backend());
    assert!(screen.contains(" B "), "{screen}");
    assert!(screen.contains("A→B′ field"), "{screen}");
}

/// A multi-style model in Compose: a run per style by default, or the one
/// choice typed (a style or a mix, weights normalised); a name the model does
/// not have is refused in the form.
#[test]
fn compose_applies_a_multi_style_model_per_style_or_as_a_typed_mix() {
    use atelier::engine::fast::model_file::StyleSource;
    let mut a = app(true);
    let mut m = model_item("masters", "irises");
    m.multi = true;
    m.style_sources = ["irises", "wheat", "harvesters"]
        .iter()
        .map(|n| StyleSource {
            name: n.to_string(),
            path: format!("/library/{n}.png").into(),
            sha256: String::new(),
        })
        .collect();
    a.lib.set_models(vec![m]);
    press(&mut a, "j\nll\n2r");
    let mixes = |a: &App| -> Vec<Vec<f64>> {
        match a.outbox.last() {
            Some(Command::Enqueue(items)) => items
                .iter()
                .map(|it| match &it.job {
                    Job::Apply(s) => s.mix.as_ref().expect("a mix").weights.clone(),
                    other => panic!("{other:?}"),
                })
                .collect(),
            other => panic!("nothing queued: {other:?}"),
        }
    };
    assert_eq!(
        mixes(&a),
        [
            vec![1.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.0],
            vec![0.0, 0.0, 1.0]
        ]
    );
    let screen = format!("{:?}", render(&mut a, 110, 26).backend());
    assert!(screen.contains("r queues 3 runs"), "{screen}");
    let row = Field::Param(1);
    assert_eq!(a.compose.label(row), "model styles");
    a.compose.commit(row, "irises:3,harvesters:1");
    assert_eq!(a.compose.error, None);
    press(&mut a, "r");
    assert_eq!(mixes(&a), [vec![0.75, 0.0, 0.25]]);
    a.compose.commit(row, "cezanne");
    let why = a.compose.error.clone().unwrap_or_default();
    assert!(why.contains("cezanne"), "{why}");
    assert_eq!(
        a.compose.apply_mix, "irises:3,harvesters:1",
        "a refused edit changes nothing"
    );
}

/// One browse preview made by a fresh preview thread (a new TUI session)
/// with the bundled model `model`, cached in `out`.
fn browse_preview(
    model: &str,
    out: &std::path::Path,
    key: &atelier::tui::browse::BrowseKey,
) -> Result<PathBuf, String> {
    use atelier::tui::event::Event;
    let (tx, rx) = std::sync::mpsc::channel();
    let b = atelier::tui::browse::Browser::spawn(
        model.into(),
        root().join(format!("models/{model}.safetensors")),
        crate::util::weights_path(),
        tch::Device::Cpu,
        out.to_path_buf(),
        None,
        tx,
    );
    b.ask(key.clone());
    loop {
        match rx.recv_timeout(Duration::from_secs(300)) {
            Ok(Event::Browse(d)) if &d.key == key => return d.result,
            Ok(_) => continue,
            Err(e) => panic!("no preview from {model}: {e}"),
        }
    }
}

/// A photo and a painting for browse previews (small: the preview is made
/// at the photo's size up to 256 px).
pub(crate) fn browse_pair(dir: &std::path::Path) -> atelier::tui::browse::BrowseKey {
    let (content, style) = (dir.join("photo.png"), dir.join("painting.png"));
    crate::util::write_pattern(&content, 40, 32);
    image::RgbImage::from_fn(48, 48, |x, y| {
        image::Rgb([(x * 5) as u8, 200 - (y * 3) as u8, ((x ^ y) * 9) as u8])
    })
    .save(&style)
    .unwrap();
    atelier::tui::browse::BrowseKey { content, style }
}

/// Issue 32 item 5: a preview made with one model is not shown for another
/// (switching `[tui] browse_preview`, or a replaced model file).
#[test]
fn browse_previews_of_different_models_are_cached_apart() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cache");
    let key = browse_pair(dir.path());
    let adain = browse_preview("adain", &out, &key).unwrap();
    let adain_bytes = std::fs::read(&adain).unwrap();
    let wct = browse_preview("wct", &out, &key).unwrap();
    assert!(
        std::fs::read(&wct).unwrap() != adain_bytes,
        "wct's preview is adain's cached one"
    );
    // Each model finds its own again.
    assert_eq!(browse_preview("adain", &out, &key).unwrap(), adain);
}

/// Issue 32 item 11: a cached preview that does not decode (cut short by a
/// crash, a full disk) is made again rather than shown as an error forever.
#[test]
fn a_damaged_cached_browse_preview_is_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cache");
    let key = browse_pair(dir.path());
    let made = browse_preview("adain", &out, &key).unwrap();
    let bytes = std::fs::read(&made).unwrap();
    std::fs::write(&made, &bytes[..bytes.len() / 2]).unwrap();
    let again = browse_preview("adain", &out, &key).unwrap();
    let limit = atelier::engine::infra::image_io::DEFAULT_PIXEL_LIMIT;
    atelier::engine::infra::image_io::load_rgb(&again, limit).expect("the preview decodes");
}
