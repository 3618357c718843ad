//! VGG19 activations against a plain PyTorch VGG19 on the same weights.
//! Golden file: tests/golden/vgg19.json, made by scripts/golden_vgg.py.

use atelier::engine::nets::vgg::{Layer, Padding, Pooling, Vgg19};
use atelier::engine::nets::weights::Weights;
use tch::{Device, Kind, Tensor};

use crate::util::{close, golden, weights_path};

/// The fixed input of scripts/golden_vgg.py: a smooth 40x48 RGB pattern in [0,1].
fn pattern(h: i64, w: i64) -> Tensor {
    let mut v = Vec::with_capacity((3 * h * w) as usize);
    for c in 0..3 {
        for y in 0..h {
            for x in 0..w {
                let (c, y, x) = (c as f64, y as f64, x as f64);
                v.push(
                    (0.5 + 0.5
                        * (0.3 * y + 0.7 * x + 1.1 * c).sin()
                        * (0.05 * y * x / 7.0 + c).cos()) as f32,
                );
            }
        }
    }
    Tensor::from_slice(&v).view([1, 3, h, w])
}

#[test]
fn activations_match_pytorch_at_every_tap() {
    let g = golden("vgg19.json");
    let weights = Weights::load(&weights_path()).unwrap();
    let x = pattern(g["height"].as_i64().unwrap(), g["width"].as_i64().unwrap());
    for (pooling, key) in [(Pooling::Max, "max"), (Pooling::Avg, "avg")] {
        let vgg = Vgg19::new(&weights, pooling, Device::Cpu).unwrap();
        let taps_json = g[key].as_object().unwrap();
        let taps: Vec<Layer> = taps_json.keys().map(|k| k.parse().unwrap()).collect();
        let feats = tch::no_grad(|| vgg.features(&x, &taps, Padding::Zero)).unwrap();
        assert_eq!(feats.len(), taps.len());
        for (name, want) in taps_json {
            let t = &feats[&name.parse::<Layer>().unwrap()];
            let shape: Vec<i64> = serde_json::from_value(want["shape"].clone()).unwrap();
            assert_eq!(t.size(), shape, "{key} {name}: shape");
            let td = t.to_kind(Kind::Double);
            let sum = td.sum(Kind::Double).double_value(&[]);
            let abs_sum = td.abs().sum(Kind::Double).double_value(&[]);
            let want_abs = want["abs_sum"].as_f64().unwrap();
            // Sums can cancel, so compare them on the scale of the absolute sum.
            assert!(
                close(sum, want["sum"].as_f64().unwrap(), 0.0, 1e-5 * want_abs),
                "{key} {name}: sum {sum}"
            );
            assert!(
                close(abs_sum, want_abs, 1e-5, 0.0),
                "{key} {name}: abs sum {abs_sum} vs {want_abs}"
            );
            let flat = t.reshape([-1]);
            let scale = want_abs / t.numel() as f64;
            for (i, v) in want["indices"]
                .as_array()
                .unwrap()
                .iter()
                .zip(want["values"].as_array().unwrap())
            {
                let got = flat.double_value(&[i.as_i64().unwrap()]);
                let v = v.as_f64().unwrap();
                assert!(
                    close(got, v, 1e-4, 1e-4 * scale),
                    "{key} {name}[{i}]: {got} vs {v}"
                );
            }
        }
    }
}

#[test]
fn stops_at_the_deepest_tap_requested() {
    let weights = Weights::load(&weights_path()).unwrap();
    let vgg = Vgg19::new(&weights, Pooling::Max, Device::Cpu).unwrap();
    let x = pattern(32, 32);
    let taps: Vec<Layer> = vec!["relu1_1".parse().unwrap(), "pool2".parse().unwrap()];
    let f = tch::no_grad(|| vgg.features(&x, &taps, Padding::Zero)).unwrap();
    assert_eq!(f.len(), 2);
    assert_eq!(f[&taps[1]].size(), vec![1, 128, 8, 8]);
    assert!(vgg.features(&x, &[], Padding::Zero).unwrap().is_empty());
}

#[test]
fn corrupt_or_missing_weights_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.safetensors");
    let e = Weights::load(&missing)
        .err()
        .expect("missing file refused")
        .to_string();
    assert!(e.contains("missing") && e.contains("make setup"), "{e}");
    let bad = dir.path().join("bad.safetensors");
    std::fs::write(&bad, b"not weights at all").unwrap();
    let e = Weights::load(&bad)
        .err()
        .expect("corrupt file refused")
        .to_string();
    assert!(e.contains("checksum mismatch"), "{e}");
}

#[test]
fn replicate_padding_sees_no_frame_around_a_flat_image() {
    // A flat image: with replicate padding every conv sees the same
    // neighbourhood everywhere, so each layer is constant over the image; with
    // zero padding (mean grey in Caffe units, then zeros) the edges differ.
    let weights = Weights::load(&weights_path()).unwrap();
    let vgg = Vgg19::new(&weights, Pooling::Max, Device::Cpu).unwrap();
    let x = Tensor::full([1, 3, 16, 24], 0.8, (Kind::Float, Device::Cpu));
    let taps: Vec<Layer> = ["conv1_1", "relu3_1"]
        .iter()
        .map(|n| n.parse().unwrap())
        .collect();
    let spread = |padding: Padding, tap: Layer| -> f64 {
        let f = &tch::no_grad(|| vgg.features(&x, &taps, padding)).unwrap()[&tap];
        let (h, w) = (f.size()[2], f.size()[3]);
        let centre = f.narrow(2, h / 2, 1).narrow(3, w / 2, 1);
        // Relative to the feature's own scale.
        (f - &centre).abs().max().double_value(&[]) / (centre.abs().max().double_value(&[]) + 1e-6)
    };
    for &tap in &taps {
        let (rep, zero) = (spread(Padding::Replicate, tap), spread(Padding::Zero, tap));
        assert!(rep < 1e-4, "{}: replicate spread {rep}", tap.name());
        assert!(zero > 0.05, "{}: zero spread {zero}", tap.name());
    }
    assert_eq!("replicate".parse::<Padding>().unwrap(), Padding::Replicate);
    assert!("mirror".parse::<Padding>().is_err());
}
