//! Multi-style (conditional instance norm) fast-style networks: the forward
//! against a PyTorch reference on the same weights (tests/golden/cin.safetensors
//! from scripts/golden_cin.py), model files, mixing, `--extend`, the CLI.

use crate::util::atelier_in;
use atelier::engine::fast::apply::forward_padded_mix;
use atelier::engine::fast::mix::StyleMix;
use atelier::engine::fast::model_file::{blank_info, Model, StyleSource};
use atelier::engine::fast::transformer::{Arch, Norm};
use tch::{Device, Tensor};

use crate::util::{copy_golden, golden_get as get, golden_tensors, rel_err, root, stdout_ok};

const WIDTH: f64 = 0.0625;
const STYLES: usize = 3;

fn golden() -> Vec<(String, Tensor)> {
    golden_tensors("cin.safetensors")
}

fn cin_arch(styles: usize) -> Arch {
    Arch {
        norm: Norm::Conditional { styles },
        width: WIDTH,
    }
}

fn style_list(n: usize) -> Vec<StyleSource> {
    (0..n)
        .map(|i| StyleSource {
            name: format!("s{i}"),
            path: format!("/styles/s{i}.png").into(),
            sha256: "0".repeat(64),
        })
        .collect()
}

/// The golden network with its weights, styles named s0, s1, s2.
fn golden_model(g: &[(String, Tensor)]) -> Model {
    let mut info = blank_info(cin_arch(STYLES));
    info.styles = style_list(STYLES);
    let m = Model::new(info, Device::Cpu).unwrap();
    copy_golden(&m.vs, g, "cin.");
    m
}

#[test]
fn forward_matches_the_pytorch_reference_for_one_style_and_a_mix() {
    let g = golden();
    let m = golden_model(&g);
    let x = get(&g, "input");
    // Per-image weights: image 0 style 1 alone, image 1 a 0.2/0.5/0.3 mix.
    let y = tch::no_grad(|| m.net.forward_mix(&x, Some(&get(&g, "mix")), false)).unwrap();
    let want = get(&g, "out_mix");
    assert_eq!(y.size(), want.size());
    let e = rel_err(&y, &want);
    assert!(e < 1e-4, "mix: relative error {e}");
    // One style (the reference gathers its row) for both images.
    let one_hot = StyleMix::single(&m.info.styles, 2)
        .unwrap()
        .tensor(2, Device::Cpu)
        .unwrap();
    let y = tch::no_grad(|| m.net.forward_mix(&x, Some(&one_hot), false)).unwrap();
    let e = rel_err(&y, &get(&g, "out_style2"));
    assert!(e < 1e-4, "style 2: relative error {e}");
    // The styles really differ (the test would not see a wrong row otherwise).
    assert!(rel_err(&get(&g, "out_style2"), &want) > 1e-2);
    // Without weights a conditional network refuses clearly.
    let e = tch::no_grad(|| m.net.forward_t(&x, false)).err().unwrap();
    assert!(e.to_string().contains("needs style weights"), "{e}");
}

#[test]
fn a_one_zero_mix_is_bit_identical_to_the_style_and_an_even_mix_differs_from_both() {
    let g = golden();
    let m = golden_model(&g);
    let x = get(&g, "input").narrow(0, 0, 1);
    let mix = |e: &[&str]| {
        let e: Vec<String> = e.iter().map(|s| s.to_string()).collect();
        StyleMix::parse(&e, &m.info.styles).unwrap()
    };
    let run = |m_: &StyleMix| tch::no_grad(|| forward_padded_mix(&m, &x, Some(m_))).unwrap();
    let s0 = run(&mix(&["s0"]));
    let s1 = run(&mix(&["1"]));
    let one_zero = run(&mix(&["s0:1", "s1:0"]));
    assert!(one_zero.equal(&s0), "1:0 is style s0 bit for bit");
    let half = run(&mix(&["s0:0.5", "s1:0.5"]));
    for (other, name) in [(&s0, "s0"), (&s1, "s1")] {
        let d = (&half - other).abs().max().double_value(&[]);
        assert!(d > 1.0, "0.5:0.5 differs from {name} (max diff {d})");
    }
}

fn abc_styles() -> Vec<StyleSource> {
    ["a", "b", "7"]
        .iter()
        .map(|n| StyleSource {
            name: n.to_string(),
            path: format!("/{n}.png").into(),
            sha256: String::new(),
        })
        .collect()
}

fn parse_mix(e: &[&str]) -> atelier::engine::Result<StyleMix> {
    let e: Vec<String> = e.iter().map(|s| s.to_string()).collect();
    StyleMix::parse(&e, &abc_styles())
}

#[test]
fn names_indices_and_weights_normalise() {
    assert_eq!(parse_mix(&["b"]).unwrap().weights, [0.0, 1.0, 0.0]);
    assert_eq!(parse_mix(&["1"]).unwrap().weights, [0.0, 1.0, 0.0]);
    // A name wins over an index; "7" is the third style's name.
    assert_eq!(parse_mix(&["7"]).unwrap().weights, [0.0, 0.0, 1.0]);
    let m = parse_mix(&["a:3", "2:1"]).unwrap();
    assert_eq!(m.weights, [0.75, 0.0, 0.25]);
    assert_eq!(m.label, "a-0.75+7-0.25");
    assert_eq!(parse_mix(&["a:1", "b:0"]).unwrap().weights, [1.0, 0.0, 0.0]);
    assert!(StyleMix::has_weights(&["a:0.5".into()]));
    assert!(!StyleMix::has_weights(&["a".into(), "2".into()]));
}

#[test]
fn bad_entries_get_one_clear_error() {
    for (e, want) in [
        (vec!["3"], "index 3 is out of range"),
        (vec!["zz"], "no style 'zz'"),
        (vec!["a:-1"], "must be a finite number ≥ 0"),
        (vec!["a:0", "b:0"], "all are 0"),
        (vec![], "none given"),
    ] {
        let err = parse_mix(&e).unwrap_err().to_string();
        assert!(err.contains(want), "{e:?}: {err}");
    }
}

// ---- model files, training, extending, the CLI, the queue, watch rules ----

use std::path::{Path, PathBuf};
use std::process::Command;

use atelier::engine::fast::model_file::read_info;
use atelier::engine::fast::train::{train, TrainProgress, TrainSpec};
use atelier::engine::infra::flow::Flow;
use atelier::engine::infra::sink::Sink;
use atelier::engine::nets::vgg::{Pooling, Vgg19};
use atelier::engine::nets::weights::Weights;

const STYLE_A: &str = "styles/36029.jpg";
const STYLE_B: &str = "styles/435809.jpg";
const STYLE_C: &str = "styles/36131.jpg";

/// Runs `cmd`, which must fail; returns its stderr.
fn fails(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        !out.status.success(),
        "succeeded: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Three small photos (the bundled contents, downscaled).
fn dataset(dir: &Path) -> PathBuf {
    crate::util::small_photos(dir)
}

fn vgg() -> Vgg19 {
    Vgg19::new(
        &Weights::load(&crate::util::weights_path()).unwrap(),
        Pooling::Max,
        Device::Cpu,
    )
    .unwrap()
}

struct Totals(Vec<f64>);

impl Sink<TrainProgress> for Totals {
    fn progress(&mut self, p: &TrainProgress) -> atelier::engine::Result<Flow> {
        self.0.push(p.losses["total"]);
        Ok(Flow::Continue)
    }
}

fn cin_spec(ds: &Path, styles: &[&str], total: usize, iterations: u64) -> TrainSpec {
    TrainSpec {
        style: root().join(styles[0]),
        more_styles: styles[1..].iter().map(|s| root().join(s)).collect(),
        extend: None,
        style_names: Vec::new(),
        dataset: ds.to_path_buf(),
        size: 32,
        style_size: 64,
        batch: 2,
        iterations,
        content_weight: 1.0,
        style_weight: 30.0,
        tv_weight: 0.0,
        lr: 1e-2,
        arch: Arch {
            norm: Norm::Conditional { styles: total },
            width: 0.125,
        },
        seed: 5,
        checkpoint_every: 100,
        preview_every: 0,
        preview: None,
    }
}

fn photo() -> Tensor {
    let img = image::open(root().join("contents/chelsea.png"))
        .unwrap()
        .to_rgb8();
    let img = atelier::engine::infra::image_io::resize_longer_side(&img, 40);
    atelier::engine::infra::image_io::to_tensor(&img, Device::Cpu).unwrap() * 255.0
}

fn styled(m: &Model, i: usize) -> Tensor {
    let mix = StyleMix::single(&m.info.styles, i).unwrap();
    tch::no_grad(|| forward_padded_mix(m, &photo(), Some(&mix))).unwrap()
}

#[test]
fn model_files_say_cin_and_list_their_styles() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("models")).unwrap();
    let g = golden();
    let m = golden_model(&g);
    let p = data.join("models/tri.safetensors");
    m.save(&p).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone().unwrap();
    assert_eq!(meta["architecture"], "cin");
    assert_eq!(meta["norm"], "conditional");
    let info = read_info(&p).unwrap();
    // The styles in order, each path recorded as its file name (no folders
    // of the machine that made the model).
    let portable: Vec<_> = m
        .info
        .styles
        .iter()
        .map(|s| StyleSource {
            path: s.path.file_name().unwrap().into(),
            ..s.clone()
        })
        .collect();
    assert_eq!(info.styles, portable);
    let back = Model::load(&p, Device::Cpu).unwrap();
    assert_eq!(back.info.arch, cin_arch(STYLES));

    let ls = crate::util::json_output(atelier_in(&data).args(["models", "ls", "--json"]));
    let e = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "tri")
        .expect("listed");
    assert_eq!(e["architecture"], "cin");
    assert_eq!(e["style_names"], serde_json::json!(["s0", "s1", "s2"]));
    assert_eq!(e["styles"].as_array().unwrap().len(), 3);
    let text = stdout_ok(atelier_in(&data).args(["models", "ls"]));
    assert!(text.contains("3 styles: 0:s0, 1:s1, 2:s2"), "{text}");
    let show: serde_json::Value = serde_json::from_str(&stdout_ok(
        atelier_in(&data).args(["models", "show", "tri"]),
    ))
    .unwrap();
    let styles = show["info"]["styles"].as_array().unwrap();
    assert_eq!(styles.len(), 3);
    for (i, s) in styles.iter().enumerate() {
        assert_eq!(s["name"], format!("s{i}"));
        // Only the file name: a model file records no folders of the machine.
        assert_eq!(s["path"], format!("s{i}.png"));
        assert_eq!(s["sha256"].as_str().unwrap().len(), 64);
    }
    // A file whose style list does not fit its tables is refused.
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut meta2 = meta.clone();
    let mut j: serde_json::Value = serde_json::from_str(&meta["atelier"]).unwrap();
    j["styles"].as_array_mut().unwrap().pop();
    meta2.insert("atelier".into(), j.to_string());
    let bad = dir.path().join("bad.safetensors");
    std::fs::write(
        &bad,
        safetensors::tensor::serialize(st.tensors(), &Some(meta2)).unwrap(),
    )
    .unwrap();
    let e = Model::load(&bad, Device::Cpu).err().unwrap().to_string();
    assert!(e.contains("2 styles listed for a network of 3"), "{e}");
}

#[test]
fn extend_trains_only_the_new_style_and_keeps_the_old_ones_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset(dir.path());
    let vgg = vgg();
    // A two-style model, a few iterations, saved (fp16) as a user would have it.
    let base_spec = cin_spec(&ds, &[STYLE_A, STYLE_B], 2, 4);
    let mut t = Totals(Vec::new());
    let out = train(&base_spec, &vgg, &dir.path().join("a.ck"), None, &mut t).unwrap();
    let base_path = dir.path().join("base.safetensors");
    out.model.save(&base_path).unwrap();
    let base = Model::load(&base_path, Device::Cpu).unwrap();

    let mut spec = cin_spec(&ds, &[STYLE_C], 3, 16);
    spec.extend = Some(base_path.clone());
    spec.lr = 5e-2;
    let mut t = Totals(Vec::new());
    let out = train(&spec, &vgg, &dir.path().join("b.ck"), None, &mut t).unwrap();
    let first: f64 = t.0[..3].iter().sum();
    let last: f64 = t.0[13..].iter().sum();
    assert!(
        last < 0.8 * first,
        "new style's loss {first} -> {last}: {:?}",
        t.0
    );
    let ext_path = dir.path().join("ext.safetensors");
    out.model.save(&ext_path).unwrap();
    let ext = Model::load(&ext_path, Device::Cpu).unwrap();
    assert_eq!(ext.info.styles.len(), 3);
    assert_eq!(ext.info.styles[..2], base.info.styles[..]);
    assert_eq!(ext.info.styles[2].name, "36131");
    for i in 0..2 {
        assert!(
            styled(&ext, i).equal(&styled(&base, i)),
            "style {i} is bit-identical after extending"
        );
    }
    let d = (styled(&ext, 2) - styled(&ext, 0))
        .abs()
        .max()
        .double_value(&[]);
    assert!(d > 1.0, "the new style is a style of its own ({d})");

    // Extending a single-style model, or with a wrong style count: refused.
    let single = dir.path().join("single.safetensors");
    Model::new(
        blank_info(Arch {
            norm: Norm::Instance,
            width: 0.125,
        }),
        Device::Cpu,
    )
    .unwrap()
    .save(&single)
    .unwrap();
    let mut bad = cin_spec(&ds, &[STYLE_C], 2, 2);
    bad.extend = Some(single);
    let e = train(
        &bad,
        &vgg,
        &dir.path().join("c.ck"),
        None,
        &mut Totals(vec![]),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("single-style network"), "{e}");
    let mut bad = cin_spec(&ds, &[STYLE_C], 5, 2);
    bad.extend = Some(base_path);
    let e = train(
        &bad,
        &vgg,
        &dir.path().join("d.ck"),
        None,
        &mut Totals(vec![]),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("expects width 0.125 and 5 styles"), "{e}");
}

fn pixels(p: &Path) -> Vec<u8> {
    image::open(p).unwrap().to_rgb8().into_raw()
}

fn train_args(ds: &Path) -> Vec<String> {
    [
        "--dataset",
        ds.to_str().unwrap(),
        "--size",
        "32",
        "--batch",
        "1",
        "--width",
        "0.125",
        "--iterations",
        "2",
        "--checkpoint-every",
        "1",
        "--preview-every",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn cli_trains_extends_applies_mixes_and_refuses_bad_styles_writing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ds = dataset(dir.path());
    let say = stdout_ok(
        atelier_in(&data)
            .args(["train", "--style", STYLE_A, "--style", STYLE_B, "-o", "duo"])
            .args(train_args(&ds)),
    );
    assert!(
        say.contains("styles: water-moon-avalokiteshvara, the-harvesters"),
        "{say}"
    );
    let (a, b) = ("water-moon-avalokiteshvara", "the-harvesters");
    let ls = crate::util::json_output(atelier_in(&data).args(["models", "ls", "--json"]));
    let duo = ls
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "duo")
        .unwrap();
    assert_eq!(duo["style_names"], serde_json::json!([a, b]));
    // The single STYLE positional still trains a single-style network.
    stdout_ok(
        atelier_in(&data)
            .args(["train", STYLE_C, "-o", "solo"])
            .args(train_args(&ds)),
    );
    // --extend: a new model with the old styles first.
    stdout_ok(
        atelier_in(&data)
            .args(["train", "--extend", "duo", "--style", STYLE_C, "-o", "trio"])
            .args(train_args(&ds)),
    );
    let trio = read_info(&data.join("models/trio.safetensors")).unwrap();
    let names: Vec<&str> = trio.styles.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, [a, b, "landscapes-with-poems"]);

    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let apply = |name: &str, styles: &[&str]| {
        let mut c = atelier_in(&data);
        c.args(["apply", "duo", "contents/chelsea.png", "--size", "40", "-o"])
            .arg(out.join(name));
        for s in styles {
            c.args(["--style", s]);
        }
        c
    };
    stdout_ok(&mut apply("a.png", &[a]));
    stdout_ok(&mut apply(
        "a10.png",
        &[&format!("{a}:1"), &format!("{b}:0")],
    ));
    stdout_ok(&mut apply("b.png", &["1"]));
    stdout_ok(&mut apply("half.png", &["0:0.5", "1:0.5"]));
    let px = |n: &str| pixels(&out.join(n));
    assert_eq!(px("a.png"), px("a10.png"), "1:0 is the style alone");
    assert_ne!(px("half.png"), px("a.png"));
    assert_ne!(px("half.png"), px("b.png"));
    assert_ne!(px("a.png"), px("b.png"));
    // The default name carries the style.
    stdout_ok(
        atelier_in(&data)
            .args([
                "apply",
                "duo",
                "contents/chelsea.png",
                "--size",
                "40",
                "--style",
                b,
                "-o",
            ])
            .arg(&out),
    );
    assert!(out.join(format!("chelsea__duo-{b}.png")).exists());

    let before = std::fs::read_dir(&out).unwrap().count();
    for (styles, want) in [
        (vec!["2"], "index 2 is out of range"),
        (vec!["no-such-style"], "no style 'no-such-style'"),
        (vec!["0:-1"], "must be a finite number ≥ 0"),
        (vec!["0:0", "1:0"], "all are 0"),
        (vec![], "is a multi-style model: choose among its styles"),
    ] {
        let e = fails(&mut apply("bad.png", &styles));
        assert!(e.contains(want), "{styles:?}: {e}");
        assert_eq!(e.trim().lines().count(), 1, "one line: {e}");
    }
    let e = fails(
        atelier_in(&data)
            .args([
                "apply",
                "solo",
                "contents/chelsea.png",
                "--style",
                "0",
                "-o",
            ])
            .arg(out.join("bad.png")),
    );
    assert!(e.contains("'solo' is a single-style model"), "{e}");
    let e = fails(
        atelier_in(&data)
            .args(["train", "--extend", "solo", "--style", STYLE_A, "-o", "x"])
            .args(train_args(&ds)),
    );
    assert!(e.contains("'solo' is a single-style model"), "{e}");
    assert!(!data.join("models/x.safetensors").exists());
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        before,
        "nothing written"
    );

    // Queued: a multi-style training and an apply with a style, run by a worker.
    stdout_ok(
        atelier_in(&data)
            .args([
                "queue", "add", "train", "--style", STYLE_B, "--style", STYLE_C,
            ])
            .args(["--name", "queued"])
            .args(train_args(&ds)),
    );
    stdout_ok(atelier_in(&data).args([
        "queue",
        "add",
        "apply",
        "duo",
        "contents/chelsea.png",
        "--size",
        "40",
        "--style",
        "1",
    ]));
    let e = fails(atelier_in(&data).args(["queue", "add", "apply", "duo", "contents/chelsea.png"]));
    assert!(e.contains("multi-style model"), "{e}");
    stdout_ok(atelier_in(&data).args(["worker", "--exit-when-idle", "--device", "cpu"]));
    let q = read_info(&data.join("models/queued.safetensors")).unwrap();
    assert_eq!(q.arch.norm, Norm::Conditional { styles: 2 });
    let store = atelier::queue::Store::open(&data).unwrap();
    let runs = store
        .list(&atelier::queue::store::Filter::default())
        .unwrap();
    let applied = runs
        .iter()
        .find_map(|r| match &r.outcome {
            Some(atelier::jobs::Outcome::Apply(o)) => Some(o.outputs[0].clone()),
            _ => None,
        })
        .expect("the apply run finished");
    assert!(
        applied
            .to_string_lossy()
            .ends_with(&format!("__duo-{b}.png")),
        "{}",
        applied.display()
    );
    assert_eq!(pixels(&applied), px("b.png"), "the queued mix is style 1");
}

#[test]
fn a_watch_rule_with_a_multi_style_model_gives_an_output_per_style_or_one_mix() {
    use atelier::watch::{Rule, RuleConfig};
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
    golden_model(&golden())
        .save(&models.join("tri.safetensors"))
        .unwrap();
    Model::new(
        blank_info(Arch {
            norm: Norm::Instance,
            width: WIDTH,
        }),
        Device::Cpu,
    )
    .unwrap()
    .save(&models.join("solo.safetensors"))
    .unwrap();
    let lib = atelier::engine::fast::models::ModelLibrary::new(models.clone(), models.clone());
    let rule = |extra: &str| {
        let text = format!(
            "inbox = {:?}\noutput = {:?}\n{extra}\n",
            dir.path().join("inbox").display().to_string(),
            dir.path().join("out").display().to_string()
        );
        let c: RuleConfig = toml::from_str(&text).unwrap();
        Rule::resolve(&c, Default::default(), &root().join("styles"), &lib)
    };
    let content = atelier::jobs::Input::hashed(
        atelier::jobs::Role::Content,
        None,
        "/in/p.png".into(),
        "x".into(),
    );
    let jobs = rule("model = \"tri\"\nstyles = [\"s0\", \"2\"]")
        .unwrap()
        .jobs(content.clone());
    let got: Vec<(String, Vec<f64>)> = jobs
        .iter()
        .map(|(label, job, _)| match job {
            atelier::jobs::Job::Apply(s) => (label.clone(), s.mix.clone().unwrap().weights),
            j => panic!("{j:?}"),
        })
        .collect();
    assert_eq!(
        got,
        [
            ("tri-s0".to_string(), vec![1.0, 0.0, 0.0]),
            ("tri-s2".to_string(), vec![0.0, 0.0, 1.0])
        ]
    );
    let jobs = rule("model = \"tri\"\nstyles = [\"s0:1\", \"s1:3\"]")
        .unwrap()
        .jobs(content);
    assert_eq!(jobs.len(), 1, "weights given: one mix");
    let atelier::jobs::Job::Apply(s) = &jobs[0].1 else {
        panic!()
    };
    assert_eq!(s.mix.as_ref().unwrap().weights, [0.25, 0.75, 0.0]);
    for (extra, want) in [
        ("model = \"tri\"", "is a multi-style model: choose among"),
        ("model = \"tri\"\nstyles = [\"s9\"]", "no style 's9'"),
        (
            "model = \"solo\"\nstyles = [\"s0\"]",
            "is a single-style model",
        ),
    ] {
        let e = rule(extra).err().unwrap().to_string();
        assert!(e.contains(want), "{extra}: {e}");
    }
}

/// Stops after `stop_at` iterations when set; records the totals.
struct StopAt(Vec<f64>, Option<u64>);

impl Sink<TrainProgress> for StopAt {
    fn progress(&mut self, p: &TrainProgress) -> atelier::engine::Result<Flow> {
        self.0.push(p.losses["total"]);
        Ok(if Some(p.iteration) == self.1 {
            Flow::Stop
        } else {
            Flow::Continue
        })
    }
}

#[test]
fn a_resumed_multi_style_extension_follows_the_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dataset(dir.path());
    let vgg = vgg();
    let base = cin_spec(&ds, &[STYLE_A, STYLE_B], 2, 3);
    let out = train(
        &base,
        &vgg,
        &dir.path().join("a.ck"),
        None,
        &mut StopAt(vec![], None),
    );
    let base_path = dir.path().join("base.safetensors");
    out.unwrap().model.save(&base_path).unwrap();
    // Two new styles, so the per-batch draw matters too.
    let mut spec = cin_spec(&ds, &[STYLE_C, "styles/435868.jpg"], 4, 6);
    spec.extend = Some(base_path);
    let mut full = StopAt(vec![], None);
    let extended = train(&spec, &vgg, &dir.path().join("b.ck"), None, &mut full).unwrap();
    // The extension's 6 on top of the base's 3.
    assert_eq!(extended.model.info.iterations, 9);
    assert_eq!(extended.iterations, 6);
    let ck = dir.path().join("c.ck");
    let mut part = StopAt(vec![], Some(3));
    let r = train(&spec, &vgg, &ck, None, &mut part);
    assert!(matches!(r, Err(atelier::engine::Error::Cancelled)));
    let resume = atelier::engine::fast::train::read_resume(&ck).unwrap();
    assert_eq!(resume.iteration, 3);
    let mut rest = StopAt(vec![], None);
    train(&spec, &vgg, &ck, Some(&resume), &mut rest).unwrap();
    let resumed: Vec<f64> = part.0.iter().chain(&rest.0).copied().collect();
    assert_eq!(resumed.len(), 6);
    for (i, (a, b)) in full.0.iter().zip(&resumed).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * a.abs(),
            "iteration {}: {a} vs {b}",
            i + 1
        );
    }
}

/// The bundled eight-style model (models/README.md): its styles, each one
/// and a mix give different images, none the photo's.
#[test]
fn the_bundled_multi_style_model_stylizes_in_each_of_its_eight_styles_and_a_mix() {
    let m = Model::load(&root().join("models/cin-eight.safetensors"), Device::Cpu).unwrap();
    assert_eq!(m.info.arch.norm, Norm::Conditional { styles: 8 });
    let names: Vec<&str> = m.info.styles.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"irises") && names.contains(&"night-shining-white"));
    let x = photo();
    let outs: Vec<Tensor> = (0..8).map(|i| styled(&m, i)).collect();
    let mix = StyleMix::parse(&["0:0.5".into(), "1:0.5".into()], &m.info.styles).unwrap();
    let half = tch::no_grad(|| forward_padded_mix(&m, &x, Some(&mix))).unwrap();
    let diff = |a: &Tensor, b: &Tensor| (a - b).abs().mean(tch::Kind::Float).double_value(&[]);
    for (i, y) in outs.iter().enumerate() {
        assert!(diff(y, &x) > 5.0, "style {i} changes the photo");
        for (j, z) in outs.iter().enumerate().skip(i + 1) {
            assert!(diff(y, z) > 1.0, "styles {i} and {j} differ");
        }
    }
    assert!(diff(&half, &outs[0]) > 0.5 && diff(&half, &outs[1]) > 0.5);
}
