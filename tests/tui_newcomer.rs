//! The TUI as a newcomer meets it (issue 28): every pane at 80×24, a cursor
//! that stays on its run when the lists change under it, and a Live pane that
//! follows the worker and never blanks its image.

use atelier::queue::{Run, Status};
use atelier::tui::app::App;
use atelier::tui::data::Command;

use crate::tui::{app, press, run, with_runs};

/// The app's snapshot with another queue and history, as the store thread
/// would send after a change.
fn refresh(a: &mut App, queue: Vec<Run>, history: Vec<Run>) {
    let mut snap = a.snap.clone();
    snap.queue = queue;
    snap.history = history;
    a.on_data(snap);
}

fn queued(id: i64) -> Run {
    run(id, Status::Queued, "chelsea", "irises", None)
}

#[test]
fn queue_cursor_follows_a_run_whose_priority_moves_it() {
    let mut a = with_runs(app(true));
    let running = a.snap.queue[0].clone();
    let history = a.snap.history.clone();
    refresh(
        &mut a,
        vec![running.clone(), queued(5), queued(6)],
        history.clone(),
    );
    press(&mut a, "3jj+");
    assert!(matches!(a.outbox.last(), Some(Command::Priority(6, 1))));
    refresh(&mut a, vec![running, queued(6), queued(5)], history);
    assert_eq!(a.snap.queue[a.queue.sel].id, 6, "the cursor stays on run 6");
}

#[test]
fn queue_cursor_follows_a_moved_run_and_the_next_key_moves_it_again() {
    let mut a = with_runs(app(true));
    let running = a.snap.queue[0].clone();
    let history = a.snap.history.clone();
    let three = |a: Run, b: Run, c: Run| vec![running.clone(), a, b, c];
    refresh(
        &mut a,
        three(queued(5), queued(6), queued(7)),
        history.clone(),
    );
    press(&mut a, "3jjjK");
    assert!(matches!(a.outbox.last(), Some(Command::Move(7, 2))));
    refresh(
        &mut a,
        three(queued(5), queued(7), queued(6)),
        history.clone(),
    );
    assert_eq!(a.snap.queue[a.queue.sel].id, 7);
    press(&mut a, "K");
    assert!(matches!(a.outbox.last(), Some(Command::Move(7, 1))));
    refresh(
        &mut a,
        three(queued(7), queued(5), queued(6)),
        history.clone(),
    );
    // Already first: it stays, and so does the cursor.
    press(&mut a, "K");
    refresh(
        &mut a,
        three(queued(7), queued(5), queued(6)),
        history.clone(),
    );
    assert_eq!(a.snap.queue[a.queue.sel].id, 7, "K on the first run");
    press(&mut a, "J");
    assert!(matches!(a.outbox.last(), Some(Command::Move(7, 2))));
    refresh(&mut a, three(queued(5), queued(7), queued(6)), history);
    assert_eq!(a.snap.queue[a.queue.sel].id, 7);
}

#[test]
fn history_cursor_stays_on_a_rerun_run_when_the_new_one_appears_on_top() {
    let mut a = with_runs(app(true));
    press(&mut a, "5jj");
    press(&mut a, "R");
    assert!(matches!(a.outbox.last(), Some(Command::Rerun(2))));
    let queue = a.snap.queue.clone();
    let mut history = vec![queued(6)];
    history.extend(a.snap.history.clone());
    refresh(&mut a, queue, history);
    press(&mut a, "R");
    assert!(
        matches!(a.outbox.last(), Some(Command::Rerun(2))),
        "a second R re-runs the same run, got {:?}",
        a.outbox.last()
    );
}

/// The rows of a rendered screen, as text.
fn rows(t: &ratatui::Terminal<ratatui::backend::TestBackend>) -> Vec<String> {
    let b = t.backend().buffer();
    (0..b.area.height)
        .map(|y| {
            (0..b.area.width)
                .map(|x| b[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect()
}

#[test]
fn at_80x24_every_tab_is_in_the_tab_bar() {
    let mut a = with_runs(app(true));
    let t = crate::tui::render(&mut a, 80, 24);
    let top = &rows(&t)[0];
    for (i, tab) in atelier::tui::tab::Tab::ALL.iter().enumerate() {
        let label = format!("{} {}", i + 1, tab.title());
        assert!(top.contains(&label), "{label} not in {top:?}");
    }
}

#[test]
fn at_80x24_losses_keep_their_exponent_in_history_and_queue() {
    let mut a = with_runs(app(true));
    press(&mut a, "5");
    let screen = rows(&crate::tui::render(&mut a, 80, 24)).join("\n");
    assert!(screen.contains("2.348e6"), "{screen}");
    assert!(screen.contains("4.100e6"), "{screen}");
    let mut q = a.snap.queue.clone();
    q.push(run(8, Status::Queued, "chelsea", "irises", Some(3.314e6)));
    let h = a.snap.history.clone();
    refresh(&mut a, q, h);
    press(&mut a, "3");
    let screen = rows(&crate::tui::render(&mut a, 80, 24)).join("\n");
    assert!(screen.contains("3.314e6"), "{screen}");
}

#[test]
fn at_80x24_the_footer_ends_at_a_whole_hint() {
    for tab in "123456".chars() {
        let mut a = with_runs(app(true));
        press(&mut a, &tab.to_string());
        let t = crate::tui::render(&mut a, 80, 24);
        let footer = rows(&t)[22].trim_end().to_string();
        let hints = a.keymap.hints(a.context());
        assert!(
            footer.ends_with(" help") || hints.iter().any(|(_, h)| footer.ends_with(h)),
            "tab {tab}: footer cut mid-hint: {footer:?}"
        );
    }
}

#[test]
fn help_lists_the_panes_keys_first_and_scrolls_until_closed() {
    let mut a = with_runs(app(true));
    press(&mut a, "5?");
    let first = rows(&crate::tui::render(&mut a, 80, 24));
    // The first row under the header is one of History's own keys.
    let own = a.keymap.hints(a.context());
    assert!(
        own.iter().any(|(_, h)| first[3].contains(h)),
        "{}",
        first.join("\n")
    );
    press(&mut a, "j");
    assert_eq!(
        a.mode,
        atelier::tui::app::Mode::Help,
        "j scrolls, not closes"
    );
    let scrolled = rows(&crate::tui::render(&mut a, 80, 24));
    assert_ne!(first[3], scrolled[3], "j scrolls the keys");
    press(&mut a, "G");
    let bottom = rows(&crate::tui::render(&mut a, 80, 24)).join("\n");
    assert!(
        bottom.contains("quit"),
        "the last (global) keys can be reached: {bottom}"
    );
    press(&mut a, "\x1b");
    assert_eq!(a.mode, atelier::tui::app::Mode::Normal);
    press(&mut a, "??");
    assert_eq!(a.mode, atelier::tui::app::Mode::Normal, "? closes too");
}

/// `a` with its runs' folders under `dir`.
fn in_dir(mut a: App, dir: &std::path::Path) -> App {
    let mut snap = a.snap.clone();
    snap.data_dir = dir.into();
    a.on_data(snap);
    a
}

fn draw_once(a: &App, w: u16, h: u16) -> (String, Vec<atelier::tui::images::ImageKey>) {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    let mut want = Vec::new();
    t.draw(|f| atelier::tui::ui::draw(f, a, &mut want)).unwrap();
    (rows(&t).join("\n"), want)
}

fn write_png(path: &std::path::Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    image::RgbImage::from_pixel(8, 8, image::Rgb([200, 10, 10]))
        .save(path)
        .unwrap();
}

#[test]
fn live_keeps_the_previous_image_until_the_new_snapshot_is_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = in_dir(with_runs(app(true)), dir.path());
    let current = dir.path().join("runs/4/current.png");
    write_png(&current);
    press(&mut a, "4");
    crate::tui::render(&mut a, 80, 24);
    // The worker writes the next snapshot: a new stamp, not decoded yet.
    std::fs::File::options()
        .write(true)
        .open(&current)
        .unwrap()
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(10))
        .unwrap();
    let (screen, want) = draw_once(&a, 80, 24);
    assert!(!screen.contains("loading image"), "{screen}");
    assert!(
        want.iter().any(|k| k.path == current),
        "the new snapshot is asked for"
    );
}

fn training(a: App, dir: &std::path::Path) -> App {
    let (r, _) = crate::tui::train_run();
    let mut a = in_dir(a, dir);
    let mut snap = a.snap.clone();
    snap.queue = vec![r.clone()];
    snap.history = vec![r];
    snap.focus = None;
    a.on_data(snap);
    press(&mut a, "4");
    a
}

#[test]
fn live_shows_a_running_trainings_preview_or_says_there_is_none_yet() {
    let dir = tempfile::tempdir().unwrap();
    let a = training(app(true), dir.path());
    let (screen, want) = draw_once(&a, 80, 24);
    assert!(screen.contains("no preview yet"), "{screen}");
    assert!(!screen.contains("cannot show image"), "{screen}");
    assert!(want.is_empty(), "nothing to load: {want:?}");
    let current = dir.path().join("runs/9/current.png");
    write_png(&current);
    let (_, want) = draw_once(&a, 80, 24);
    assert!(want.iter().any(|k| k.path == current), "{want:?}");
}

#[test]
fn live_follows_the_workers_next_run_unless_one_is_pinned() {
    let mut a = with_runs(app(true));
    assert_eq!(a.live.run, Some(4));
    let history = a.snap.history.clone();
    let next = |a: &mut App| {
        let mut h = history.clone();
        h[0].status = Status::Done;
        refresh(
            a,
            vec![run(5, Status::Running, "chelsea", "irises", None)],
            h,
        );
    };
    next(&mut a);
    assert_eq!(a.live.run, Some(5), "Live follows the worker's current run");

    let mut a = with_runs(app(true));
    press(&mut a, "4]");
    next(&mut a);
    assert_eq!(a.live.run, Some(4), "a run pinned with ] stays");
}

/// Each pane as a newcomer's 80×24 terminal shows it.
#[test]
fn snapshots_of_every_pane_at_80x24() {
    for (tab, name) in [
        ("1", "library"),
        ("2", "compose"),
        ("3", "queue"),
        ("4", "live"),
        ("5", "history"),
        ("6", "watch"),
    ] {
        let mut a = with_runs(app(true));
        let mut snap = a.snap.clone();
        snap.watch = vec![crate::tui::rule("photos")];
        a.on_data(snap);
        press(&mut a, tab);
        let t = crate::tui::render(&mut a, 80, 24);
        insta::assert_snapshot!(format!("pane_80x24_{name}"), t.backend());
    }
}

#[test]
fn snapshot_help_at_80x24() {
    let mut a = with_runs(app(true));
    press(&mut a, "5?");
    insta::assert_snapshot!(crate::tui::render(&mut a, 80, 24).backend());
}

#[test]
fn history_filter_finds_runs_by_kind_and_says_when_nothing_matches() {
    let mut a = with_runs(app(true));
    let (train, _) = crate::tui::train_run();
    let mut snap = a.snap.clone();
    snap.history.insert(0, train);
    a.on_data(snap);
    a.history.set_filter("train");
    let rows = a.history.rows(&a.snap.history);
    assert_eq!(
        rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![9],
        "/train finds the training"
    );
    a.history.set_filter("no-such-photo");
    assert!(a.history.rows(&a.snap.history).is_empty());
    press(&mut a, "5");
    let (screen, _) = draw_once(&a, 80, 24);
    assert!(screen.contains("no run matches"), "{screen}");
    assert!(!screen.contains("no runs yet"), "{screen}");
}

#[test]
fn a_run_cancelled_before_it_started_shows_no_photo_as_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = in_dir(app(true), dir.path());
    let r = run(7, Status::Cancelled, "chelsea", "irises", None);
    let mut snap = a.snap.clone();
    snap.history = vec![r.clone()];
    snap.queue = Vec::new();
    a.on_data(snap);
    assert_eq!(atelier::tui::panes::live::run_image(&a, &r), None);
    press(&mut a, "5");
    let (screen, want) = draw_once(&a, 80, 24);
    assert!(want.is_empty(), "no image is asked for: {want:?}");
    assert!(screen.contains("no image"), "{screen}");
}

#[test]
fn a_finished_run_is_announced_without_saying_its_status_twice() {
    let mut a = with_runs(app(true));
    a.on_worker(atelier::queue::worker::WorkerEvent::Finished {
        run: 25,
        status: Status::Cancelled,
        detail: "cancelled".into(),
    });
    assert_eq!(
        a.message.as_ref().map(|m| m.0.as_str()),
        Some("run 25: cancelled")
    );
}

#[test]
fn the_watch_pane_says_whether_a_watcher_is_running() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = in_dir(app(true), dir.path());
    let mut snap = a.snap.clone();
    snap.watch = vec![crate::tui::rule("photos")];
    snap.watcher_running = atelier::watch::presence::watcher_running(dir.path());
    a.on_data(snap);
    press(&mut a, "6");
    let (screen, _) = draw_once(&a, 120, 36);
    assert!(screen.contains("no watcher running"), "{screen}");

    let held = atelier::watch::presence::announce(dir.path()).expect("presence lock");
    let mut snap = a.snap.clone();
    snap.watcher_running = atelier::watch::presence::watcher_running(dir.path());
    a.on_data(snap);
    let (screen, _) = draw_once(&a, 120, 36);
    assert!(screen.contains("watcher running"), "{screen}");
    assert!(!screen.contains("no watcher"), "{screen}");
    drop(held);
    assert!(!atelier::watch::presence::watcher_running(dir.path()));
}
