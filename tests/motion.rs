//! Optical flow, warping and the reliability mask (src/engine/motion) on
//! synthetic motion with known flow, at 48–64 px.

use atelier::engine::infra::image_io::{
    load_rgb, resize_longer_side, to_tensor, DEFAULT_PIXEL_LIMIT,
};
use atelier::engine::motion::{
    end_point_error, estimate, estimate_from, lands_inside, reliable, warp, FlowOptions,
};
use tch::{Device, Kind, Tensor};

use crate::util::root;

/// A smooth random colour texture (blobs a few pixels across), `1×3×H×W` in [0, 1].
fn texture(h: i64, w: i64, seed: i64) -> Tensor {
    tch::manual_seed(seed);
    Tensor::randn([1, 3, h / 4 + 1, w / 4 + 1], (Kind::Float, Device::Cpu))
        .upsample_bicubic2d([h, w], true, None, None)
        .sigmoid()
}

/// Chelsea the cat, 64 px on the longer side.
fn photo() -> Tensor {
    let img = load_rgb(&root().join("contents/chelsea.png"), DEFAULT_PIXEL_LIMIT).unwrap();
    to_tensor(&resize_longer_side(&img, 64), Device::Cpu).unwrap()
}

/// A constant flow `(dx, dy)` of `h`×`w`.
fn constant(dx: f64, dy: f64, h: i64, w: i64) -> Tensor {
    Tensor::cat(
        &[
            Tensor::full([1, 1, h, w], dx, (Kind::Float, Device::Cpu)),
            Tensor::full([1, 1, h, w], dy, (Kind::Float, Device::Cpu)),
        ],
        1,
    )
}

/// A smooth random flow of at most `amplitude` pixels.
fn smooth_field(h: i64, w: i64, amplitude: f64, seed: i64) -> Tensor {
    tch::manual_seed(seed);
    let f = Tensor::randn([1, 2, 3, 3], (Kind::Float, Device::Cpu)).upsample_bicubic2d(
        [h, w],
        true,
        None,
        None,
    );
    let peak = f.abs().max().double_value(&[]);
    f * (amplitude / peak)
}

fn mean(t: &Tensor) -> f64 {
    t.mean(Kind::Float).double_value(&[])
}

/// Mean |a − b| over the frame less `m` pixels at each side.
fn interior_diff(a: &Tensor, b: &Tensor, m: i64) -> f64 {
    let (_, _, h, w) = a.size4().unwrap();
    let crop = |t: &Tensor| t.narrow(2, m, h - 2 * m).narrow(3, m, w - 2 * m);
    mean(&(crop(a) - crop(b)).abs())
}

#[test]
fn a_pan_of_k_pixels_gives_k_pixels_everywhere_but_the_border() {
    // a(x) = b(x + (3, 2)): both cut from one larger texture.
    let (k, l, s) = (3, 2, 64);
    let big = texture(s + 8, s + 8, 1);
    let a = big.narrow(2, l, s).narrow(3, k, s);
    let b = big.narrow(2, 0, s).narrow(3, 0, s);
    let f = estimate(&a, &b, &FlowOptions::default()).unwrap();
    // Away from the border (the k pixels that leave the frame and the
    // smoothing's reach) every vector within a quarter pixel: finer than
    // the bilinear warp the flow feeds can resolve on a stylized frame.
    let truth = constant(k as f64, l as f64, s, s);
    let err = (&f - &truth)
        .square()
        .sum_dim_intlist(1, true, Kind::Float)
        .sqrt();
    let inner = err.narrow(2, 6, s - 12).narrow(3, 6, s - 12);
    let worst = inner.max().double_value(&[]);
    assert!(worst < 0.25, "worst interior error {worst} px");
}

#[test]
fn a_photo_warped_by_a_smooth_field_is_recovered() {
    let b = photo();
    let (_, _, h, w) = b.size4().unwrap();
    let truth = smooth_field(h, w, 3.0, 2);
    let a = warp(&b, &truth).unwrap();
    let f = estimate(&a, &b, &FlowOptions::default()).unwrap();
    // The field moves pixels up to 3 px; the estimate is off by a small
    // fraction of that on average (0.1 px measured; the bound leaves room).
    let epe = end_point_error(&f, &truth).unwrap();
    assert!(epe < 0.3, "mean end-point error {epe} px");
    // And the fast preset is still well under a pixel.
    let fast = end_point_error(&estimate(&a, &b, &FlowOptions::fast()).unwrap(), &truth).unwrap();
    assert!(fast < 0.5, "fast: mean end-point error {fast} px");
}

#[test]
fn with_lighting_on_a_change_of_light_does_not_throw_the_flow() {
    // The first frame brighter, more so to the right (an exposure change).
    let b = photo();
    let (_, _, h, w) = b.size4().unwrap();
    let truth = smooth_field(h, w, 3.0, 2);
    let ramp = Tensor::linspace(0.9, 1.15, w, (Kind::Float, Device::Cpu)).view([1, 1, 1, w]);
    let a = (warp(&b, &truth).unwrap() * ramp + 0.03).clamp(0.0, 1.0);
    let opts = FlowOptions {
        lighting: true,
        ..FlowOptions::default()
    };
    let epe = end_point_error(&estimate(&a, &b, &opts).unwrap(), &truth).unwrap();
    assert!(epe < 0.4, "mean end-point error {epe} px");
}

#[test]
fn no_motion_gives_a_zero_flow() {
    let a = photo();
    let f = estimate(&a, &a, &FlowOptions::default()).unwrap();
    let largest = f.abs().max().double_value(&[]);
    assert!(largest < 0.05, "largest vector {largest} px");
}

#[test]
fn the_second_frame_warped_by_the_flow_looks_like_the_first() {
    let b = photo();
    let (_, _, h, w) = b.size4().unwrap();
    let a = warp(&b, &smooth_field(h, w, 3.0, 3)).unwrap();
    let f = estimate(&a, &b, &FlowOptions::default()).unwrap();
    let before = interior_diff(&b, &a, 4);
    let after = interior_diff(&warp(&b, &f).unwrap(), &a, 4);
    assert!(
        after < before / 3.0,
        "warped {after} against unwarped {before}"
    );
}

#[test]
fn an_initial_flow_catches_motion_the_pyramid_alone_misses() {
    // One level (no pyramid) cannot follow a 7 px pan; started from the
    // previous pair's flow (here 6 px, given at half the size: 3 px), it can.
    let s = 48;
    let big = texture(s + 8, s + 8, 4);
    let a = big.narrow(2, 0, s).narrow(3, 7, s);
    let b = big.narrow(2, 0, s).narrow(3, 0, s);
    let truth = constant(7.0, 0.0, s, s);
    let opts = FlowOptions {
        levels: 1,
        ..FlowOptions::default()
    };
    let alone = end_point_error(&estimate(&a, &b, &opts).unwrap(), &truth).unwrap();
    let started = constant(3.0, 0.0, s / 2, s / 2);
    let helped = end_point_error(
        &estimate_from(&a, &b, Some(&started), &opts).unwrap(),
        &truth,
    )
    .unwrap();
    assert!(alone > 1.0, "without help {alone} px");
    assert!(helped < 0.3, "with the initial flow {helped} px");
}

#[test]
fn the_mask_marks_the_strip_a_moving_square_uncovers() {
    // A textured square moves 6 px right over a still textured background.
    let (s, side, x0, y0, k) = (64, 20, 18, 22, 6);
    let ground = texture(s, s, 5);
    let square = texture(side, side, 6);
    let frame = |x: i64| {
        let f = ground.copy();
        f.narrow(2, y0, side).narrow(3, x, side).copy_(&square);
        f
    };
    let (a, b) = (frame(x0), frame(x0 + k));
    // The mask of the later frame b, with its flow back to a.
    let opts = FlowOptions::default();
    let back = estimate(&b, &a, &opts).unwrap();
    let ahead = estimate(&a, &b, &opts).unwrap();
    let mask = reliable(&back, &ahead).unwrap();
    assert_eq!(mask.size(), [1, 1, s, s]);
    assert!(mean(&mask.lt(0.0).logical_or(&mask.gt(1.0)).to_kind(Kind::Float)) == 0.0);
    // Columns x0..x0+k of the square's rows: background in b, hidden in a.
    let strip = mask.narrow(2, y0 + 2, side - 4).narrow(3, x0, k);
    let uncovered = mean(&strip);
    assert!(uncovered < 0.3, "uncovered strip {uncovered}");
    // The background 8 px or more away from the square both times.
    let far = Tensor::ones([1, 1, s, s], (Kind::Float, Device::Cpu));
    let _ = far
        .narrow(2, y0 - 8, side + 16)
        .narrow(3, x0 - 8, side + k + 16)
        .fill_(0.0);
    let background = mean(&(&mask * &far)) / mean(&far);
    assert!(background > 0.9, "still background {background}");
}

#[test]
fn the_mask_trusts_a_consistent_pan_where_it_stays_in_the_frame() {
    let (s, k) = (32, 4.0);
    let f = constant(k, 0.0, s, s);
    let mask = reliable(&f, &constant(-k, 0.0, s, s)).unwrap();
    // Pixels that land outside the frame are not trusted; the rest are
    // (but for the smoothing's reach of 2 px).
    let inside = lands_inside(&f).unwrap();
    let out = mask.masked_select(&inside.logical_not());
    assert!(out.max().double_value(&[]) < 0.5);
    let kept = mask.narrow(3, 0, s - 4 - 2 - 1);
    assert!(kept.min().double_value(&[]) > 0.99);
    // An inconsistent backward flow is caught everywhere.
    let wrong = reliable(&f, &constant(k, 0.0, s, s)).unwrap();
    assert!(wrong.max().double_value(&[]) < 0.01);
}

#[test]
fn the_mask_drops_motion_boundaries_of_a_consistent_flow() {
    // Left half still, right half 2 px to the right; the backward flow
    // agrees everywhere the forward one lands, so only the step is suspect.
    let (s, mid) = (32, 16);
    let f = constant(2.0, 0.0, s, s);
    let _ = f.narrow(3, 0, mid).fill_(0.0);
    let b = constant(-2.0, 0.0, s, s);
    let _ = b.narrow(3, 0, mid + 2).fill_(0.0);
    let mask = reliable(&f, &b).unwrap();
    // The central difference spans the step at columns mid − 1 and mid.
    let step = mask.narrow(3, mid - 1, 2).max().double_value(&[]);
    assert!(step < 0.5, "at the step {step}");
    let calm = mask.narrow(3, 0, mid - 4).min().double_value(&[]);
    assert!(calm > 0.99, "away from the step {calm}");
}

#[test]
fn bad_frames_and_flows_are_errors_not_panics() {
    let opts = FlowOptions::default();
    let a = texture(32, 32, 7);
    let short = texture(32, 24, 7);
    let err = estimate(&a, &short, &opts).unwrap_err().to_string();
    assert!(err.contains("differ in size"), "{err}");
    let dot = Tensor::zeros([1, 3, 1, 1], (Kind::Float, Device::Cpu));
    let err = estimate(&dot, &dot, &opts).unwrap_err().to_string();
    assert!(err.contains("too small"), "{err}");
    let nan = a.copy();
    let _ = nan.narrow(2, 3, 1).narrow(3, 5, 1).fill_(f64::NAN);
    let err = estimate(&a, &nan, &opts).unwrap_err().to_string();
    assert!(err.contains("NaN"), "{err}");
    let four = Tensor::zeros([1, 4, 32, 32], (Kind::Float, Device::Cpu));
    assert!(estimate(&four, &four, &opts).is_err());
    let flat = Tensor::zeros([32, 32], (Kind::Float, Device::Cpu));
    assert!(estimate(&flat, &flat, &opts).is_err());
    let bad = FlowOptions {
        lambda: f64::NAN,
        ..FlowOptions::default()
    };
    assert!(estimate(&a, &a, &bad).is_err());
    let wrong_init = Tensor::zeros([1, 3, 8, 8], (Kind::Float, Device::Cpu));
    assert!(estimate_from(&a, &a, Some(&wrong_init), &opts).is_err());

    let f = constant(1.0, 0.0, 32, 32);
    assert!(reliable(&f, &constant(1.0, 0.0, 32, 16)).is_err());
    let g = f.copy();
    let _ = g.narrow(2, 0, 1).fill_(f64::NAN);
    let err = reliable(&f, &g).unwrap_err().to_string();
    assert!(err.contains("NaN"), "{err}");
}
