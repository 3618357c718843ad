//! Region maps (`--regions MAP`): one colour-coded image instead of a
//! greyscale mask per style, split into exactly those masks.

use std::path::{Path, PathBuf};

use atelier::engine::gatys::spec::{RunSpec, StyleRef};
use atelier::engine::gatys::transfer::{stylize, Flow, Progress};
use atelier::engine::infra::label_map::RegionMap;
use atelier::engine::nets::vgg::{Pooling, Vgg19};
use atelier::engine::nets::weights::Weights;
use image::{Rgb, RgbImage};
use tch::{Device, Kind};

use crate::masks::{
    blue_noise, files, orange_stripes, path, refuses_a_non_image, stylize_error, Regions,
};
use crate::util::{atelier_in, stdout_ok, weights_path, write_pattern};

const RED: Rgb<u8> = Rgb([255, 0, 0]);
const YELLOW: Rgb<u8> = Rgb([255, 255, 0]);

/// A map of `w`×`h` in `d`: red on the left half, yellow on the right.
fn halves(d: &Path, name: &str, w: u32, h: u32) -> PathBuf {
    let p = d.join(name);
    RgbImage::from_fn(w, h, |x, _| if x < w / 2 { RED } else { YELLOW })
        .save(&p)
        .unwrap();
    p
}

/// A stylize with a two-colour map is the stylize with the two greyscale
/// masks it stands for, to the bit.
#[test]
fn a_two_colour_map_stylizes_as_its_two_masks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let photo_path = d.join("photo.png");
    write_pattern(&photo_path, 48, 32);
    let photo = image::open(&photo_path).unwrap().to_rgb8();
    let r = Regions::new(d, 32);
    // Made at another size than the photo's (the same shape): both resize alike.
    let map = halves(d, "map.png", 96, 64);
    let left = crate::masks::save_mask(d, "l.png", 96, 64, |x, _| x < 48);
    let right = crate::masks::save_mask(d, "r.png", 96, 64, |x, _| x >= 48);
    let styles = [blue_noise(32), orange_stripes(32)];
    let w = Weights::load(&weights_path()).unwrap();
    let vgg = Vgg19::new(&w, Pooling::Max, Device::Cpu).unwrap();
    let spec = RunSpec {
        content: photo_path.clone(),
        styles: [&r.a, &r.b]
            .iter()
            .map(|p| StyleRef {
                path: (*p).clone(),
                weight: 1.0,
            })
            .collect(),
        size: 48,
        steps: 4,
        ..RunSpec::default()
    };
    let run = |spec: &RunSpec| {
        let mut quiet = |_: &Progress| Flow::Continue;
        stylize(&vgg, spec, &photo, &styles, Device::Cpu, &mut quiet)
            .unwrap()
            .image
    };
    let masked = run(&RunSpec {
        style_masks: vec![left, right],
        ..spec.clone()
    });
    let mapped = run(&RunSpec {
        regions: Some(RegionMap::new(&map)),
        ..spec.clone()
    });
    let worst = (&masked - &mapped)
        .abs()
        .max()
        .to_kind(Kind::Double)
        .double_value(&[]);
    assert!(worst < 1e-5, "the outputs differ by {worst}");
    let unmasked = run(&spec);
    let apart = (&masked - &unmasked)
        .abs()
        .max()
        .to_kind(Kind::Double)
        .double_value(&[]);
    assert!(apart > 1e-3, "the map changed nothing: {apart}");
}

/// `apply adain --regions` writes the same image as with the two masks and
/// prints which colour went to which painting; `queue add` records it and
/// `runs show` names it.
#[test]
fn apply_and_queue_add_print_and_record_the_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let photo = d.join("photo.png");
    write_pattern(&photo, 64, 64);
    let r = Regions::new(d, 64);
    let map = path(&halves(d, "map.png", 64, 64));
    let data = d.join("data");
    let (by_masks, by_map) = (d.join("masks.png"), d.join("map-out.png"));
    let mut args = r.args();
    args.extend(["-o".into(), path(&by_masks)]);
    stdout_ok(
        atelier_in(&data)
            .args(["apply", "adain", &path(&photo)])
            .args(&args),
    );
    let styles = ["--style", &path(&r.a), "--style", &path(&r.b)];
    let out = stdout_ok(
        atelier_in(&data)
            .args(["apply", "adain", &path(&photo)])
            .args(styles)
            .args(["--regions", &map, "-o", &path(&by_map)]),
    );
    let mapping = "regions of map: red → blue 50.0%, yellow → orange 50.0%";
    assert!(out.contains(mapping), "{out}");
    let (a, b) = (
        image::open(&by_masks).unwrap().to_rgb8(),
        image::open(&by_map).unwrap().to_rgb8(),
    );
    assert!(a == b, "the map's output differs from the masks'");

    let (content, _) = files(d);
    let add = stdout_ok(
        atelier_in(&data)
            .args(["queue", "add", &content])
            .args(styles)
            .args([
                "--regions",
                &path(&halves(d, "map2.png", 48, 48)),
                "--size",
                "32",
                "--steps",
                "2",
            ]),
    );
    assert!(
        add.contains("regions of map2: red → blue 50.0%, yellow → orange 50.0%"),
        "{add}"
    );
    let id = add
        .lines()
        .find_map(|l| l.strip_prefix("queued run "))
        .unwrap()
        .trim()
        .to_string();
    let shown = stdout_ok(atelier_in(&data).args(["runs", "show", &id]));
    assert!(
        shown.contains("regions of map2: red → blue 50.0%, yellow → orange 50.0%"),
        "{shown}"
    );
    assert_eq!(shown.matches("  mask /").count(), 1, "{shown}");
}

/// Maps that cannot mean anything for the run are refused with one line
/// naming the file.
#[test]
fn bad_region_maps_are_refused_with_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (photo, style) = files(d);
    let data = d.join("data");
    let styles = ["--style", style.as_str(), "--style", style.as_str()];
    let run = |extra: &[&str]| stylize_error(&data, &photo, &[&styles[..], extra].concat());
    let save = |name: &str, w: u32, h: u32, f: &dyn Fn(u32, u32) -> Rgb<u8>| {
        let p = d.join(name);
        RgbImage::from_fn(w, h, f).save(&p).unwrap();
        path(&p)
    };
    let wide = path(&halves(d, "wide.png", 96, 48));
    let e = run(&["--regions", &wide]);
    assert!(e.contains("wide.png") && e.contains("aspect"), "{e}");
    let three = save("three.png", 48, 48, &|x, _| match x / 16 {
        0 => RED,
        1 => YELLOW,
        _ => Rgb([0, 0, 255]),
    });
    let e = run(&["--regions", &three]);
    assert!(
        e.contains("three.png")
            && e.contains("3 colours (red, yellow, blue)")
            && e.contains("2 styles"),
        "{e}"
    );
    let one = save("one.png", 48, 48, &|_, _| Rgb([7, 7, 7]));
    let e = run(&["--regions", &one]);
    assert!(
        e.contains("one.png")
            && e.contains("1 colour (grey 7)")
            && e.contains("style 2 has no colour"),
        "{e}"
    );
    // One antialiased pixel on the seam.
    let noisy = save("noisy.png", 48, 48, &|x, y| match (x, y) {
        (24, 10) => Rgb([255, 128, 0]),
        (x, _) if x < 24 => RED,
        _ => YELLOW,
    });
    let e = run(&["--regions", &noisy]);
    assert!(
        e.contains("noisy.png") && e.contains("orange") && e.contains("antialiasing"),
        "{e}"
    );
    refuses_a_non_image(&run, d, "--regions");
    // clap refuses both at once (its last line points to --help).
    let mask = path(&crate::masks::save_mask(d, "m.png", 48, 48, |_, _| true));
    let out = atelier_in(&data)
        .args(["stylize", &photo, "--style", &style, "--regions", &wide])
        .args(["--style-mask", &mask])
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("'--regions <MAP>' cannot be used with"),
        "{e}"
    );
}

/// A drop-folder rule's `regions` key: each arrival makes one run with
/// every style on its colour (stylize, or an adain model), carrying the map;
/// a map whose colours do not match the styles is refused naming the rule.
#[test]
fn a_drop_folder_rule_takes_a_region_map() {
    use crate::masks_fronts::{canonical, list, masks_of, rule};
    use atelier::jobs::{Input, Job, Role};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (photo, stripes) = files(d);
    let r = Regions::new(d, 48);
    let map = halves(d, "map.png", 48, 48);
    let arrival = Input::checked(Role::Content, None, Path::new(&photo), 1 << 24).unwrap();
    let keys = format!(
        "styles = {}\nregions = {:?}",
        list(&[&r.a, &r.b]),
        path(&map)
    );
    let colours = |m: &RegionMap| -> Vec<[u8; 3]> { m.colours.iter().map(|c| c.rgb).collect() };

    let stylize = rule(d, &keys).unwrap();
    let runs = stylize.watched_runs(arrival.clone());
    assert_eq!(runs.len(), 1, "one run with both styles on their regions");
    let Job::Stylize(spec) = &runs[0].job else {
        panic!("not a stylize job: {:?}", runs[0].job)
    };
    let m = spec.regions.as_ref().unwrap();
    assert_eq!(colours(m), vec![RED.0, YELLOW.0]);
    assert_eq!(masks_of(&runs[0].inputs), vec![canonical(&map)]);

    let adain = rule(d, &format!("model = \"adain\"\n{keys}")).unwrap();
    let runs = adain.watched_runs(arrival);
    assert_eq!(runs.len(), 1, "one output with each painting on its colour");
    let Job::Apply(spec) = &runs[0].job else {
        panic!("not an apply job: {:?}", runs[0].job)
    };
    assert_eq!(
        colours(spec.regions.as_ref().unwrap()),
        vec![RED.0, YELLOW.0]
    );
    assert_eq!(masks_of(&runs[0].inputs), vec![canonical(&map)]);

    for (keys, says) in [
        (
            format!(
                "styles = {}\nregions = {:?}",
                list(&[&r.a, &r.b, Path::new(&stripes)]),
                path(&map)
            ),
            "style 3 has no colour",
        ),
        (
            format!("{keys}\nstyle_masks = {}", list(&[&r.left, &r.right])),
            "regions replaces style_masks",
        ),
    ] {
        let e = rule(d, &keys).expect_err(&keys);
        assert!(e.starts_with("watch rule 'masked': "), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
        assert!(e.contains(says), "{keys}: {e}");
    }
}
