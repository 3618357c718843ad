//! Every front end builds a stylize or a texture through the kind's one
//! builder: the same bad request is refused with the same sentence by the
//! one-shot command, `queue add`, `runs rerun`, Compose's enqueue and a
//! drop-folder rule, and the limits are the config's.

use std::path::{Path, PathBuf};

use atelier::engine::fast::models::ModelLibrary;
use atelier::engine::gatys::spec::RunSpec;
use atelier::jobs::Limits;
use atelier::queue::{Filter, Store};
use atelier::tui::panes::compose::{ComposeState, Kind, MarkedStyle};
use atelier::tui::panes::library::LibItem;
use atelier::watch::{Rule, RuleConfig};

use crate::util::{atelier, error_of, root, stdout_ok, write_pattern};

/// The config's `[run] pixel_limit` in these tests: the photo and the small
/// painting are within it, the large painting is not.
const PIXEL_LIMIT: u64 = 4000;

struct Setup {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    data: PathBuf,
    config: PathBuf,
    photo: PathBuf,
    small: PathBuf,
    large: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let config = dir.join("config.toml");
    std::fs::write(&config, format!("[run]\npixel_limit = {PIXEL_LIMIT}\n")).unwrap();
    let photo = dir.join("photo.png");
    write_pattern(&photo, 40, 32);
    let small = dir.join("small.png");
    write_pattern(&small, 48, 48);
    let large = dir.join("large.png");
    write_pattern(&large, 80, 80);
    Setup {
        data: dir.join("data"),
        _tmp: tmp,
        dir,
        config,
        photo,
        small,
        large,
    }
}

/// `atelier` with the test's config and data folder.
fn cmd(s: &Setup) -> std::process::Command {
    let mut c = atelier();
    c.arg("--config")
        .arg(&s.config)
        .arg("--data-dir")
        .arg(&s.data);
    c
}

/// The sentence a painting over the config's pixel limit is refused with.
fn over_limit(p: &Path) -> String {
    format!(
        "{}: 80x80 is 6400 pixels, over the limit of {PIXEL_LIMIT} (refused before decoding)",
        p.display()
    )
}

/// The sentence a size over the largest is refused with.
const TOO_LARGE: &str = "invalid size: 20000 px (use 16 to 16384)";

/// The run parameters of the config at `size` px, a step long.
fn params(size: u32) -> RunSpec {
    RunSpec {
        size,
        steps: 1,
        pixel_limit: PIXEL_LIMIT,
        ..Default::default()
    }
}

/// Compose with the photo, `painting` marked, the config's limits.
fn compose(s: &Setup, kind: Kind, painting: &Path, size: u32) -> ComposeState {
    let mut c = ComposeState::new(params(size));
    c.kind = kind;
    c.limits = Limits {
        pixel_limit: PIXEL_LIMIT,
        ..Limits::default()
    };
    c.content = Some(LibItem::from_path(&s.photo));
    c.styles = vec![MarkedStyle {
        item: LibItem::from_path(painting),
        weight: 1.0,
    }];
    c
}

/// What Compose's enqueue says of its runs (`Err`: why they were refused).
fn compose_enqueue(s: &Setup, c: &ComposeState) -> Result<String, String> {
    let mut store = Store::open(&s.data).unwrap();
    atelier::tui::data::enqueue(&mut store, c.runs()?)
}

/// A stylize rule over an inbox in `s` with `painting`, on `spec`: the
/// rule's error, if it is refused.
fn rule(s: &Setup, painting: &Path, spec: RunSpec) -> Result<Rule, String> {
    let inbox = s.dir.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let text = format!(
        "name = \"camera\"\ninbox = {:?}\noutput = {:?}\nstyles = [{:?}]\n",
        inbox.display().to_string(),
        s.dir.join("out").display().to_string(),
        painting.display().to_string(),
    );
    let c: RuleConfig = toml::from_str(&text).unwrap();
    let models = ModelLibrary::new(root().join("models"), s.data.join("models"));
    Rule::resolve(&c, spec, &root().join("styles"), &models).map_err(|e| e.to_string())
}

/// A folder of one training photo in `s`.
fn training_photos(s: &Setup) -> PathBuf {
    let photos = s.dir.join("photos");
    std::fs::create_dir_all(&photos).unwrap();
    write_pattern(&photos.join("a.png"), 40, 40);
    photos
}

fn queue_is_empty(s: &Setup) -> bool {
    Store::open(&s.data)
        .unwrap()
        .list(&Filter::default())
        .unwrap()
        .is_empty()
}

#[test]
fn a_painting_over_the_pixel_limit_is_refused_with_one_sentence_by_every_front_end() {
    let s = setup();
    let want = over_limit(&s.large);
    let out = s.dir.join("o.png");
    let cli = error_of(
        cmd(&s)
            .arg("stylize")
            .args([&s.photo, &s.large])
            .args(["--size", "32", "--steps", "1", "-o"])
            .arg(&out),
    );
    assert_eq!(cli, want, "atelier stylize");
    let queue = error_of(
        cmd(&s)
            .args(["queue", "add"])
            .args([&s.photo, &s.large])
            .args(["--size", "32"]),
    );
    assert_eq!(queue, want, "queue add");
    let c = compose(&s, Kind::Stylize, &s.large, 32);
    assert_eq!(compose_enqueue(&s, &c).unwrap_err(), want, "Compose");
    let e = rule(&s, &s.large, params(32)).unwrap_err();
    assert_eq!(e, format!("watch rule 'camera': {want}"), "a rule");
    // Within the limit, each accepts it.
    assert!(rule(&s, &s.small, params(32)).is_ok());
    assert!(!out.exists());
    assert!(queue_is_empty(&s));
}

#[test]
fn a_size_over_the_largest_is_refused_with_one_sentence_by_every_front_end() {
    let s = setup();
    let out = s.dir.join("o.png");
    let cli = error_of(
        cmd(&s)
            .arg("stylize")
            .args([&s.photo, &s.small])
            .args(["--size", "20000", "--steps", "1", "-o"])
            .arg(&out),
    );
    assert_eq!(cli, TOO_LARGE, "atelier stylize");
    let queue = error_of(
        cmd(&s)
            .args(["queue", "add"])
            .args([&s.photo, &s.small])
            .args(["--size", "20000"]),
    );
    assert_eq!(queue, TOO_LARGE, "queue add");
    let c = compose(&s, Kind::Stylize, &s.small, 20000);
    assert_eq!(compose_enqueue(&s, &c).unwrap_err(), TOO_LARGE, "Compose");
    let e = rule(&s, &s.small, params(20000)).unwrap_err();
    assert_eq!(e, format!("watch rule 'camera': {TOO_LARGE}"), "a rule");
    assert!(!out.exists());
    assert!(queue_is_empty(&s));
    // A re-run asked for that size is refused the same way.
    stdout_ok(
        cmd(&s)
            .args(["queue", "add"])
            .args([&s.photo, &s.small])
            .args(["--size", "32", "--steps", "1"]),
    );
    let rerun = error_of(cmd(&s).args(["runs", "rerun", "1", "--set", "size=20000"]));
    assert_eq!(rerun, TOO_LARGE, "runs rerun");
    let runs = Store::open(&s.data)
        .unwrap()
        .list(&Filter::default())
        .unwrap();
    assert_eq!(runs.len(), 1, "no re-run queued");
}

#[test]
fn a_texture_of_a_painting_over_the_pixel_limit_is_refused_with_one_sentence() {
    let s = setup();
    let want = over_limit(&s.large);
    let out = s.dir.join("t.png");
    let cli = error_of(
        cmd(&s)
            .arg("texture")
            .arg(&s.large)
            .args(["--size", "32", "--steps", "1", "-o"])
            .arg(&out),
    );
    assert_eq!(cli, want, "atelier texture");
    let queue = error_of(
        cmd(&s)
            .args(["queue", "add", "texture"])
            .arg(&s.large)
            .args(["--size", "32"]),
    );
    assert_eq!(queue, want, "queue add texture");
    let c = compose(&s, Kind::Texture, &s.large, 32);
    assert_eq!(compose_enqueue(&s, &c).unwrap_err(), want, "Compose");
    // Within the limit, each queues it: a texture of the small painting.
    stdout_ok(
        cmd(&s)
            .args(["queue", "add", "texture"])
            .arg(&s.small)
            .args(["--size", "32", "--steps", "1"]),
    );
    let c = compose(&s, Kind::Texture, &s.small, 32);
    assert_eq!(compose_enqueue(&s, &c).unwrap(), "queued run 2");
    assert!(!out.exists());
}

#[test]
fn a_training_on_an_empty_dataset_is_refused_with_one_sentence_by_every_front_end() {
    let s = setup();
    let empty = s.dir.join("no-photos");
    std::fs::create_dir_all(&empty).unwrap();
    let want = format!(
        "invalid dataset: {}: no images found (0 other files skipped); fill it with `make dataset` or point --dataset at a folder of photos",
        empty.display()
    );
    let cli = error_of(
        cmd(&s)
            .arg("train")
            .arg(&s.small)
            .args(["--iterations", "1", "-o", "mine", "--dataset"])
            .arg(&empty),
    );
    assert_eq!(cli, want, "atelier train");
    let queue = error_of(
        cmd(&s)
            .args(["queue", "add", "train"])
            .arg(&s.small)
            .args(["--iterations", "1", "--dataset"])
            .arg(&empty),
    );
    assert_eq!(queue, want, "queue add train");
    let mut c = compose(&s, Kind::Train, &s.small, 32);
    c.train.dataset = empty.clone();
    c.train.iterations = 1;
    assert_eq!(compose_enqueue(&s, &c).unwrap_err(), want, "Compose");
    assert!(queue_is_empty(&s));
    assert!(!s.data.join("models/mine.safetensors").exists());
}

#[test]
fn a_training_on_a_painting_over_the_configs_pixel_limit_is_refused() {
    let s = setup();
    let photos = training_photos(&s);
    let want = over_limit(&s.large);
    let cli = error_of(
        cmd(&s)
            .arg("train")
            .arg(&s.large)
            .args(["--iterations", "1", "-o", "mine", "--dataset"])
            .arg(&photos),
    );
    assert_eq!(cli, want, "atelier train");
    let queue = error_of(
        cmd(&s)
            .args(["queue", "add", "train"])
            .arg(&s.large)
            .args(["--iterations", "1", "--dataset"])
            .arg(&photos),
    );
    assert_eq!(queue, want, "queue add train");
    let mut c = compose(&s, Kind::Train, &s.large, 32);
    c.train.dataset = photos.clone();
    c.train.iterations = 1;
    assert_eq!(compose_enqueue(&s, &c).unwrap_err(), want, "Compose");
    assert!(queue_is_empty(&s));
}

/// The trainings queued so far: (model name, norm, number of paintings).
fn queued_trainings(s: &Setup) -> Vec<(String, String, usize)> {
    let store = Store::open(&s.data).unwrap();
    let mut runs = store.list(&Filter::default()).unwrap();
    runs.reverse();
    runs.iter()
        .filter_map(|r| match r.job() {
            Some(atelier::jobs::Job::Train(t)) => Some((
                t.name.clone(),
                t.train.arch.norm.to_string(),
                1 + t.train.more_styles.len(),
            )),
            _ => None,
        })
        .collect()
}

/// A model's name follows one rule from every front end: a default name a
/// model has already is numbered, a name the user gives that is taken is
/// refused before anything is queued.
#[test]
fn a_training_is_named_by_one_rule_from_every_front_end() {
    let s = setup();
    let photos = training_photos(&s);
    // A model of the user's has the painting's name already.
    std::fs::create_dir_all(s.data.join("models")).unwrap();
    std::fs::write(s.data.join("models/small.safetensors"), b"x").unwrap();
    let add = |extra: &[&str]| {
        let mut c = cmd(&s);
        c.args(["queue", "add", "train"])
            .arg(&s.small)
            .args(["--iterations", "1", "--dataset"])
            .arg(&photos)
            .args(extra);
        c
    };
    stdout_ok(&mut add(&[]));
    assert_eq!(
        error_of(&mut add(&["--name", "small"])),
        "a model named 'small' exists already"
    );
    let mut c = compose(&s, Kind::Train, &s.small, 32);
    c.train.dataset = photos.clone();
    c.train.iterations = 1;
    compose_enqueue(&s, &c).unwrap();
    let names: Vec<String> = queued_trainings(&s).into_iter().map(|t| t.0).collect();
    assert_eq!(names, ["small-2", "small-2"], "queue add, then Compose");
    // `atelier train` names its model by the same rule.
    let out = stdout_ok(
        cmd(&s)
            .arg("train")
            .arg(&s.small)
            .args([
                "--iterations",
                "1",
                "--size",
                "32",
                "--batch",
                "1",
                "--dataset",
            ])
            .arg(&photos),
    );
    assert!(s.data.join("models/small-2.safetensors").exists(), "{out}");
}

/// An MSG-Net is queued from `queue add train --arch msg` and from Compose's
/// network row alike: one run of every painting; adain/wct decoders are not
/// queued, and say how they are trained.
#[test]
fn an_msg_net_training_is_queued_from_the_cli_and_from_compose() {
    let s = setup();
    let photos = training_photos(&s);
    let second = s.dir.join("second.png");
    write_pattern(&second, 40, 40);
    stdout_ok(
        cmd(&s)
            .args(["queue", "add", "train", "--arch", "msg", "--style"])
            .arg(&s.small)
            .arg("--style")
            .arg(&second)
            .args(["--iterations", "1", "--dataset"])
            .arg(&photos),
    );
    let mut c = compose(&s, Kind::Train, &s.small, 32);
    c.styles.push(MarkedStyle {
        item: LibItem::from_path(&second),
        weight: 1.0,
    });
    c.train.dataset = photos.clone();
    c.train.iterations = 1;
    assert_eq!(
        c.runs().unwrap().len(),
        2,
        "a fast-style model per painting"
    );
    c.forms.train.msg = true;
    compose_enqueue(&s, &c).unwrap();
    let runs = queued_trainings(&s);
    assert_eq!(runs.len(), 2, "{runs:?}");
    for (name, norm, paintings) in &runs {
        assert!(norm.contains("inspiration"), "{norm}");
        assert_eq!(*paintings, 2);
        assert!(name.starts_with("small-and-1-more"), "{name}");
    }
    // `e` on the queued MSG-Net loads both paintings and the network back.
    let store = Store::open(&s.data).unwrap();
    let run = store.list(&Filter::default()).unwrap().remove(0);
    let job = run.job().unwrap().clone();
    let mut back = ComposeState::new(params(32));
    back.load_run(&run, &job, &[]).unwrap();
    assert!(back.forms.train.msg);
    assert_eq!(back.styles.len(), 2);
    assert_eq!(back.runs().unwrap().len(), 1);
    let e = error_of(
        cmd(&s)
            .args(["queue", "add", "train", "--arch", "adain"])
            .args(["--iterations", "1"]),
    );
    assert!(e.contains("atelier train --arch adain"), "{e}");
    // An MSG-Net with no painting named: the same sentence from both commands.
    let want = "--arch msg: name the styles to train on with --style, repeated";
    let queued = error_of(cmd(&s).args(["queue", "add", "train", "--arch", "msg"]));
    let trained = error_of(cmd(&s).args(["train", "--arch", "msg"]));
    assert_eq!((queued.as_str(), trained.as_str()), (want, want));
}
