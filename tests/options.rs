//! The run options of issue 3, through the engine at tiny sizes: style blends,
//! style scale, colour preservation, texture, snapshots, multi-scale, MRF.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use atelier::engine::gatys::spec::{RunSpec, StyleRef};
use atelier::engine::gatys::transfer::{self, prepare, Event, Flow, Outcome, Progress};
use atelier::engine::infra::image_io::load_rgb;
use atelier::engine::infra::sink::Sink;
use atelier::engine::nets::vgg::{Padding, Pooling, Vgg19};
use atelier::engine::nets::weights::Weights;
use image::RgbImage;
use tch::{Device, Tensor};

use crate::util::{root, weights_path};

/// One VGG for the whole module (loading the weights is the slow part), behind
/// a lock: runs that hold it do not share libtorch's thread pool with another
/// run, so two runs compared number for number reduce in the same order.
pub fn vgg() -> MutexGuard<'static, Vgg19> {
    static VGG: OnceLock<Mutex<Vgg19>> = OnceLock::new();
    VGG.get_or_init(|| {
        let w = Weights::load(&weights_path()).unwrap();
        Mutex::new(Vgg19::new(&w, Pooling::Max, Device::Cpu).unwrap())
    })
    .lock()
    .unwrap_or_else(|e| e.into_inner())
}

pub fn content_path() -> PathBuf {
    root().join("contents/chelsea.png")
}

pub fn style_a() -> PathBuf {
    root().join("styles/436535.jpg")
}

pub fn style_b() -> PathBuf {
    root().join("styles").join(
        atelier::engine::infra::library::Library::open(&root().join("styles"))
            .unwrap()
            .find("irises")
            .unwrap()
            .file
            .clone(),
    )
}

pub fn img(p: &Path) -> RgbImage {
    load_rgb(p, u64::MAX).unwrap()
}

pub fn spec(styles: &[(PathBuf, f64)], size: u32, steps: usize) -> RunSpec {
    RunSpec {
        content: content_path(),
        styles: styles
            .iter()
            .map(|(p, w)| StyleRef {
                path: p.clone(),
                weight: *w,
            })
            .collect(),
        size,
        steps,
        seed: 1,
        ..RunSpec::default()
    }
}

/// Runs `spec` through the engine, returning the outcome and every total loss.
pub fn run(spec: &RunSpec) -> (Outcome, Vec<f64>) {
    let styles: Vec<RgbImage> = spec.styles.iter().map(|s| img(&s.path)).collect();
    let p = prepare(spec, &img(&spec.content), &styles, Device::Cpu).unwrap();
    let mut totals = Vec::new();
    let mut obs = |pr: &Progress| {
        totals.push(pr.losses.total);
        Flow::Continue
    };
    let out = transfer::run(&vgg(), spec, &p, &mut obs).unwrap();
    (out, totals)
}

/// Runs `spec` through `transfer::stylize` (multi-scale, tiling) on the CPU,
/// returning the outcome and every (evaluation, total loss, scale) it reported.
pub fn stylize(spec: &RunSpec) -> (Outcome, Vec<(usize, f64, usize)>) {
    let styles: Vec<RgbImage> = spec.styles.iter().map(|s| img(&s.path)).collect();
    let mut seen = Vec::new();
    let mut obs = |p: &Progress| {
        seen.push((p.eval, p.losses.total, p.scale));
        Flow::Continue
    };
    let out = transfer::stylize(
        &vgg(),
        spec,
        &img(&spec.content),
        &styles,
        Device::Cpu,
        &mut obs,
    )
    .unwrap();
    (out, seen)
}

pub fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn blend_one_to_zero_equals_the_single_style_run() {
    let single = spec(&[(style_a(), 1.0)], 48, 6);
    let blend = spec(&[(style_a(), 1.0), (style_b(), 0.0)], 48, 6);
    let (a, la) = run(&single);
    let (b, lb) = run(&blend);
    assert_eq!(la.len(), lb.len());
    for (x, y) in la.iter().zip(&lb) {
        assert!((x - y).abs() <= 1e-6 * x.abs(), "{la:?} vs {lb:?}");
    }
    assert!(max_abs_diff(&a.image, &b.image) < 1e-5);
    // And the second style does matter when it has weight.
    let (c, lc) = run(&spec(&[(style_a(), 0.5), (style_b(), 0.5)], 48, 6));
    assert!((lc[0] - la[0]).abs() > 1e-3 * la[0], "{lc:?} vs {la:?}");
    assert!(max_abs_diff(&a.image, &c.image) > 1e-3);
}

#[test]
fn bad_blend_weights_are_refused() {
    let neg = spec(&[(style_a(), 1.0), (style_b(), -0.5)], 48, 2);
    let e = neg.validate().unwrap_err().to_string();
    assert!(e.contains("style blend weight"), "{e}");
    let zero = spec(&[(style_a(), 0.0), (style_b(), 0.0)], 48, 2);
    let e = zero.validate().unwrap_err().to_string();
    assert!(e.contains("all are 0"), "{e}");
}

#[test]
fn style_scale_resizes_the_style_and_changes_its_gram() {
    let mut s = spec(&[(style_a(), 1.0)], 64, 1);
    let styles = [img(&style_a())];
    let content = img(&content_path());
    let longer = |p: &transfer::Prepared| {
        let (_, _, h, w) = p.styles[0].size4().unwrap();
        h.max(w)
    };
    let p1 = prepare(&s, &content, &styles, Device::Cpu).unwrap();
    s.style_scale = 1.5;
    let p15 = prepare(&s, &content, &styles, Device::Cpu).unwrap();
    assert_eq!((longer(&p1), longer(&p15)), (64, 96));
    // Content is untouched by the style scale.
    assert_eq!(p1.content.size(), p15.content.size());
    let relu3_1: atelier::engine::nets::vgg::Layer = "relu3_1".parse().unwrap();
    let vgg = vgg();
    let g = |p: &transfer::Prepared| {
        let f = tch::no_grad(|| vgg.features(&p.styles[0], &[relu3_1], Padding::Zero)).unwrap();
        atelier::engine::nets::losses::gram(&f[&relu3_1]).unwrap()
    };
    let (g1, g15) = (g(&p1), g(&p15));
    let rel = max_abs_diff(&g1, &g15) / g1.abs().max().double_value(&[]);
    assert!(rel > 0.05, "Grams barely differ: {rel}");
    s.style_scale = 2.5;
    assert!(s
        .validate()
        .unwrap_err()
        .to_string()
        .contains("style scale"));
}

#[test]
fn luminance_mode_keeps_the_contents_chroma() {
    use atelier::engine::nets::color::{rgb_to_yiq, ColorMode};
    let mut s = spec(&[(style_a(), 1.0)], 48, 5);
    let styles = [img(&style_a())];
    let p = prepare(&s, &img(&content_path()), &styles, Device::Cpu).unwrap();
    let chroma = |t: &Tensor| rgb_to_yiq(t).unwrap().narrow(1, 1, 2);
    let content_iq = chroma(&p.content);
    let iq_err = |out: &Tensor| (chroma(out) - &content_iq).abs().mean(tch::Kind::Float);
    let plain = run(&s).0;
    s.preserve_colors = ColorMode::Luminance;
    let lum = run(&s).0;
    let (e_plain, e_lum) = (
        iq_err(&plain.image).double_value(&[]),
        iq_err(&lum.image).double_value(&[]),
    );
    // Only clamping to [0, 1] and 8-bit-free float error move the chroma.
    assert!(e_lum < 0.01, "luminance mode chroma error {e_lum}");
    assert!(
        e_plain > 3.0 * e_lum,
        "plain {e_plain} vs luminance {e_lum}"
    );
    // The run itself saw grey images.
    let pl = prepare(&s, &img(&content_path()), &styles, Device::Cpu).unwrap();
    let c = &pl.content;
    assert!(max_abs_diff(&c.narrow(1, 0, 1), &c.narrow(1, 2, 1)) < 1e-6);
    assert!(max_abs_diff(&pl.styles[0].narrow(1, 0, 1), &pl.styles[0].narrow(1, 1, 1)) < 1e-6);
}

#[test]
fn histogram_mode_matches_the_styles_colour_statistics_to_the_contents() {
    use atelier::engine::nets::color::{color_stats, match_color, ColorMode};
    let mut s = spec(&[(style_a(), 1.0)], 64, 1);
    let styles = [img(&style_a())];
    let p = prepare(&s, &img(&content_path()), &styles, Device::Cpu).unwrap();
    let (mc, cc) = color_stats(&p.content).unwrap();
    let (ms, cs) = color_stats(&p.styles[0]).unwrap();
    // They differ to begin with …
    assert!(max_abs_diff(&mc, &ms) > 0.02 || max_abs_diff(&cc, &cs) > 0.005);
    // … and the matched style has the content's mean and covariance.
    let m = match_color(&p.styles[0], &p.content).unwrap();
    let (mm, cm) = color_stats(&m).unwrap();
    assert!(max_abs_diff(&mm, &mc) < 1e-4, "{mm} vs {mc}");
    assert!(max_abs_diff(&cm, &cc) < 1e-4, "{cm} vs {cc}");
    // prepare() applies it (clamped to [0, 1], so nearly equal).
    s.preserve_colors = ColorMode::Histogram;
    let ph = prepare(&s, &img(&content_path()), &styles, Device::Cpu).unwrap();
    let (mh, ch) = color_stats(&ph.styles[0]).unwrap();
    assert!(max_abs_diff(&mh, &mc) < 0.03, "{mh} vs {mc}");
    assert!(max_abs_diff(&ch, &cc) < 0.01, "{ch} vs {cc}");
}

#[test]
fn two_scales_end_at_the_final_size_and_start_the_second_from_the_first() {
    use atelier::engine::gatys::pyramid::{split_steps, Scales};
    let mut s = spec(&[(style_a(), 1.0)], 64, 40);
    let single = run(&s).1;
    s.scales = Scales::Count(2);
    let (out, seen) = stylize(&s);
    // chelsea is 451x300: 64 px on the longer side is 64x43.
    assert_eq!(out.image.size(), [1, 3, 43, 64]);
    // 7 steps at 45 px (a tenth of the time), then 33 at 64 px; a rollback
    // of the divergence guard may add evaluations.
    assert_eq!(split_steps(40, &[45, 64]), [7, 33]);
    assert!(out.evals >= 40, "{}", out.evals);
    // Evaluations are numbered over the whole run, the coarse scale's first
    // (one that a rollback discards is not reported).
    let evals: Vec<usize> = seen.iter().map(|e| e.0).collect();
    assert!(evals.windows(2).all(|w| w[0] < w[1]), "{evals:?}");
    assert_eq!(evals.first(), Some(&1));
    assert_eq!(evals.last(), Some(&out.evals));
    let coarse = seen.iter().take_while(|e| e.2 == 0).count();
    assert!(coarse >= 7, "{coarse} evaluations at 45 px");
    assert!(seen[coarse..].iter().all(|e| e.2 == 1));
    // The second scale starts from the first's result, upscaled: below
    // where a run from the content starts at that size.
    let second_first = seen[coarse].1;
    assert!(
        second_first < 0.9 * single[0],
        "second scale starts at {second_first}, single-scale at {}",
        single[0]
    );
    // A size below the first scale of an auto pyramid is refused.
    s.scales = Scales::Auto;
    let e = s.validate().unwrap_err().to_string();
    assert!(e.contains("smaller than the first pyramid scale"), "{e}");
}

#[test]
fn mrf_loss_of_an_image_with_itself_is_zero_and_positive_otherwise() {
    use atelier::engine::gatys::mrf::{mrf_loss, mrf_target};
    use atelier::engine::nets::vgg::Layer;
    let s = spec(&[(style_a(), 1.0)], 48, 1);
    let p = prepare(&s, &img(&content_path()), &[img(&style_a())], Device::Cpu).unwrap();
    let vgg = vgg();
    for name in ["relu3_1", "relu4_1"] {
        let l: Layer = name.parse().unwrap();
        let f = |t: &Tensor| {
            tch::no_grad(|| vgg.features(t, &[l], Padding::Zero)).unwrap()[&l].shallow_clone()
        };
        let (fc, fs) = (f(&p.content), f(&p.styles[0]));
        let own = mrf_loss(&fc, &mrf_target(&[fc.shallow_clone()]).unwrap())
            .unwrap()
            .double_value(&[]);
        let other = mrf_loss(&fc, &mrf_target(&[fs]).unwrap())
            .unwrap()
            .double_value(&[]);
        assert!(own.abs() < 1e-6, "{name}: MRF loss with itself {own}");
        assert!(other > 1.0, "{name}: MRF loss against the style {other}");
    }
}

#[test]
fn mrf_runs_lower_their_patch_loss() {
    use atelier::engine::gatys::mrf::StyleLoss;
    let mut s = spec(&[(style_a(), 1.0)], 48, 6);
    s.style_loss = StyleLoss::Mrf;
    let (out, totals) = run(&s);
    assert!(out.best.total < totals[0], "{totals:?}");
    // Gram terms are off: the style term is the MRF loss, far below a Gram one.
    s.style_loss = StyleLoss::Gram;
    let (_, gram) = run(&RunSpec { steps: 1, ..s });
    assert!(totals[0] < 0.1 * gram[0], "{totals:?} vs {gram:?}");
}

#[test]
fn tiles_leave_no_seam_along_their_borders() {
    use atelier::engine::gatys::tiling::{starts, PASSES};
    // End to end, and weak at this budget: a hard paste without the feather
    // measured 1.43 at 60 steps against 1.32 with it, both under this bound.
    // The feather itself is pinned by the unit test
    // `tiling::feathering_spreads_the_step_at_inner_tile_borders`, which a hard
    // paste fails (a step of 1 against at most 1/13).
    let mut s = spec(&[(style_a(), 1.0)], 96, 24);
    s.tile = Some(48);
    let (out, _) = stylize(&s);
    assert_eq!(out.image.size(), [1, 3, 64, 96]);
    // Mean absolute step between neighbouring columns (rows), per column (row).
    let x = &out.image;
    let profile = |dim: i64| -> Vec<f64> {
        let n = x.size()[dim as usize];
        let d = (x.narrow(dim, 1, n - 1) - x.narrow(dim, 0, n - 1)).abs();
        let other = if dim == 3 { 2 } else { 3 };
        let m = d
            .mean_dim([1i64, other].as_slice(), false, tch::Kind::Float)
            .squeeze();
        Vec::<f64>::try_from(m.to_kind(tch::Kind::Double)).unwrap()
    };
    for (dim, len) in [(3i64, 96i64), (2, 64)] {
        let g = profile(dim);
        let mean = g.iter().sum::<f64>() / g.len() as f64;
        let mut borders = Vec::new();
        for p in 0..PASSES as i64 {
            for t in starts(len, 48, 12, p * 48 / 3) {
                borders.extend(
                    [t - 1, t + 47]
                        .into_iter()
                        .filter(|&b| b >= 0 && b < len - 1),
                );
            }
        }
        for b in borders {
            let r = g[b as usize] / mean;
            assert!(
                r < 1.6,
                "dim {dim}: step at tile border {b} is {r:.2}× the mean"
            );
        }
    }
}

/// Stops at its first preview, recording the evaluations it was told of.
#[derive(Default)]
struct StopAtPreview {
    evals: Vec<usize>,
    previews: Vec<usize>,
}

impl Sink<Event> for StopAtPreview {
    fn progress(&mut self, e: &Event) -> atelier::engine::Result<Flow> {
        if let Event::Eval(p) = e {
            self.evals.push(p.eval);
        }
        Ok(Flow::Continue)
    }

    fn preview_every(&self) -> usize {
        2
    }

    fn preview(&mut self, step: usize, _: &Tensor) -> atelier::engine::Result<Flow> {
        self.previews.push(step);
        Ok(Flow::Stop)
    }
}

#[test]
fn a_stop_asked_at_a_preview_ends_the_run_there_with_no_image() {
    let spec = spec(&[(style_a(), 1.0)], 32, 6);
    let styles = [img(&style_a())];
    let mut sink = StopAtPreview::default();
    let r = transfer::stylize(
        &vgg(),
        &spec,
        &img(&spec.content),
        &styles,
        Device::Cpu,
        &mut sink,
    );
    assert!(matches!(r, Err(atelier::engine::Error::Cancelled)));
    assert_eq!(sink.previews, vec![2]);
    // The stop comes before evaluation 2 is reported, and nothing after it.
    assert_eq!(sink.evals, vec![1]);
}
