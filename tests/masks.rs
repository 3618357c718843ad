//! Masks: layer guides and guided Grams against PyTorch (tests/golden/masks.safetensors,
//! from scripts/golden_masks.py), two styles on two halves, the photo kept outside a
//! content mask, and the one-line refusals.

use std::path::{Path, PathBuf};

use atelier::engine::gatys::guides::{layer_guide, MaskMode};
use atelier::engine::gatys::spec::{RunSpec, StyleRef};
use atelier::engine::gatys::transfer::{stylize, Flow, Progress};
use atelier::engine::nets::losses::{gram, guided_gram};
use atelier::engine::nets::vgg::{Layer, Padding, Pooling, Vgg19};
use atelier::engine::nets::weights::Weights;
use image::{GrayImage, Luma, Rgb, RgbImage};
use tch::{Device, Kind, Tensor};

use atelier::engine::infra::image_io::{fit_longer_side, load_rgb, to_tensor};

use crate::util::{atelier_in, error_of, golden_get, golden_tensors, rel_err, root, weights_path};

#[test]
fn layer_guides_and_guided_grams_match_pytorch() {
    let g = golden_tensors("masks.safetensors");
    let mask = golden_get(&g, "mask");
    for (mode, name) in [
        (MaskMode::Simple, "simple"),
        (MaskMode::Propagate, "propagate"),
    ] {
        for layer in [
            "relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1",
        ] {
            let l: Layer = layer.parse().unwrap();
            let got = layer_guide(&mask, l, mode).unwrap().unwrap();
            let want = golden_get(&g, &format!("{name}.{layer}"));
            assert!(
                rel_err(&got, &want) < 1e-5,
                "{name} {layer}: {}",
                rel_err(&got, &want)
            );
        }
        let guide = layer_guide(&mask, "relu3_1".parse().unwrap(), mode)
            .unwrap()
            .unwrap();
        let got = guided_gram(&golden_get(&g, "features"), Some(&guide)).unwrap();
        let want = golden_get(&g, &format!("gram.{name}"));
        assert!(rel_err(&got, &want) < 1e-5, "gram {name}");
    }
    let plain = guided_gram(&golden_get(&g, "features"), None).unwrap();
    assert!(rel_err(&plain, &golden_get(&g, "gram.none")) < 1e-5);
}

/// Fine black-and-white vertical stripes: one style.
pub(crate) fn stripes(side: u32) -> RgbImage {
    RgbImage::from_fn(side, side, |x, _| {
        if x % 4 < 2 {
            Rgb([250, 250, 250])
        } else {
            Rgb([10, 10, 10])
        }
    })
}

/// A mask of `w`×`h`, white where `inside(x, y)`.
fn mask(w: u32, h: u32, inside: impl Fn(u32, u32) -> bool) -> GrayImage {
    GrayImage::from_fn(w, h, |x, y| Luma([if inside(x, y) { 255 } else { 0 }]))
}

/// Writes the mask `inside` of `w`×`h` as `dir/name`.
pub(crate) fn save_mask(
    dir: &Path,
    name: &str,
    w: u32,
    h: u32,
    inside: impl Fn(u32, u32) -> bool,
) -> PathBuf {
    let p = dir.join(name);
    mask(w, h, inside).save(&p).unwrap();
    p
}

fn vgg() -> Vgg19 {
    let w = Weights::load(&weights_path()).unwrap();
    Vgg19::new(&w, Pooling::Max, Device::Cpu).unwrap()
}

/// The squared distance of `img`'s Grams to `style`'s over the shallow layers.
fn gram_distance(vgg: &Vgg19, img: &Tensor, style: &Tensor) -> f64 {
    let layers: Vec<Layer> = ["relu1_1", "relu2_1", "relu3_1"]
        .iter()
        .map(|l| l.parse().unwrap())
        .collect();
    let a = vgg.features(img, &layers, Padding::Zero).unwrap();
    let b = vgg.features(style, &layers, Padding::Zero).unwrap();
    layers
        .iter()
        .map(|l| {
            let d = gram(&a[l]).unwrap() - gram(&b[l]).unwrap();
            d.square().sum(Kind::Double).double_value(&[])
        })
        .sum()
}

/// Blue noise: one style.
pub(crate) fn blue_noise(side: u32) -> RgbImage {
    let mut seed = 1u32;
    RgbImage::from_fn(side, side, |_, _| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let v = (seed >> 24) as f32 / 255.0;
        Rgb([
            (30.0 + 40.0 * v) as u8,
            (60.0 + 60.0 * v) as u8,
            (150.0 + 100.0 * v) as u8,
        ])
    })
}

/// Orange diagonal stripes: the other style.
pub(crate) fn orange_stripes(side: u32) -> RgbImage {
    RgbImage::from_fn(side, side, |x, y| {
        if (x + y) % 8 < 4 {
            Rgb([230, 190, 60])
        } else {
            Rgb([150, 70, 20])
        }
    })
}

/// Two styles on two halves of a 64-px photo: the inner part of each half
/// (a quarter of the width, away from the seam) is far closer to its own
/// style's Grams than to the other's, in both mask modes. The figures printed
/// are the ones docs/methods.md quotes.
#[test]
fn two_styles_on_two_halves_each_keep_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let photo = load_rgb(&root().join("contents/chelsea.png"), 1 << 24).unwrap();
    let (w, h) = fit_longer_side(photo.width(), photo.height(), 64);
    let left = save_mask(d, "left.png", w, h, |x, _| x < w / 2);
    let right = save_mask(d, "right.png", w, h, |x, _| x >= w / 2);
    let styles = [blue_noise(64), orange_stripes(64)];
    let vgg = vgg();
    let ta = to_tensor(&styles[0], Device::Cpu).unwrap();
    let tb = to_tensor(&styles[1], Device::Cpu).unwrap();
    for mode in [MaskMode::Simple, MaskMode::Propagate] {
        let spec = RunSpec {
            content: root().join("contents/chelsea.png"),
            styles: ["a.png", "b.png"]
                .iter()
                .map(|p| StyleRef {
                    path: d.join(p),
                    weight: 1.0,
                })
                .collect(),
            style_masks: vec![left.clone(), right.clone()],
            mask_mode: mode,
            size: 64,
            steps: 30,
            ..RunSpec::default()
        };
        let mut quiet = |_: &Progress| Flow::Continue;
        let out = stylize(&vgg, &spec, &photo, &styles, Device::Cpu, &mut quiet).unwrap();
        let part = |x0: u32, n: u32| out.image.narrow(3, i64::from(x0), i64::from(n));
        let ratio = |img: &Tensor, own: &Tensor, other: &Tensor| {
            gram_distance(&vgg, img, own) / gram_distance(&vgg, img, other)
        };
        let q = w / 4;
        let inner = (
            ratio(&part(0, q), &ta, &tb),
            ratio(&part(w - q, q), &tb, &ta),
        );
        // Next to the seam, an eighth of the width each side.
        let (e, mid) = (w / 8, w / 2);
        let seam = (
            ratio(&part(mid - e, e), &ta, &tb),
            ratio(&part(mid, e), &tb, &ta),
        );
        println!(
            "{mode:?}: own/other Gram distance inner {inner:.3?}, next to the seam {seam:.3?}"
        );
        assert!(inner.0 < 0.5 && inner.1 < 0.5, "{mode:?}: {inner:?}");
    }
}

/// A photo, a style and masks for the command-line tests, in `d`.
pub(crate) fn files(d: &Path) -> (String, String) {
    let photo = d.join("photo.png");
    crate::util::write_pattern(&photo, 48, 48);
    let style = d.join("stripes.png");
    stripes(48).save(&style).unwrap();
    (path(&photo), path(&style))
}

pub(crate) fn path(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Outside a content mask the output is the photo (a mask of half the
/// photo's size, resized to it).
#[test]
fn a_content_mask_keeps_the_photo_outside() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (photo, style) = files(d);
    let m = save_mask(d, "top.png", 24, 24, |_, y| y < 12);
    let out = d.join("out.png");
    crate::util::stdout_ok(atelier_in(&d.join("data")).args([
        "stylize",
        &photo,
        &style,
        "--content-mask",
        &path(&m),
        "--size",
        "48",
        "--steps",
        "8",
        "--style-weight",
        "1e4",
        "-o",
        &path(&out),
    ]));
    let got = image::open(&out).unwrap().to_rgb8();
    let want = image::open(&photo).unwrap().to_rgb8();
    let diff = |rows: std::ops::Range<u32>| {
        rows.flat_map(|y| (0..48).map(move |x| (x, y)))
            .flat_map(|(x, y)| (0..3).map(move |c| (x, y, c)))
            .map(|(x, y, c)| {
                (i32::from(got.get_pixel(x, y)[c]) - i32::from(want.get_pixel(x, y)[c])).abs()
            })
            .max()
            .unwrap()
    };
    assert!(
        diff(30..48) <= 3,
        "the bottom (unmasked) changed by {}",
        diff(30..48)
    );
    assert!(diff(0..18) > 20, "the top (masked) was styled");
}

/// `atelier stylize PHOTO ARGS… --size 32 --steps 1` in `data`, which must
/// fail: its error line.
pub(crate) fn stylize_error(data: &Path, photo: &str, args: &[&str]) -> String {
    let mut c = atelier_in(data);
    c.args(["stylize", photo, "--size", "32", "--steps", "1"])
        .args(args);
    error_of(&mut c)
}

/// `flag` given a file in `d` named like an image that is not one: `run`
/// refuses it naming the file.
pub(crate) fn refuses_a_non_image(run: &dyn Fn(&[&str]) -> String, d: &Path, flag: &str) {
    let text = d.join("notes.png");
    std::fs::write(&text, "not an image").unwrap();
    let e = run(&[flag, &path(&text)]);
    assert!(
        e.contains("notes.png") && e.contains("not a readable image"),
        "{e}"
    );
}

#[test]
fn bad_masks_are_refused_with_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (photo, style) = files(d);
    let data = d.join("data");
    let run = |extra: &[&str]| {
        stylize_error(
            &data,
            &photo,
            &[&["--style", style.as_str()][..], extra].concat(),
        )
    };
    let white = path(&save_mask(d, "white.png", 48, 48, |_, _| true));
    let e = run(&["--style", &style, "--style-mask", &white]);
    assert!(e.contains("1 given for 2 styles"), "{e}");
    let black = path(&save_mask(d, "black.png", 48, 48, |_, _| false));
    let e = run(&["--style-mask", &black]);
    assert!(e.contains("black.png") && e.contains("all black"), "{e}");
    let wide = path(&save_mask(d, "wide.png", 96, 48, |_, _| true));
    let e = run(&["--content-mask", &wide]);
    assert!(e.contains("wide.png") && e.contains("aspect"), "{e}");
    refuses_a_non_image(&run, d, "--style-mask");
}

/// Masks are inputs of a queued run: recorded with their sha256, listed by
/// `runs show`, kept by a re-run; a mask changed after queueing fails the run.
#[test]
fn queued_runs_carry_their_masks() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (photo, style) = files(d);
    let data = d.join("data");
    let left = save_mask(d, "left.png", 48, 48, |x, _| x < 24);
    let right = save_mask(d, "right.png", 48, 48, |x, _| x >= 24);
    let add = crate::util::stdout_ok(atelier_in(&data).args([
        "queue",
        "add",
        &photo,
        "--style",
        &style,
        "--style",
        &style,
        "--style-mask",
        &path(&left),
        "--style-mask",
        &path(&right),
        "--size",
        "32",
        "--steps",
        "2",
    ]));
    let id = add.trim().trim_start_matches("queued run ").to_string();
    let shown = crate::util::stdout_ok(atelier_in(&data).args(["runs", "show", &id]));
    assert!(shown.contains("masks left, right"), "{shown}");
    assert_eq!(shown.matches("  mask /").count(), 2, "{shown}");
    let again = crate::util::stdout_ok(atelier_in(&data).args(["runs", "rerun", &id]));
    let rerun = again.split_whitespace().nth(2).unwrap().to_string();
    let shown = crate::util::stdout_ok(atelier_in(&data).args(["runs", "show", &rerun]));
    assert!(shown.contains("masks left, right"), "{shown}");
    // The first run's mask changes (the re-run was hashed before it did).
    save_mask(d, "right.png", 48, 48, |x, _| x >= 30);
    crate::util::stdout_ok(
        atelier_in(&data).args("worker --exit-when-idle --device cpu --log-every 0".split(' ')),
    );
    let shown = crate::util::stdout_ok(atelier_in(&data).args(["runs", "show", &id]));
    assert!(
        shown.contains("changed since the run was queued") && shown.contains("right.png"),
        "{shown}"
    );
}

/// The mean colour of columns `x0..x0 + n` of `img`.
fn mean_colour(img: &RgbImage, x0: u32, n: u32) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for y in 0..img.height() {
        for x in x0..x0 + n {
            for (c, s) in sum.iter_mut().enumerate() {
                *s += f64::from(img.get_pixel(x, y)[c]);
            }
        }
    }
    sum.map(|s| s / f64::from(img.height() * n))
}

fn colour_distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Two paintings (blue noise, orange stripes) of `side` px and masks of the
/// left and right halves, in `d`.
pub(crate) struct Regions {
    pub a: PathBuf,
    pub b: PathBuf,
    pub left: PathBuf,
    pub right: PathBuf,
}

impl Regions {
    pub fn new(d: &Path, side: u32) -> Regions {
        let (a, b) = (d.join("blue.png"), d.join("orange.png"));
        blue_noise(side).save(&a).unwrap();
        orange_stripes(side).save(&b).unwrap();
        Regions {
            a,
            b,
            left: save_mask(d, "left.png", side, side, |x, _| x < side / 2),
            right: save_mask(d, "right.png", side, side, |x, _| x >= side / 2),
        }
    }

    /// `--style A --style B --style-mask LEFT --style-mask RIGHT`.
    pub fn args(&self) -> Vec<String> {
        [
            ("--style", &self.a),
            ("--style", &self.b),
            ("--style-mask", &self.left),
            ("--style-mask", &self.right),
        ]
        .iter()
        .flat_map(|(k, p)| [k.to_string(), path(p)])
        .collect()
    }
}

/// `atelier apply adain PHOTO ARGS…`, which must succeed.
fn adain(data: &Path, photo: &Path, args: &[&str]) {
    crate::util::stdout_ok(
        atelier_in(data)
            .args(["apply", "adain", &path(photo)])
            .args(args),
    );
}

/// `apply adain` with two paintings and two masks: each half takes its own
/// painting's colours (decoded once), and the photo is kept outside a content mask.
#[test]
fn adain_puts_each_style_on_its_region_and_keeps_the_photo_outside() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let photo = d.join("photo.png");
    crate::util::write_pattern(&photo, 64, 64);
    let regions = Regions::new(d, 64);
    let mut args = regions.args();
    let Regions { a, b, left, right } = regions;
    let out = d.join("out.png");
    let data = d.join("data");
    args.extend(["-o".into(), path(&out)]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    adain(&data, &photo, &args);
    let got = image::open(&out).unwrap().to_rgb8();
    // Each painting alone over the whole photo: what its region should look like.
    let alone = |style: &Path, name: &str| {
        let o = d.join(name);
        adain(&data, &photo, &["--style", &path(style), "-o", &path(&o)]);
        image::open(&o).unwrap().to_rgb8()
    };
    let (ga, gb) = (alone(&a, "a.png"), alone(&b, "b.png"));
    let (l, r) = (mean_colour(&got, 0, 16), mean_colour(&got, 48, 16));
    let (la, lb) = (mean_colour(&ga, 0, 16), mean_colour(&gb, 0, 16));
    let (ra, rb) = (mean_colour(&ga, 48, 16), mean_colour(&gb, 48, 16));
    assert!(
        colour_distance(l, la) < 0.5 * colour_distance(l, lb),
        "left {l:?}: {la:?} {lb:?}"
    );
    assert!(
        colour_distance(r, rb) < 0.5 * colour_distance(r, ra),
        "right {r:?}: {rb:?} {ra:?}"
    );

    let kept = d.join("kept.png");
    adain(
        &data,
        &photo,
        &[
            "--style",
            &path(&a),
            "--content-mask",
            &path(&left),
            "-o",
            &path(&kept),
        ],
    );
    let got = image::open(&kept).unwrap().to_rgb8();
    let want = image::open(&photo).unwrap().to_rgb8();
    let worst = (40..64)
        .flat_map(|x| (0..64).map(move |y| (x, y)))
        .flat_map(|(x, y)| (0..3).map(move |c| (x, y, c)))
        .map(|(x, y, c)| {
            (i32::from(got.get_pixel(x, y)[c]) - i32::from(want.get_pixel(x, y)[c])).abs()
        })
        .max()
        .unwrap();
    assert!(worst <= 3, "the unmasked right part changed by {worst}");

    let e = error_of(atelier_in(&data).args([
        "apply",
        "adain",
        &path(&photo),
        "--style",
        &path(&a),
        "--style-mask",
        &path(&left),
        "--style-mask",
        &path(&right),
        "-o",
        &path(&d.join("x.png")),
    ]));
    assert!(e.contains("2 given for 1 styles"), "{e}");
}
