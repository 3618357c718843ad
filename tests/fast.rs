//! Fast style: the TransformerNet against pytorch/examples' on the same weights
//! (tests/golden/transformer*.{safetensors,pth}, from scripts/golden_transformer.py),
//! importing state dicts, model files, training and resuming, bad input.

use crate::util::atelier_in;
use std::path::{Path, PathBuf};

use atelier::engine::fast::apply::forward_padded;
use atelier::engine::fast::dataset::Dataset;
use atelier::engine::fast::import::import_state_dict;
use atelier::engine::fast::model_file::{blank_info, Model};
use atelier::engine::fast::train::{train, TrainProgress, TrainSpec};
use atelier::engine::fast::transformer::{Arch, Norm};
use atelier::engine::infra::flow::Flow;
use atelier::engine::infra::sink::Sink;
use atelier::engine::nets::vgg::{Pooling, Vgg19};
use atelier::engine::nets::weights::Weights;
use atelier::engine::Error;
use tch::{Device, Tensor};

use crate::util::{copy_golden, golden_get as get, golden_tensors, rel_err, root, weights_path};

const WIDTH: f64 = 0.0625;

fn golden() -> Vec<(String, Tensor)> {
    golden_tensors("transformer.safetensors")
}

fn model_with(g: &[(String, Tensor)], norm: Norm) -> Model {
    let m = Model::new(blank_info(Arch { norm, width: WIDTH }), Device::Cpu).unwrap();
    copy_golden(&m.vs, g, &format!("{norm}."));
    m
}

#[test]
fn forward_matches_pytorch_examples_for_both_norms() {
    let g = golden();
    let x = get(&g, "input");
    for norm in [Norm::Instance, Norm::Batch] {
        let m = model_with(&g, norm);
        let y = tch::no_grad(|| m.net.forward_t(&x, false).unwrap());
        let want = get(&g, &format!("out_{norm}"));
        assert_eq!(y.size(), want.size());
        let e = rel_err(&y, &want);
        assert!(e < 1e-4, "{norm}: relative error {e}");
    }
}

#[test]
fn import_drops_legacy_keys_and_gives_the_same_output() {
    let g = golden();
    let m = import_state_dict(
        &root().join("tests/golden/transformer_import.pth"),
        Device::Cpu,
    )
    .unwrap();
    assert_eq!(
        m.info.arch,
        Arch {
            norm: Norm::Instance,
            width: WIDTH
        }
    );
    let y = tch::no_grad(|| m.net.forward_t(&get(&g, "input"), false).unwrap());
    let e = rel_err(&y, &get(&g, "out_instance"));
    assert!(e < 1e-4, "relative error {e}");
}

#[test]
fn import_refuses_another_architecture_naming_the_key() {
    let err = import_state_dict(
        &root().join("tests/golden/transformer_other.pth"),
        Device::Cpu,
    )
    .err()
    .expect("refused");
    assert!(
        err.to_string().contains("res6.conv1.conv2d.weight"),
        "{err}"
    );
}

#[test]
fn model_files_round_trip_and_bad_files_get_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let g = golden();
    let m = model_with(&g, Norm::Instance);
    let path = dir.path().join("m.safetensors");
    m.save(&path).unwrap();
    assert!(m.save(&path).is_err(), "an existing file is never replaced");
    let back = Model::load(&path, Device::Cpu).unwrap();
    let x = get(&g, "input");
    let (a, b) = tch::no_grad(|| {
        (
            m.net.forward_t(&x, false).unwrap(),
            back.net.forward_t(&x, false).unwrap(),
        )
    });
    // fp16 storage: close, not equal.
    assert!(rel_err(&b, &a) < 2e-2, "{}", rel_err(&b, &a));

    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = Model::load(&cut, Device::Cpu).err().unwrap().to_string();
    assert!(e.contains("corrupt or truncated"), "{e}");

    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a model at all").unwrap();
    let e = Model::load(&junk, Device::Cpu).err().unwrap().to_string();
    assert!(e.contains("corrupt or truncated"), "{e}");

    // The same tensors under another format version / architecture.
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    for (key, value, want) in [
        ("format_version", "99", "format version 99"),
        (
            "architecture",
            "adain-decoder",
            "architecture 'adain-decoder'",
        ),
    ] {
        let mut meta = header.metadata().clone().unwrap();
        meta.insert(key.into(), value.into());
        let out = safetensors::tensor::serialize(st.tensors(), &Some(meta)).unwrap();
        let p = dir.path().join(format!("{key}.safetensors"));
        std::fs::write(&p, out).unwrap();
        let e = Model::load(&p, Device::Cpu).err().unwrap().to_string();
        assert!(e.contains(want), "{e}");
    }
}

/// A folder of small photos (the bundled contents, downscaled) plus junk.
fn tiny_dataset(dir: &Path) -> PathBuf {
    let d = dir.join("photos");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    for (i, name) in ["astronaut.png", "chelsea.png", "coffee.png"]
        .iter()
        .enumerate()
    {
        let img = image::open(root().join("contents").join(name))
            .unwrap()
            .to_rgb8();
        let img = atelier::engine::infra::image_io::resize_longer_side(&img, 80);
        let sub = if i == 2 { d.join("sub") } else { d.clone() };
        img.save(sub.join(format!("{i}.png"))).unwrap();
    }
    std::fs::write(d.join("notes.txt"), "not an image").unwrap();
    std::fs::write(d.join("broken.jpg"), b"\xff\xd8 truncated").unwrap();
    d
}

fn spec(dataset: &Path, iterations: u64) -> TrainSpec {
    TrainSpec {
        style: root().join("styles/36029.jpg"),
        dataset: dataset.to_path_buf(),
        size: 32,
        style_size: 64,
        batch: 2,
        iterations,
        content_weight: 1.0,
        style_weight: 30.0,
        tv_weight: 0.0,
        lr: 1e-2,
        arch: Arch {
            norm: Norm::Instance,
            width: 0.25,
        },
        seed: 7,
        checkpoint_every: 4,
        preview_every: 0,
        preview: None,
        more_styles: Vec::new(),
        extend: None,
        style_names: Vec::new(),
    }
}

/// Records the totals; stops after `stop_at` iterations when set.
struct Record {
    totals: Vec<f64>,
    stop_at: Option<u64>,
}

impl Sink<TrainProgress> for Record {
    fn progress(&mut self, p: &TrainProgress) -> atelier::engine::Result<Flow> {
        self.totals.push(p.losses["total"]);
        Ok(if Some(p.iteration) == self.stop_at {
            Flow::Stop
        } else {
            Flow::Continue
        })
    }
}

fn vgg() -> Vgg19 {
    Vgg19::new(
        &Weights::load(&weights_path()).unwrap(),
        Pooling::Max,
        Device::Cpu,
    )
    .unwrap()
}

#[test]
fn dataset_counts_skipped_files_and_refuses_an_empty_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = tiny_dataset(dir.path());
    let ds = Dataset::scan(&d).unwrap();
    assert_eq!((ds.files.len(), ds.skipped), (3, 2));
    let b1 = ds.batch(3, 5, 2, 32, Device::Cpu).unwrap();
    let b2 = ds.batch(3, 5, 2, 32, Device::Cpu).unwrap();
    assert_eq!(b1.size(), [2, 3, 32, 32]);
    assert!(b1.equal(&b2), "batches are a function of (seed, iteration)");

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = Dataset::scan(&empty).err().unwrap().to_string();
    assert!(e.contains("no images found"), "{e}");
    let junk = dir.path().join("junk");
    std::fs::create_dir(&junk).unwrap();
    std::fs::write(junk.join("a.txt"), "x").unwrap();
    let e = Dataset::scan(&junk).err().unwrap().to_string();
    assert!(e.contains("no images found (1 other files skipped)"), "{e}");
}

#[test]
fn training_lowers_the_loss_and_resume_follows_the_same_trajectory() {
    let dir = tempfile::tempdir().unwrap();
    let d = tiny_dataset(dir.path());
    let vgg = vgg();
    let s = spec(&d, 20);
    let mut full = Record {
        totals: vec![],
        stop_at: None,
    };
    let out = train(&s, &vgg, &dir.path().join("a.ck"), None, &mut full).unwrap();
    assert_eq!(out.iterations, 20);
    let first: f64 = full.totals[..3].iter().sum();
    let last: f64 = full.totals[17..].iter().sum();
    assert!(
        last < 0.7 * first,
        "loss {first} -> {last}: {:?}",
        full.totals
    );

    // Stopped after 6: a checkpoint at 6 (the stop), resumed to 20.
    let ck = dir.path().join("b.ck");
    let mut part = Record {
        totals: vec![],
        stop_at: Some(6),
    };
    let r = train(&s, &vgg, &ck, None, &mut part);
    assert!(matches!(r, Err(Error::Cancelled)));
    let resume = atelier::engine::fast::train::read_resume(&ck).unwrap();
    assert_eq!(resume.iteration, 6);
    let mut rest = Record {
        totals: vec![],
        stop_at: None,
    };
    train(&s, &vgg, &ck, Some(&resume), &mut rest).unwrap();
    let resumed: Vec<f64> = part.totals.iter().chain(&rest.totals).copied().collect();
    assert_eq!(resumed.len(), 20);
    for (i, (a, b)) in full.totals.iter().zip(&resumed).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * a.abs(),
            "iteration {}: {a} vs {b}",
            i + 1
        );
    }
    // Other settings do not resume from it.
    let mut other = s.clone();
    other.lr = 5e-3;
    let e = train(
        &other,
        &vgg,
        &ck,
        Some(&resume),
        &mut Record {
            totals: vec![],
            stop_at: None,
        },
    );
    assert!(e
        .err()
        .unwrap()
        .to_string()
        .contains("other training settings"));
}

#[test]
fn apply_pads_odd_sizes_and_tiles_cover_the_image() {
    let g = golden();
    let m = model_with(&g, Norm::Instance);
    let x = Tensor::rand([1, 3, 37, 50], (tch::Kind::Float, Device::Cpu)) * 255.0;
    let y = tch::no_grad(|| forward_padded(&m, &x).unwrap());
    assert_eq!(y.size(), [1, 3, 37, 50]);
    // Larger than the smallest tile, so it goes in several overlapping tiles.
    let big = Tensor::rand([1, 3, 137, 150], (tch::Kind::Float, Device::Cpu));
    let img = atelier::engine::infra::image_io::from_tensor(&big).unwrap();
    let tile = atelier::engine::fast::apply::MIN_TILE;
    let tiled = atelier::engine::fast::apply::apply(&m, &img, Device::Cpu, tile).unwrap();
    assert_eq!(tiled.dimensions(), (150, 137));
}

#[test]
fn cli_imports_lists_applies_and_refuses_bad_content_writing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = atelier_in(&data)
        .args(["models", "import"])
        .arg(root().join("tests/golden/transformer_import.pth"))
        .args(["--name", "tiny"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ls = crate::util::json_output(atelier_in(&data).args(["models", "ls", "--json"]));
    let tiny = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "tiny")
        .expect("listed");
    assert_eq!(tiny["kind"], "user");
    assert!(tiny["path"].as_str().unwrap().ends_with("tiny.safetensors"));

    let outdir = dir.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    let ok = atelier_in(&data)
        .args(["apply", "tiny"])
        .arg(root().join("contents/chelsea.png"))
        .arg("-o")
        .arg(&outdir)
        .args(["--size", "64"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let written: Vec<_> = std::fs::read_dir(&outdir).unwrap().flatten().collect();
    assert_eq!(written.len(), 1);
    let text = atelier::engine::infra::image_io::read_png_text(&written[0].path()).unwrap();
    assert!(text
        .iter()
        .any(|(k, v)| k == "atelier:apply" && v.contains("\"model\":\"tiny\"")));

    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, b"not a png").unwrap();
    let fail = atelier_in(&data)
        .args(["apply", "tiny"])
        .arg(root().join("contents/coffee.png"))
        .arg(&bad)
        .arg("-o")
        .arg(&outdir)
        .output()
        .unwrap();
    assert!(!fail.status.success());
    let err = String::from_utf8_lossy(&fail.stderr);
    assert!(
        err.contains("bad.png") && err.contains("not a readable image"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(&outdir).unwrap().count(),
        1,
        "nothing more written"
    );

    let rm = atelier_in(&data)
        .args(["models", "rm", "tiny"])
        .output()
        .unwrap();
    assert!(rm.status.success());
}
