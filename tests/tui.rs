//! The TUI: panels rendered into ratatui's TestBackend and compared with insta
//! snapshots (images drawn as half-blocks, so they are deterministic), key
//! handling as actions on the state, odd terminal sizes, and an end-to-end run
//! in tmux.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command as Proc;
use std::time::{Duration, Instant};

use atelier::engine::spec::{RunSpec, StyleRef};
use atelier::queue::{FinalLosses, Input, Run, Sample, Status};
use atelier::tui::app::{App, LibItem, Mode};
use atelier::tui::data::{Command, Snapshot};
use atelier::tui::images::{ImageKey, Loaded};
use atelier::tui::keymap::Keymap;
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

fn spec() -> RunSpec {
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

fn run(id: i64, status: Status, content: &str, style: &str, loss: Option<f64>) -> Run {
    let input = |role: &str, name: &str| Input {
        role: role.into(),
        name: Some(name.into()),
        path: format!("/library/{name}.png").into(),
        sha256: "0".repeat(64),
    };
    Run {
        id,
        created: 1_795_000_000.0 + id as f64 * 60.0,
        status,
        priority: 0,
        spec: spec(),
        inputs: vec![input("content", content), input("style", style)],
        output: (status == Status::Done).then(|| format!("/data/runs/{id}/output.png").into()),
        device: Some("cpu".into()),
        worker: (status == Status::Running).then(|| "box:42".into()),
        started: None,
        finished: None,
        heartbeat: None,
        evals: loss.map(|_| 200),
        best_eval: loss.map(|_| 197),
        stop: loss.map(|_| "steps done".into()),
        losses: loss.map(|total| FinalLosses {
            style: total / 3.0,
            content: total / 2.0,
            tv: total / 6.0,
            total,
        }),
        error: (status == Status::Failed).then(|| "content.png: not a readable image".into()),
        cancel_requested: false,
        attempts: 1,
        resume_from: None,
        resume_eval: None,
    }
}

fn samples(n: i64) -> Vec<Sample> {
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

fn app(with_library: bool) -> App {
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

fn with_runs(mut a: App) -> App {
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
        workers: Vec::new(),
        focus: Some((4, samples(120))),
        data_dir: "/data".into(),
        watch: Vec::new(),
    });
    a.outbox.clear();
    a
}

/// Renders twice: the first frame asks for images, which are then made here
/// (a gradient, as half-blocks) so the second frame shows them.
fn render(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
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

fn press(a: &mut App, keys: &str) {
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

#[test]
fn snapshot_compose_form() {
    let mut a = app(true);
    press(&mut a, "\nl 2jj+");
    insta::assert_snapshot!(render(&mut a, 100, 24).backend());
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
    snap.watch = vec![atelier::watch::RuleState {
        name: "camera".into(),
        inbox: "/srv/inbox".into(),
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
            path: "/srv/inbox/notes.png".into(),
            reason: "not a readable image (unknown format)".into(),
            time: 1_795_000_000.0,
        }],
        last_error: None,
    }];
    a.on_data(snap);
    press(&mut a, "6");
    insta::assert_snapshot!(render(&mut a, 110, 20).backend());
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
    let marked: Vec<&str> = a.compose.styles.iter().map(|s| s.name.as_str()).collect();
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
    assert!(a.outbox.is_empty(), "nothing to queue without inputs");
    press(&mut a, "1\nl j 2");
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
    // Colours, scales and style scale are fields too.
    press(&mut a, "jjjjjjjjj+");
    assert_eq!(
        a.compose.spec.preserve_colors,
        atelier::engine::color::ColorMode::Luminance
    );
    press(&mut a, "j+");
    assert_eq!(
        a.compose.spec.scales,
        atelier::engine::pyramid::Scales::Count(2)
    );
    press(&mut a, "j-");
    assert_eq!(a.compose.spec.style_scale, 0.75);
    press(&mut a, "kk-kk");
    press(&mut a, "r");
    match a.outbox.last() {
        Some(Command::Enqueue(items)) => {
            assert_eq!(items.len(), 2);
            assert!(items
                .iter()
                .all(|(s, c, _)| s.size == 96 && c == "astronaut"));
        }
        other => panic!("expected an enqueue, got {other:?}"),
    }
}

#[test]
fn queue_and_history_keys_become_commands() {
    let mut a = with_runs(app(true));
    press(&mut a, "3jK");
    assert!(matches!(a.outbox.last(), Some(Command::Move(5, 1))));
    // The selection moves with the run; the snapshot here is not refreshed.
    assert_eq!(a.queue_sel, 0);
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
    assert_eq!(a.tab, 1, "e opens the run in Compose");
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
    // Size 48, steps 5.
    send(&[
        "Enter", "BSpace", "BSpace", "BSpace", "BSpace", "4", "8", "Enter", "j", "Enter", "BSpace",
        "BSpace", "BSpace", "BSpace", "5", "Enter", "r",
    ]);
    wait_for("queued run 1", 20);
    send(&["5"]);
    wait_for("done", 120);
    let s = screen();
    assert!(s.contains("History (1)"), "{s}");
    send(&["?"]);
    wait_for("any key closes", 10);
    send(&["q"]);
}
