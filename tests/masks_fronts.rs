//! Masks from every front end: `queue add apply` (and its re-run), a
//! drop-folder rule's `style_masks`/`content_mask`, Compose's mask rows, `e`
//! from History, and the History side panel and Compare naming them.

use std::path::{Path, PathBuf};

use atelier::engine::gatys::spec::{RunSpec, StyleRef};
use atelier::jobs::{Input, Job, Role};
use atelier::queue::{Status, StoredJob};
use atelier::tui::data::{Command, Snapshot};
use atelier::tui::panes::compose::{Field, Kind};
use atelier::watch::{Rule, RuleConfig};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::masks::{files, path, save_mask, Regions};
use crate::util::{atelier_in, root, stdout_ok};

/// `runs show ID` of data folder `data`.
fn show(data: &Path, id: &str) -> String {
    stdout_ok(atelier_in(data).args(["runs", "show", id]))
}

/// An adain run queued with two paintings, their masks and a content mask:
/// `runs show` names the masks, a re-run keeps them, and a worker runs both.
#[test]
fn a_queued_apply_run_carries_its_masks_and_a_rerun_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (photo, _) = files(d);
    let data = d.join("data");
    let regions = Regions::new(d, 48);
    let top = save_mask(d, "top.png", 48, 48, |_, y| y < 36);
    let add = stdout_ok(
        atelier_in(&data)
            .args(["queue", "add", "apply", "adain", &photo])
            .args(regions.args())
            .args(["--content-mask", &path(&top)]),
    );
    let id = add.trim().trim_start_matches("queued run ").to_string();
    let want = "masks left, right; photo kept outside top";
    let shown = show(&data, &id);
    assert!(shown.contains(want), "{shown}");
    assert_eq!(shown.matches("  mask /").count(), 3, "{shown}");
    let again = stdout_ok(atelier_in(&data).args(["runs", "rerun", &id]));
    let rerun = again.split_whitespace().nth(2).unwrap().to_string();
    assert!(show(&data, &rerun).contains(want));
    stdout_ok(
        atelier_in(&data).args("worker --exit-when-idle --device cpu --log-every 0".split(' ')),
    );
    for run in [&id, &rerun] {
        let shown = show(&data, run);
        assert!(shown.contains("done"), "{shown}");
    }
}

/// A rule from `toml` (its inbox and output in `d`), resolved.
pub(crate) fn rule(d: &Path, toml_text: &str) -> Result<Rule, String> {
    std::fs::create_dir_all(d.join("inbox")).unwrap();
    let text = format!(
        "name = \"masked\"\ninbox = {:?}\noutput = {:?}\n{toml_text}\n",
        path(&d.join("inbox")),
        path(&d.join("out")),
    );
    let c: RuleConfig = toml::from_str(&text).unwrap();
    let models =
        atelier::engine::fast::models::ModelLibrary::new(root().join("models"), d.join("models"));
    Rule::resolve(&c, Default::default(), &root().join("styles"), &models)
        .map_err(|e| e.to_string())
}

pub(crate) fn list(paths: &[&Path]) -> String {
    let quoted: Vec<String> = paths.iter().map(|p| format!("{:?}", path(p))).collect();
    format!("[{}]", quoted.join(", "))
}

pub(crate) fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap()
}

/// The masks an arrival's runs carry: their paths in the specs, as inputs.
pub(crate) fn masks_of(inputs: &[Input]) -> Vec<PathBuf> {
    inputs
        .iter()
        .filter(|i| i.role == Role::Mask)
        .map(|i| i.path.clone())
        .collect()
}

/// `style_masks` and `content_mask` in a stylize rule and an adain rule:
/// each arrival makes one run with every style on its region, carrying the
/// masks; a count that does not match the styles, a missing or unreadable
/// mask, or style masks for a fast model are refused naming the rule.
#[test]
fn a_drop_folder_rule_with_masks_queues_runs_that_carry_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (photo, _) = files(d);
    let Regions { a, b, left, right } = Regions::new(d, 48);
    let top = save_mask(d, "top.png", 48, 48, |_, y| y < 36);
    let arrival = Input::checked(Role::Content, None, Path::new(&photo), 1 << 24).unwrap();
    let keys = format!(
        "styles = {}\nstyle_masks = {}\ncontent_mask = {:?}",
        list(&[&a, &b]),
        list(&[&left, &right]),
        path(&top)
    );
    let want: Vec<PathBuf> = [&left, &right, &top].map(|p| canonical(p)).to_vec();

    let stylize = rule(d, &keys).unwrap();
    let runs = stylize.watched_runs(arrival.clone());
    assert_eq!(runs.len(), 1, "one run with both styles on their regions");
    assert_eq!(runs[0].style, "blue+orange");
    let Job::Stylize(spec) = &runs[0].job else {
        panic!("not a stylize job: {:?}", runs[0].job)
    };
    assert_eq!(spec.styles.len(), 2);
    assert_eq!(spec.style_masks, want[..2]);
    assert_eq!(spec.content_mask.as_ref(), Some(&want[2]));
    assert_eq!(masks_of(&runs[0].inputs), want);

    let adain = rule(d, &format!("model = \"adain\"\n{keys}")).unwrap();
    let runs = adain.watched_runs(arrival.clone());
    assert_eq!(runs.len(), 1, "one output with each painting on its region");
    let Job::Apply(spec) = &runs[0].job else {
        panic!("not an apply job: {:?}", runs[0].job)
    };
    assert_eq!(spec.style_masks, want[..2]);
    assert_eq!(spec.content_mask.as_ref(), Some(&want[2]));
    assert_eq!(masks_of(&runs[0].inputs), want);

    // A content mask alone: a run per style, each keeping the photo outside it.
    let kept = rule(
        d,
        &format!(
            "styles = {}\ncontent_mask = {:?}",
            list(&[&a, &b]),
            path(&top)
        ),
    )
    .unwrap();
    let runs = kept.watched_runs(arrival);
    assert_eq!(runs.len(), 2);
    for r in &runs {
        assert_eq!(r.job.gatys().unwrap().content_mask.as_ref(), Some(&want[2]));
        assert_eq!(masks_of(&r.inputs), want[2..]);
    }

    let text = d.join("notes.png");
    std::fs::write(&text, "not an image").unwrap();
    let missing = d.join("missing.png");
    for (keys, says) in [
        (
            format!(
                "styles = {}\nstyle_masks = {}",
                list(&[&a, &b]),
                list(&[&left])
            ),
            vec!["style_masks", "1 given for 2 styles"],
        ),
        (
            format!(
                "styles = {}\ncontent_mask = {:?}",
                list(&[&a]),
                path(&missing)
            ),
            vec!["content_mask", "missing.png"],
        ),
        (
            format!("styles = {}\nstyle_masks = {}", list(&[&a]), list(&[&text])),
            vec!["style_masks", "notes.png", "not a readable image"],
        ),
        (
            format!("model = \"irises\"\nstyle_masks = {}", list(&[&left])),
            vec!["adain and wct"],
        ),
    ] {
        let e = rule(d, &keys).expect_err(&keys);
        assert!(e.starts_with("watch rule 'masked': "), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        for s in says {
            assert!(e.contains(s), "{keys}: {e}");
        }
    }
}

fn ctrl_u() -> KeyEvent {
    KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)
}

/// Moves to the Compose row labelled `label`.
fn select_row(a: &mut atelier::tui::app::App, label: &str) {
    let c = &a.compose;
    a.compose.field = c
        .fields()
        .iter()
        .position(|f| c.label(*f) == label)
        .unwrap_or_else(|| panic!("no row '{label}'"));
}

/// Types `text` into the Compose row labelled `label`.
fn type_row(a: &mut atelier::tui::app::App, label: &str, text: &str) {
    select_row(a, label);
    crate::tui::press(a, "\n");
    a.on_key(ctrl_u());
    crate::tui::press(a, &format!("{text}\n"));
}

/// The runs the last `r` queued.
fn queued(a: &atelier::tui::app::App) -> Vec<Job> {
    match a.outbox.last() {
        Some(Command::Enqueue(items)) => items.iter().map(|r| r.job.clone()).collect(),
        other => panic!("expected an enqueue, got {other:?} ({:?})", a.compose.error),
    }
}

/// Compose: a mask row per marked painting and a content-mask row, for
/// stylize and an adain model; the masks go into the queued runs (each
/// painting's own in a run per painting, all of them in a blend); `none`
/// clears, a bad file is refused naming it.
#[test]
fn compose_mask_rows_go_into_the_queued_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let left = save_mask(d, "left.png", 48, 48, |x, _| x < 24);
    let right = save_mask(d, "right.png", 48, 48, |x, _| x >= 24);
    let top = save_mask(d, "top.png", 48, 48, |_, y| y < 36);
    let mut a = crate::tui::app(true);
    // The photo, two paintings marked, then Compose.
    crate::tui::press(&mut a, "1\nl j 2");
    type_row(&mut a, "mask of irises", &path(&left));
    type_row(&mut a, "mask of wheat-field-with-cypresses", &path(&right));
    type_row(&mut a, "content mask", &path(&top));
    assert_eq!(a.compose.error, None);
    let screen = format!("{:?}", crate::tui::render(&mut a, 200, 50).backend());
    assert!(
        screen.contains("mask of irises") && screen.contains("left.png"),
        "{screen}"
    );
    crate::tui::press(&mut a, "r");
    let masks = |j: &Job| j.gatys().unwrap().style_masks.clone();
    let runs = queued(&a);
    assert_eq!(runs.len(), 2);
    assert_eq!(masks(&runs[0]), std::slice::from_ref(&left));
    assert_eq!(masks(&runs[1]), std::slice::from_ref(&right));
    assert!(runs
        .iter()
        .all(|j| j.gatys().unwrap().content_mask.as_ref() == Some(&top)));
    a.compose.set(Field::Styles, "blend").unwrap();
    crate::tui::press(&mut a, "r");
    let runs = queued(&a);
    assert_eq!(runs.len(), 1);
    assert_eq!(masks(&runs[0]), [left.clone(), right.clone()]);

    // An adain model: the same rows, into its runs.
    let mut adain = crate::tui::model_item("adain", "");
    adain.arbitrary = Some(atelier::engine::arbitrary::model_file::Method::Adain);
    a.compose.kind = Kind::Apply;
    a.compose.model = Some(adain);
    crate::tui::press(&mut a, "r");
    let runs = queued(&a);
    let Job::Apply(spec) = &runs[0] else {
        panic!("not an apply job: {:?}", runs[0])
    };
    assert_eq!(spec.style_masks, [left.clone(), right.clone()]);
    assert_eq!(spec.content_mask.as_ref(), Some(&top));

    type_row(&mut a, "mask of wheat-field-with-cypresses", "none");
    crate::tui::press(&mut a, "r");
    let e = a.compose.error.clone().unwrap_or_default();
    assert!(e.contains("wheat-field-with-cypresses has no mask"), "{e}");
    type_row(&mut a, "content mask", &path(&d.join("gone.png")));
    let e = a.compose.error.clone().unwrap_or_default();
    assert!(
        e.starts_with("content mask: ") && e.contains("gone.png"),
        "{e}"
    );
    assert_eq!(a.compose.masks.content.as_ref(), Some(&top), "kept");
}

/// Compose: +/- on a mask row step through the images of the library's
/// `masks/` folder (beside its paintings' folder) after none, so a mask is
/// picked rather than typed; the one picked goes into the queued runs.
#[test]
fn compose_picks_a_mask_from_the_librarys_masks_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let masks = d.join("masks");
    std::fs::create_dir_all(&masks).unwrap();
    std::fs::create_dir_all(d.join("styles")).unwrap();
    std::fs::write(d.join("styles/catalog.json"), "[]").unwrap();
    let sky = save_mask(&masks, "sky.png", 48, 48, |_, y| y < 20);
    let field = save_mask(&masks, "field.png", 48, 48, |_, y| y >= 20);
    std::fs::write(masks.join("notes.txt"), "not an image").unwrap();
    let mut a = crate::tui::app(true);
    crate::tui::press(&mut a, "1\nl j 2");
    a.compose.paintings =
        Some(atelier::engine::infra::library::Library::open(&d.join("styles")).unwrap());
    select_row(&mut a, "content mask");
    crate::tui::press(&mut a, "+");
    assert_eq!(a.compose.masks.content.as_ref(), Some(&field));
    crate::tui::press(&mut a, "+");
    assert_eq!(a.compose.masks.content.as_ref(), Some(&sky));
    crate::tui::press(&mut a, "+");
    assert_eq!(a.compose.masks.content, None, "round through none");
    crate::tui::press(&mut a, "-");
    assert_eq!(a.compose.masks.content.as_ref(), Some(&sky));
    let screen = format!("{:?}", crate::tui::render(&mut a, 200, 50).backend());
    assert!(screen.contains("masks/sky.png"), "{screen}");
    crate::tui::press(&mut a, "r");
    let runs = queued(&a);
    assert!(!runs.is_empty());
    assert!(runs
        .iter()
        .all(|j| j.gatys().unwrap().content_mask.as_ref() == Some(&sky)));
}

/// A finished stylize run with two style masks and a content mask.
fn masked_run(id: i64) -> atelier::queue::Run {
    let mut r = crate::tui::run(id, Status::Done, "chelsea", "irises", Some(2e6));
    let spec = RunSpec {
        styles: ["irises", "the-harvesters"]
            .iter()
            .map(|s| StyleRef {
                path: format!("/library/{s}.png").into(),
                weight: 1.0,
            })
            .collect(),
        style_masks: vec!["/masks/sky.png".into(), "/masks/field.png".into()],
        content_mask: Some("/masks/not-the-dog.png".into()),
        ..crate::tui::spec()
    };
    r.job = StoredJob::Known(Job::Stylize(spec));
    for m in ["sky", "field", "not-the-dog"] {
        r.inputs.push(Input::hashed(
            Role::Mask,
            None,
            format!("/masks/{m}.png").into(),
            "0".repeat(64),
        ));
    }
    r
}

/// History names a masked run's masks in its side panel and in Compare, and
/// `e` opens it in Compose with its masks in their rows.
#[test]
fn history_names_a_runs_masks_and_e_fills_them_into_compose() {
    let mut a = crate::tui::app(true);
    let plain = crate::tui::run(1, Status::Done, "astronaut", "irises", Some(4e6));
    a.on_data(Snapshot {
        history: vec![masked_run(2), plain],
        data_dir: "/data".into(),
        ..Snapshot::default()
    });
    crate::tui::press(&mut a, "5");
    let want = "masks sky, field; photo kept outside not-the-dog";
    let screen = crate::tui::render(&mut a, 200, 40);
    let text = format!("{:?}", screen.backend());
    assert!(text.contains(want), "{text}");
    crate::tui::press(&mut a, "mjC");
    assert_eq!(a.history.compare, Some((2, 1)));
    let text = format!("{:?}", crate::tui::render(&mut a, 200, 40).backend());
    assert!(text.contains(want), "Compare: {text}");
    crate::tui::press(&mut a, "\x1bke");
    assert_eq!(a.compose.kind, Kind::Stylize);
    let c = &a.compose;
    let row = |label: &str| {
        let f = c.fields().into_iter().find(|f| c.label(*f) == label);
        f.map(|f| c.value(f))
            .unwrap_or_else(|| panic!("no row {label}"))
    };
    assert_eq!(row("mask of irises"), "/masks/sky.png");
    assert_eq!(row("mask of the-harvesters"), "/masks/field.png");
    assert_eq!(row("content mask"), "/masks/not-the-dog.png");
    assert!(
        c.spec.style_masks.is_empty() && c.spec.content_mask.is_none(),
        "the masks are rows, not preset parameters"
    );
}
