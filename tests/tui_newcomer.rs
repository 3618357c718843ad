//! The TUI as a newcomer meets it (issue 28): every pane at 80×24, a cursor
//! that stays on its run when the lists change under it, and a Live pane that
//! follows the worker and never blanks its image.

use atelier::queue::{Run, Status};
use atelier::tui::app::App;
use atelier::tui::data::Command;

use atelier::jobs::Job;
use atelier::tui::panes::compose::train::DatasetChoice;
use atelier::tui::panes::compose::{Field, Kind};
use atelier::tui::tab::Tab;

use crate::tui::{app, model_item, press, render, run, with_runs};

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

/// A fresh checkout has no training set: Compose trains on the Library's
/// photos, shows the folder as a row, and says how long a run should take
/// at the pace of a model trained on this device.
#[test]
fn compose_train_offers_the_photos_when_no_training_set_is_made_and_says_how_long() {
    let dir = tempfile::tempdir().unwrap();
    let (none, photos) = (
        dir.path().join("datasets/photos"),
        dir.path().join("contents"),
    );
    std::fs::create_dir_all(&photos).unwrap();
    for name in ["a", "b"] {
        image::RgbImage::from_pixel(40, 40, image::Rgb([90, 120, 30]))
            .save(photos.join(format!("{name}.png")))
            .unwrap();
    }
    let mut a = app(true);
    a.lib.set_models(vec![model_item("irises", "irises")]);
    a.compose.set_datasets(
        [&none, &photos]
            .iter()
            .map(|p| DatasetChoice::scan(p, false).unwrap())
            .collect(),
    );
    press(&mut a, "l j 2");
    a.compose.set(Field::Kind, "train").unwrap();
    assert_eq!(a.compose.train.dataset, photos, "the folder with photos");
    // Wide: the folders are under a temporary folder with a long name.
    let screen = render(&mut a, 200, 30).backend().to_string();
    assert!(screen.contains("contents (2 photos)"), "{screen}");
    // irises: 2400 × 2 crops of 128 px in 20 min; the form's 2000 × 4 of 256 px.
    assert!(screen.contains("≈ 2.2 h per model"), "{screen}");
    assert!(screen.contains("pace of irises"), "{screen}");
    press(&mut a, "j+");
    let screen = render(&mut a, 200, 30).backend().to_string();
    assert!(screen.contains("datasets/photos (none)"), "{screen}");
    assert!(screen.contains("make dataset"), "{screen}");
    press(&mut a, "r");
    match a.outbox.last() {
        Some(Command::Enqueue(items)) => match &items[0].job {
            Job::Train(s) => assert_eq!(s.train.dataset, none),
            other => panic!("not a training: {other:?}"),
        },
        other => panic!("nothing queued: {other:?}"),
    }
}

/// `e` on a training run in History opens the train form with its painting,
/// dataset and settings.
#[test]
fn e_on_a_training_run_opens_the_train_form() {
    let (r, _) = crate::tui::train_run();
    let mut a = app(true);
    let mut snap = a.snap.clone();
    snap.history = vec![r];
    a.on_data(snap);
    press(&mut a, "5e");
    assert_eq!(a.tab, Tab::Compose);
    assert_eq!(a.compose.kind, Kind::Train);
    assert_eq!(a.compose.train.iterations, 1000);
    assert_eq!(a.compose.styles.len(), 1);
    let screen = render(&mut a, 80, 24).backend().to_string();
    assert!(screen.contains("/data/coco"), "{screen}");
    assert!(screen.contains("r queues 1 training run"), "{screen}");
}

/// An adain/wct model takes any paintings: no "its one style"; the marked
/// paintings run each or mixed with their weights.
#[test]
fn compose_apply_with_an_arbitrary_model_mixes_the_marked_paintings() {
    let mut a = app(true);
    let mut adain = model_item("adain", "");
    adain.arbitrary = Some(atelier::engine::arbitrary::model_file::Method::Adain);
    a.lib.set_models(vec![adain]);
    press(&mut a, "j\nll\nh j 2");
    assert_eq!(a.compose.kind, Kind::Apply);
    let screen = render(&mut a, 80, 24).backend().to_string();
    assert!(!screen.contains("one style"), "{screen}");
    assert!(screen.contains("each (2 runs)"), "{screen}");
    a.compose.set(Field::Styles, "mix").unwrap();
    a.compose.set(Field::Weight(0), "3").unwrap();
    let screen = render(&mut a, 80, 24).backend().to_string();
    assert!(screen.contains("mix (1 run: 0.75"), "{screen}");
    assert!(screen.contains("mixing 2 paintings"), "{screen}");
    press(&mut a, "r");
    let Some(Command::Enqueue(items)) = a.outbox.last() else {
        panic!("nothing queued: {:?}", a.compose.error)
    };
    assert_eq!(items.len(), 1, "one mixed run");
    let Job::Apply(s) = &items[0].job else {
        panic!("not an apply job")
    };
    let arb = s.arbitrary.as_ref().expect("paintings");
    let weights: Vec<f64> = arb.styles.iter().map(|s| s.weight).collect();
    assert_eq!(weights.len(), 2);
    assert!(weights[0] > weights[1], "{weights:?}");
    assert_eq!(items[0].style_names.len(), 2);
}

/// A refused `r` replaces the status line's last news, and the reason stays
/// inside Compose's box until the pane is left.
#[test]
fn a_refused_enqueue_says_why_now_and_the_reason_leaves_with_the_pane() {
    let mut a = app(true);
    a.say("queued runs 4, 5");
    press(&mut a, "2r");
    let screen = render(&mut a, 80, 24).backend().to_string();
    assert!(!screen.contains("queued runs 4, 5"), "{screen}");
    assert!(
        screen.contains("not queued: pick a content photo"),
        "{screen}"
    );
    let rows: Vec<&str> = screen.lines().collect();
    let inside = rows
        .iter()
        .filter(|l| l.contains("│pick a content photo"))
        .count();
    assert_eq!(inside, 1, "the reason inside the Inputs box: {screen}");
    press(&mut a, "12");
    assert_eq!(a.compose.error, None, "left with the pane");
}

/// History reads a page of runs from the store around the cursor: `G` asks
/// for the last page of 20,000, the cursor lands on the oldest run there and
/// Enter opens it; a filter is the store's to apply, from the first page.
#[test]
fn history_pages_in_the_store_down_to_the_oldest_run() {
    use atelier::tui::panes::history::PAGE;
    let total = 20_000;
    // Run ids count down from the newest (20000) to the oldest (1).
    let page = |offset: usize| -> Vec<Run> {
        (offset..(offset + PAGE).min(total))
            .map(|i| {
                run(
                    (total - i) as i64,
                    Status::Done,
                    "chelsea",
                    "irises",
                    Some(1.0),
                )
            })
            .collect()
    };
    let asked = |a: &App| {
        a.outbox.iter().rev().find_map(|c| match c {
            Command::History(f) => Some(f.clone()),
            _ => None,
        })
    };
    let mut a = app(true);
    let mut snap = a.snap.clone();
    (snap.history, snap.history_total) = (page(0), total);
    a.on_data(snap.clone());
    press(&mut a, "5G");
    let f = asked(&a).expect("a page asked for");
    assert!(f.offset > total - PAGE && f.offset < total, "{f:?}");
    (snap.history, snap.history_offset) = (page(f.offset), f.offset);
    a.on_data(snap);
    let screen = render(&mut a, 80, 24).backend().to_string();
    assert!(screen.contains("History (20000)"), "{screen}");
    press(&mut a, "\n");
    assert_eq!(a.history.open, Some(1), "the oldest run opened");
    assert!(a.run(1).is_some());
    press(&mut a, "\x1b/#1\n");
    let f = asked(&a).unwrap();
    assert_eq!((f.text.as_deref(), f.offset), (Some("#1"), 0));
}

/// A photo with an author and no date is credited as "NASA", not "NASA ·".
#[test]
fn an_undated_photo_is_credited_without_a_dangling_separator() {
    let mut a = app(true);
    for item in &mut a.lib.contents {
        (item.artist, item.date) = ("NASA".into(), String::new());
    }
    let screen = render(&mut a, 100, 24).backend().to_string();
    assert!(screen.contains("NASA"), "{screen}");
    assert!(!screen.contains("NASA ·"), "{screen}");
}

/// `e` on an apply run loads its model, photo, size and paintings (mixed, as
/// it ran) into Compose; a run whose model left the Library says so.
#[test]
fn e_on_an_apply_run_loads_its_model_photo_and_paintings() {
    use atelier::engine::arbitrary::model_file::Method;
    use atelier::engine::gatys::spec::StyleRef;
    use atelier::jobs::apply::{ArbSettings, Spec};
    let painting = |name: &str, weight| StyleRef {
        path: format!("/library/{name}.png").into(),
        weight,
    };
    let mut r = run(7, Status::Done, "chelsea", "irises", None);
    let styles = vec![painting("irises", 0.75), painting("the-harvesters", 0.25)];
    r.job = atelier::queue::StoredJob::Known(Job::Apply(Spec {
        model: "/models/adain.safetensors".into(),
        model_name: Some("adain".into()),
        contents: vec!["/library/chelsea.png".into()],
        size: Some(384),
        pixel_limit: 1 << 24,
        mix: None,
        arbitrary: Some(ArbSettings::new(Method::Adain, styles)),
        msg: Vec::new(),
        style_masks: Vec::new(),
        regions: None,
        content_mask: None,
    }));
    let mut a = app(true);
    let mut snap = a.snap.clone();
    snap.history = vec![r];
    a.on_data(snap);
    press(&mut a, "5e");
    assert_eq!(a.tab, Tab::History, "no adain in the Library: not loaded");
    assert!(a.message.as_ref().unwrap().0.contains("not in the Library"));
    let mut adain = model_item("adain", "");
    adain.arbitrary = Some(Method::Adain);
    a.lib.set_models(vec![adain]);
    press(&mut a, "e");
    assert_eq!((a.tab, a.compose.kind), (Tab::Compose, Kind::Apply));
    assert_eq!(a.compose.apply_size, Some(384));
    assert_eq!(a.compose.content.as_ref().unwrap().name, "chelsea");
    assert_eq!(a.compose.styles.len(), 2);
    assert!(a.compose.blends(), "mixed, as it ran");
    press(&mut a, "r");
    let Some(Command::Enqueue(items)) = a.outbox.last() else {
        panic!("nothing queued: {:?}", a.compose.error)
    };
    assert_eq!(items.len(), 1);
}
