//! Deep Image Analogy (issue 18): PatchMatch against known and brute-force
//! answers, voting, field upsampling, reconstruction, the whole pipeline on
//! identical images, and bad input through the binary. All tiny, on the CPU.

use crate::util::atelier;
use std::path::Path;
use std::process::Command;

use atelier::engine::analogy::features::FeatureMap;
use atelier::engine::analogy::patchmatch::{patch_distance, patchmatch, PatchMatchParams};
use atelier::engine::analogy::reconstruct::reconstruct;
use atelier::engine::analogy::vote::vote;
use atelier::engine::analogy::{self, AnalogySpec, Nnf};
use atelier::engine::infra::flow::Flow;
use atelier::engine::infra::sink::Each;
use atelier::engine::nets::vgg::{Layer, Padding, Pooling, Vgg19};
use atelier::engine::nets::weights::Weights;
use tch::{Device, Kind, Tensor};

use crate::util::{root, weights_path, write_pattern};

/// A reproducible random map (values in −1..1), from tch's seeded generator.
fn random_map(w: usize, h: usize, c: usize, seed: i64) -> FeatureMap {
    tch::manual_seed(seed);
    let t = Tensor::rand(
        [1, c as i64, h as i64, w as i64],
        (Kind::Float, Device::Cpu),
    ) * 2.0
        - 1.0;
    FeatureMap::from_tensor(&t).unwrap()
}

/// `m` shifted so that `shifted(x, y) = m(x + dx, y + dy)`, zeros outside.
fn shifted(m: &FeatureMap, dx: i64, dy: i64) -> FeatureMap {
    let mut out = FeatureMap::zeros(m.width, m.height, m.channels);
    for y in 0..m.height as i64 {
        for x in 0..m.width as i64 {
            let (sx, sy) = (x + dx, y + dy);
            if sx >= 0 && sy >= 0 && sx < m.width as i64 && sy < m.height as i64 {
                let i = ((y * m.width as i64 + x) as usize) * m.channels;
                out.data[i..i + m.channels].copy_from_slice(m.at(sx as usize, sy as usize));
            }
        }
    }
    out
}

fn params(patch: usize, radius: usize, seed: u64) -> PatchMatchParams {
    PatchMatchParams {
        patch,
        radius,
        iterations: 10,
        seed,
        threads: 2,
    }
}

fn go(_: usize) -> atelier::engine::Result<Flow> {
    Ok(Flow::Continue)
}

#[test]
fn patchmatch_finds_a_shift_both_ways_from_a_random_start() {
    let (w, h, c) = (32, 24, 16);
    let (dx, dy) = (5i64, -3i64);
    let a = random_map(w, h, c, 1);
    // b(x, y) = a(x − dx, y − dy): a's (x, y) sits at (x + dx, y + dy) in b.
    let b = shifted(&a, -dx, -dy);
    let half = 1i64;
    for (src, dst, (ox, oy), seed) in [(&a, &b, (dx, dy), 7u64), (&b, &a, (-dx, -dy), 8)] {
        let mut nnf = Nnf::random(w, h, w, h, seed);
        patchmatch(src, dst, &mut nnf, &params(3, w.max(h), seed), &mut go).unwrap();
        let (mut interior, mut found) = (0, 0);
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                // Interior: the whole patch and its shifted copy lie inside both maps.
                let inside = |x: i64, y: i64| {
                    x - half >= 0 && y - half >= 0 && x + half < w as i64 && y + half < h as i64
                };
                if !(inside(x, y) && inside(x + ox, y + oy)) {
                    continue;
                }
                interior += 1;
                if nnf.offset(x as usize, y as usize) == (ox, oy) {
                    found += 1;
                }
            }
        }
        let share = found as f64 / interior as f64;
        assert!(
            share >= 0.99,
            "offset ({ox},{oy}) found at {share:.3} of {interior}"
        );
    }
}

#[test]
fn patchmatch_on_a_12x12_map_matches_brute_force() {
    // B is A cut into four 6x6 quadrants put back in rotated order, plus
    // noise: like two images of the same parts in other places, the true
    // field is piecewise constant, and patches across a seam have optima
    // that are no shift at all.
    let (n, c) = (12usize, 8usize);
    let a = random_map(n, n, c, 3);
    let noise = random_map(n, n, c, 4);
    let mut b = FeatureMap::zeros(n, n, c);
    for y in 0..n {
        for x in 0..n {
            // Quadrant (qx, qy) of A goes to the next one clockwise in B.
            let (qx, qy) = (x / 6, y / 6);
            let (tx, ty) = match (qx, qy) {
                (0, 0) => (1, 0),
                (1, 0) => (1, 1),
                (1, 1) => (0, 1),
                _ => (0, 0),
            };
            let (bx, by) = (tx * 6 + x % 6, ty * 6 + y % 6);
            let i = (by * n + bx) * c;
            for k in 0..c {
                b.data[i + k] = a.at(x, y)[k] + 0.1 * noise.at(x, y)[k];
            }
        }
    }
    let mut nnf = Nnf::random(n, n, n, n, 11);
    let dist = patchmatch(&a, &b, &mut nnf, &params(3, n, 5), &mut go).unwrap();
    let mut good = 0;
    for y in 0..n {
        for x in 0..n {
            let best = (0..n)
                .flat_map(|by| (0..n).map(move |bx| (bx, by)))
                .map(|q| patch_distance(&a, &b, (x, y), q, 3))
                .fold(f32::INFINITY, f32::min);
            let got = patch_distance(&a, &b, (x, y), nnf.get(x, y), 3);
            assert_eq!(got, dist[y * n + x], "returned distance is the field's");
            if got - best <= 1e-6 {
                good += 1;
            }
        }
    }
    assert!(
        good >= 137,
        "{good} of 144 positions at the brute-force optimum"
    );
}

#[test]
fn patchmatch_does_not_depend_on_the_thread_count() {
    let a = random_map(20, 16, 8, 2);
    let b = random_map(18, 14, 8, 3);
    let run = |threads| {
        let mut nnf = Nnf::random(20, 16, 18, 14, 4);
        let p = PatchMatchParams {
            threads,
            ..params(3, 18, 9)
        };
        patchmatch(&a, &b, &mut nnf, &p, &mut go).unwrap();
        nnf
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn voting_with_the_identity_field_returns_its_input_exactly() {
    let b = random_map(13, 9, 7, 5);
    for patch in [1, 3, 5] {
        let out = vote(&Nnf::identity(13, 9, 13, 9), &b, patch).unwrap();
        assert_eq!(out, b, "patch {patch}");
    }
    // A shifted field moves the values.
    let mut nnf = Nnf::identity(13, 9, 13, 9);
    for t in nnf.targets.iter_mut() {
        t.0 = (t.0 + 1).min(12);
    }
    let out = vote(&nnf, &b, 1).unwrap();
    assert_eq!(out.at(3, 4), b.at(4, 4));
}

#[test]
fn upsampling_a_constant_offset_doubles_it() {
    let (w, h) = (10usize, 8usize);
    let (dx, dy) = (2i64, 1i64);
    let mut coarse = Nnf::identity(w, h, w, h);
    for y in 0..h {
        for x in 0..w {
            let t = (
                (x as i64 + dx).clamp(0, w as i64 - 1),
                (y as i64 + dy).clamp(0, h as i64 - 1),
            );
            coarse.targets[y * w + x] = (t.0 as u32, t.1 as u32);
        }
    }
    let fine = coarse.upsample(2 * w, 2 * h, 2 * w, 2 * h);
    // Away from the right and bottom edges (where targets clamp) it is 2·offset.
    for y in 0..2 * (h - 1) {
        for x in 0..2 * (w - 2) {
            assert_eq!(fine.offset(x, y), (2 * dx, 2 * dy), "at ({x},{y})");
        }
    }
}

#[test]
fn flow_file_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.flo");
    let nnf = Nnf::random(7, 5, 9, 4, 1);
    nnf.write_flo(&p).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    assert_eq!(&bytes[..4], b"PIEH");
    assert_eq!(bytes.len(), 12 + 7 * 5 * 8);
    assert_eq!(Nnf::read_flo(&p, 9, 4).unwrap(), nnf);
    // Never over an existing file.
    assert!(nnf.write_flo(&p).is_err());
}

fn vgg() -> Vgg19 {
    let w = Weights::load(&weights_path()).unwrap();
    Vgg19::new(&w, Pooling::Max, Device::Cpu).unwrap()
}

#[test]
fn reconstruction_reaches_a_target_the_sub_network_made() {
    let vgg = vgg();
    let (from, to): (Layer, Layer) = ("relu1_1".parse().unwrap(), "relu2_1".parse().unwrap());
    tch::manual_seed(0);
    let image = Tensor::rand([1, 3, 24, 24], (Kind::Float, Device::Cpu));
    let f = vgg.features(&image, &[from, to], Padding::Zero).unwrap();
    let target = f[&to].detach();
    // Start from a blurred copy of the true input: same scale, wrong detail.
    let init = f[&from].avg_pool2d([5, 5], [1, 1], [2, 2], false, true, None);
    let r = reconstruct(
        &vgg,
        Some(from),
        to,
        &target,
        &init,
        60,
        Padding::Zero,
        &mut |_, _| Ok(Flow::Continue),
    )
    .unwrap();
    assert!(r.first_loss > 0.0);
    assert!(
        r.last_loss <= 0.1 * r.first_loss,
        "loss {} -> {} ({} evaluations)",
        r.first_loss,
        r.last_loss,
        r.evaluations
    );
}

fn load(path: &Path) -> image::RgbImage {
    image::open(path).unwrap().to_rgb8()
}

#[test]
fn two_identical_images_give_the_identity_field_and_a_prime_is_a() {
    let vgg = vgg();
    let img = load(&root().join("contents/chelsea.png"));
    for fast in [true, false] {
        let spec = AnalogySpec {
            size: 48,
            fast,
            iterations: 5,
            ..AnalogySpec::default()
        };
        let r = analogy::run(
            &vgg,
            &spec,
            &img,
            &img,
            &mut Each(|_: &analogy::AnalogyProgress| Flow::Continue),
        )
        .unwrap();
        assert!(
            r.nnf_ab.identity_share() >= 0.99,
            "fast {fast}: {}",
            r.nnf_ab.identity_share()
        );
        assert!(
            r.nnf_ba.identity_share() >= 0.99,
            "fast {fast}: {}",
            r.nnf_ba.identity_share()
        );
        let diff: f64 = r
            .a_prime
            .as_raw()
            .iter()
            .zip(r.a.as_raw())
            .map(|(p, q)| (f64::from(*p) - f64::from(*q)).abs())
            .sum::<f64>()
            / r.a.as_raw().len() as f64;
        assert!(diff < 1.0, "fast {fast}: mean |A' - A| = {diff}");
    }
}

#[test]
fn cancelling_stops_with_cancelled() {
    let vgg = vgg();
    let img = load(&root().join("contents/chelsea.png"));
    let spec = AnalogySpec {
        size: 48,
        fast: true,
        ..AnalogySpec::default()
    };
    let mut calls = 0;
    let r = analogy::run(
        &vgg,
        &spec,
        &img,
        &img,
        &mut Each(|_: &analogy::AnalogyProgress| {
            calls += 1;
            if calls >= 3 {
                Flow::Stop
            } else {
                Flow::Continue
            }
        }),
    );
    assert!(matches!(r, Err(atelier::engine::Error::Cancelled)));
    assert_eq!(calls, 3);
}

/// `atelier analogy ARGS -o out` fails with one line containing `want` and
/// writes nothing into `dir` but what was there.
fn fails(dir: &Path, args: &[&str], want: &str) {
    let before: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let out = dir.join("never.png");
    let o = atelier()
        .arg("analogy")
        .args(args)
        .args(["-o", out.to_str().unwrap(), "--device", "cpu"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{args:?} succeeded");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    assert!(
        stderr.contains(want),
        "{args:?}: expected '{want}' in: {stderr}"
    );
    let after: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(before, after, "{args:?} wrote files");
}

#[test]
fn bad_input_gets_one_clear_line_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = |name: &str| d.join(name).display().to_string();
    std::fs::write(d.join("empty.jpg"), b"").unwrap();
    std::fs::write(d.join("text.jpg"), b"not an image\n").unwrap();
    write_pattern(&d.join("one.png"), 1, 1);
    write_pattern(&d.join("ok.png"), 40, 40);
    write_pattern(&d.join("thin.png"), 400, 20);
    std::fs::write(d.join("taken.png"), b"keep me").unwrap();
    let ok = path("ok.png");
    fails(d, &[&path("missing.png"), &ok], "no such file");
    fails(d, &[&ok, &path("empty.jpg")], "empty file");
    fails(d, &[&path("text.jpg"), &ok], "not a readable image");
    fails(d, &[&path("one.png"), &ok], "too small");
    fails(d, &[&ok, &d.display().to_string()], "is a directory");
    fails(d, &[&ok, "no-such-painting"], "neither a file nor a name");
    fails(
        d,
        &[&ok, &ok, "--weight-level", "4"],
        "invalid weight level",
    );
    fails(d, &[&ok, &ok, "--size", "8"], "invalid size");
    fails(d, &[&ok, &ok, "--iterations", "0"], "invalid iterations");
    fails(
        d,
        &[&path("thin.png"), &ok, "--size", "64"],
        "at least 16 px",
    );
    // An existing output, or sheet, is never overwritten.
    let o = atelier()
        .args([
            "analogy",
            &ok,
            &ok,
            "--device",
            "cpu",
            "-o",
            &path("taken.png"),
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    assert_eq!(std::fs::read(d.join("taken.png")).unwrap(), b"keep me");
    fails(
        d,
        &[&ok, &ok, "--sheet", &path("taken.png")],
        "already exists",
    );
}

#[test]
fn a_tiny_fast_analogy_writes_every_output_beside_a_prime() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("a.png");
    let o = atelier()
        .args([
            "analogy", "chelsea", "coffee", "--size", "40", "--fast", "--device", "cpu",
        ])
        .args(["-o", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stderr = String::from_utf8_lossy(&o.stderr);
    for layer in analogy::LAYERS {
        assert!(
            stderr.contains(&format!("{layer} (")),
            "no progress for {layer}: {stderr}"
        );
    }
    for name in [
        "a.png",
        "a.b.png",
        "a.flo",
        "a.flow.png",
        "a.b.flo",
        "a.b.flow.png",
    ] {
        assert!(d.join(name).exists(), "{name} missing");
    }
    let a_prime = load(&out);
    let b = load(&d.join("a.b.png"));
    // A′ has A's working size (chelsea 451x300 -> 40x27), B has B′'s (coffee 600x400 -> 40x27).
    assert_eq!(a_prime.dimensions(), (40, 27));
    assert_eq!(b.dimensions(), (40, 27));
    let nnf = Nnf::read_flo(&d.join("a.flo"), 40, 27).unwrap();
    assert_eq!((nnf.width, nnf.height), (40, 27));
    // A second run never overwrites: its siblings get new names.
    let out2 = d.join("a-2.png");
    let o = atelier()
        .args([
            "analogy", "chelsea", "coffee", "--size", "40", "--fast", "--device", "cpu",
        ])
        .args(["-o", out2.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(d.join("a-2.b.png").exists());
}

#[test]
fn ctrl_c_during_the_reconstruction_stops_cleanly_and_writes_nothing() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cancelled.png");
    let mut child = atelier()
        .args([
            "analogy", "chelsea", "coffee", "--size", "64", "--device", "cpu",
        ])
        .args(["-o", out.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        // A progress line (`[  1.2 s] relu4_1 (2/5): reconstruction`), not
        // the header, which names the reconstruction too.
        if line.starts_with('[') && line.contains("reconstruction") {
            break;
        }
    }
    assert!(Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    for line in lines {
        seen.push(line.unwrap());
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{seen:?}");
    assert!(seen.iter().any(|l| l.contains("cancelled")), "{seen:?}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "files left: {left:?}");
}
