//! The browse preview refined in place: the model's preview first, then a
//! short Gatys run shown as it improves, stopped by a newer request, and not
//! started while a worker of this host runs on the preview's device.

use std::path::Path;
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use atelier::engine::gatys::spec::RunSpec;
use atelier::tui::browse::{BrowseDone, BrowseKey, Browser, Stage};
use atelier::tui::browse_refine::Refine;
use atelier::tui::event::Event;

use crate::tui::browse_pair;
use crate::util::{root, weights_path};

/// A preview thread with the bundled adain model, refining at 32 px for
/// `steps` iterations, caching in `out`.
fn spawn(out: &Path, steps: usize) -> (Browser, Receiver<Event>) {
    let (tx, rx) = channel();
    let refine = Refine::new(RunSpec::default(), 32, steps, weights_path());
    let b = Browser::spawn(
        "adain".into(),
        root().join("models/adain.safetensors"),
        weights_path(),
        tch::Device::Cpu,
        out.to_path_buf(),
        Some(refine),
        tx,
    );
    (b, rx)
}

/// The next preview news (the timeout only keeps a broken thread from
/// hanging the suite).
fn next(rx: &Receiver<Event>) -> BrowseDone {
    loop {
        match rx.recv_timeout(Duration::from_secs(600)) {
            Ok(Event::Browse(d)) => return *d,
            Ok(_) => continue,
            Err(e) => panic!("no news from the preview thread: {e}"),
        }
    }
}

/// News until one for `key` at a stage `until` accepts; the stages seen.
fn stages_until(rx: &Receiver<Event>, key: &BrowseKey, until: fn(&Stage) -> bool) -> Vec<Stage> {
    let mut seen = Vec::new();
    loop {
        let d = next(rx);
        if &d.key != key {
            continue;
        }
        d.result.as_ref().expect("an image");
        seen.push(d.stage.clone());
        if until(&seen[seen.len() - 1]) {
            return seen;
        }
    }
}

#[test]
fn a_resting_cursor_gets_the_model_preview_then_the_refined_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cache");
    let key = browse_pair(dir.path());
    let (b, rx) = spawn(&out, 10);
    b.ask(key.clone());
    let model = next(&rx);
    assert_eq!(model.stage, Stage::Model);
    let seen = stages_until(&rx, &key, |s| {
        *s != Stage::Model && !matches!(s, Stage::Refining { .. })
    });
    // An image every 5 evaluations of 10, then the best one.
    assert_eq!(seen[0], Stage::Refining { step: 5, of: 10 }, "{seen:?}");
    assert_eq!(seen.last(), Some(&Stage::Refined), "{seen:?}");
    let refined = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("-refined-"))
        .expect("the refined preview is kept");
    let limit = atelier::engine::infra::image_io::DEFAULT_PIXEL_LIMIT;
    let img = atelier::engine::infra::image_io::load_rgb(&refined, limit).unwrap();
    assert_eq!(img.width().max(img.height()), 32, "made at the refine size");
    // A new session shows the refined preview at once, from the cache.
    drop(b);
    let (b, rx) = spawn(&out, 10);
    b.ask(key.clone());
    let d = next(&rx);
    assert_eq!((d.stage, d.result), (Stage::Refined, Ok(refined)));
}

#[test]
fn a_newer_request_stops_the_refinement_before_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let key = browse_pair(dir.path());
    let other = BrowseKey {
        content: key.content.clone(),
        style: dir.path().join("other.png"),
    };
    crate::util::write_pattern(&other.style, 48, 40);
    let (b, rx) = spawn(&dir.path().join("cache"), 100_000);
    b.ask(key.clone());
    // Once it shows a first refined image, the cursor moves on.
    stages_until(&rx, &key, |s| matches!(s, Stage::Refining { .. }));
    b.ask(other.clone());
    let seen = stages_until(&rx, &key, |s| !matches!(s, Stage::Refining { .. }));
    assert_eq!(seen.last(), Some(&Stage::Stopped), "{seen:?}");
    let d = next(&rx);
    assert_eq!((d.key, d.stage), (other, Stage::Model));
}

#[test]
fn no_refinement_starts_while_a_worker_runs_on_the_device() {
    let dir = tempfile::tempdir().unwrap();
    let key = browse_pair(dir.path());
    let (b, rx) = spawn(&dir.path().join("cache"), 5);
    assert!(!b.set_busy(true));
    b.ask(key.clone());
    assert_eq!(next(&rx).stage, Stage::Model);
    let d = next(&rx);
    assert_eq!(
        d.stage,
        Stage::Held,
        "the next news after the model's preview"
    );
    assert!(
        d.result.unwrap().is_file(),
        "the model's preview stays shown"
    );
    // The worker goes idle: asked again, it refines.
    assert!(b.set_busy(false), "went idle");
    b.ask(key.clone());
    let seen = stages_until(&rx, &key, |s| *s == Stage::Refined);
    assert_eq!(seen[0], Stage::Model);
    assert!(
        seen.contains(&Stage::Refining { step: 5, of: 5 }),
        "{seen:?}"
    );
}

/// The Library's caption says which stage the Preview shows.
#[test]
fn the_preview_caption_names_the_stage() {
    use crate::tui::{app, press, render};
    let mut a = app(true);
    a.browse_model = Some("adain".into());
    press(&mut a, "\nl");
    let key = a.browse_request().expect("a photo and a painting");
    for (stage, says) in [
        (Stage::Model, "(adain)"),
        (Stage::Refining { step: 40, of: 60 }, "(refining 40/60)"),
        (Stage::Refined, "(refined)"),
        (Stage::Held, "(adain; refines when the worker"),
    ] {
        a.browse.insert(BrowseDone {
            key: key.clone(),
            stage,
            result: Ok(a.compose.content.as_ref().unwrap().path.clone()),
        });
        // Wide enough that the caption is not wrapped.
        let text = render(&mut a, 200, 30).backend().to_string();
        assert!(text.contains(says), "{says}: {text}");
    }
}
