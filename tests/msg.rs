//! MSG-Net (Zhang & Dana 2017): the forward, the encoder's Gram targets and
//! stored-target mixes against a PyTorch reference on the same weights
//! (tests/golden/msg.safetensors from scripts/golden_msg.py), model files,
//! training and the CLI.

use crate::util::atelier_in;
use std::process::Command;

use atelier::engine::fast::apply::forward_padded_mix;
use atelier::engine::fast::mix::StyleMix;
use atelier::engine::fast::model_file::{blank_info, read_info, Model, StyleSource};
use atelier::engine::fast::transformer::{Arch, Norm};
use tch::{Device, Tensor};

use crate::util::{copy_golden, golden_get as get, golden_tensors, rel_err};

const WIDTH: f64 = 0.125;

fn golden() -> Vec<(String, Tensor)> {
    golden_tensors("msg.safetensors")
}

fn msg_model(styles: usize) -> Model {
    let mut info = blank_info(Arch {
        norm: Norm::Inspiration { styles },
        width: WIDTH,
    });
    info.styles = (0..styles)
        .map(|i| StyleSource {
            name: format!("s{i}"),
            path: format!("/styles/s{i}.png").into(),
            sha256: "0".repeat(64),
        })
        .collect();
    Model::new(info, Device::Cpu).unwrap()
}

/// The golden network with its weights and targets, styles s0 and s1.
fn golden_model(g: &[(String, Tensor)]) -> Model {
    let m = msg_model(2);
    copy_golden(&m.vs, g, "msg.");
    m
}

#[test]
fn forward_targets_and_mixes_match_the_pytorch_reference() {
    let g = golden();
    let m = golden_model(&g);
    let net = m.net.msg().expect("an MSG-Net");
    let x = get(&g, "input");
    // The siamese encoder's Gram of each style image.
    let targets = get(&g, "msg.targets");
    for i in 0..2 {
        let t = tch::no_grad(|| net.target(&get(&g, &format!("style{i}")))).unwrap();
        let e = rel_err(&t, &targets.narrow(0, i, 1));
        assert!(e < 1e-4, "target {i}: relative error {e}");
    }
    // Styled by style 0's Gram (net.py's setTarget).
    let y = tch::no_grad(|| net.forward_gram(&x, &net.target(&get(&g, "style0"))?)).unwrap();
    let want = get(&g, "out_style0");
    assert_eq!(y.size(), want.size());
    let e = rel_err(&y, &want);
    assert!(e < 1e-4, "style 0: relative error {e}");
    // Per-image mixes of the stored targets: image 0 style 1, image 1 0.3/0.7.
    let y = tch::no_grad(|| m.net.forward_mix(&x, Some(&get(&g, "mix")), false)).unwrap();
    let mix_want = get(&g, "out_mix");
    let e = rel_err(&y, &mix_want);
    assert!(e < 1e-4, "mix: relative error {e}");
    // The target matters (else the test could not see a wrong one).
    assert!(rel_err(&want, &mix_want) > 1e-2);
    // No weights: a clear refusal; a target of the wrong size too.
    let e = tch::no_grad(|| m.net.forward_t(&x, false)).err().unwrap();
    assert!(e.to_string().contains("needs style weights"), "{e}");
    let e = tch::no_grad(|| net.forward_gram(&x, &Tensor::zeros([1, 3, 3], tch::kind::FLOAT_CPU)))
        .err()
        .unwrap();
    assert!(e.to_string().contains("Gram target of shape"), "{e}");
}

#[test]
fn set_targets_stores_each_styles_gram_and_mixes_are_exact() {
    let g = golden();
    let m = golden_model(&g);
    let net = m.net.msg().unwrap();
    // Overwrite the stored targets by recomputing them from the images.
    let mut stored = m.vs.variables()["targets"].shallow_clone();
    let _ = tch::no_grad(|| stored.zero_());
    net.set_targets(&[get(&g, "style0"), get(&g, "style1")])
        .unwrap();
    let e = rel_err(&m.vs.variables()["targets"], &get(&g, "msg.targets"));
    assert!(e < 1e-4, "stored targets: relative error {e}");
    assert!(net.set_targets(&[get(&g, "style0")]).is_err());

    let x = get(&g, "input").narrow(0, 0, 1);
    let mix = |e: &[&str]| {
        let e: Vec<String> = e.iter().map(|s| s.to_string()).collect();
        StyleMix::parse(&e, &m.info.styles).unwrap()
    };
    let run = |m_: &StyleMix| tch::no_grad(|| forward_padded_mix(&m, &x, Some(m_))).unwrap();
    let s0 = run(&mix(&["s0"]));
    let s1 = run(&mix(&["1"]));
    assert!(
        run(&mix(&["s0:1", "s1:0"])).equal(&s0),
        "1:0 is s0 bit for bit"
    );
    let half = run(&mix(&["s0:0.5", "s1:0.5"]));
    for (other, name) in [(&s0, "s0"), (&s1, "s1")] {
        let d = (&half - other).abs().max().double_value(&[]);
        assert!(d > 1e-3, "0.5:0.5 differs from {name} (max diff {d})");
    }
}

#[test]
fn a_saved_msg_net_reads_back_as_one_with_its_styles_and_outputs() {
    let g = golden();
    let m = golden_model(&g);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.safetensors");
    m.save(&p).unwrap();
    let info = read_info(&p).unwrap();
    assert_eq!(info.arch.norm, Norm::Inspiration { styles: 2 });
    let back = Model::load(&p, Device::Cpu).unwrap();
    let x = get(&g, "input");
    let mix = get(&g, "mix");
    let a = tch::no_grad(|| m.net.forward_mix(&x, Some(&mix), false)).unwrap();
    let b = tch::no_grad(|| back.net.forward_mix(&x, Some(&mix), false)).unwrap();
    // fp16 storage: close, not equal.
    let e = rel_err(&b, &a);
    assert!(e < 2e-2, "round trip through fp16: relative error {e}");
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn cli_trains_an_msg_net_applies_its_styles_and_mixes_and_refuses_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ds = crate::util::small_photos(dir.path());
    let train = |extra: &[&str]| {
        let mut c = atelier_in(&data);
        c.args(["train", "--arch", "msg", "--dataset"])
            .arg(&ds)
            .args(["--size", "32", "--style-size", "32", "--batch", "1"])
            .args([
                "--width",
                "0.125",
                "--iterations",
                "3",
                "--checkpoint-every",
                "2",
            ])
            .args(["--preview-every", "2"])
            .args(extra);
        c
    };
    let (ok, say) = run(&mut train(&[
        "--style",
        "styles/36029.jpg",
        "--style",
        "styles/435809.jpg",
        "-o",
        "duo",
    ]));
    assert!(ok, "{say}");
    assert!(say.contains("inspiration norm"), "{say}");
    let info = read_info(&data.join("models/duo.safetensors")).unwrap();
    assert_eq!(info.arch.norm, Norm::Inspiration { styles: 2 });
    assert_eq!(info.iterations, 3);
    let (ok, ls) = run(atelier_in(&data).args(["models", "ls"]));
    assert!(
        ok && ls.contains("msg-net, width 0.125, 3 iterations, 2 styles"),
        "{ls}"
    );
    // The stored targets were set from the final encoder (not left at 0).
    let m = Model::load(&data.join("models/duo.safetensors"), Device::Cpu).unwrap();
    let t = m.vs.variables()["targets"].abs().sum(tch::Kind::Float);
    assert!(t.double_value(&[]) > 0.0);

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
    assert!(run(&mut apply("a.png", &["0"])).0);
    assert!(run(&mut apply("a10.png", &["0:1", "1:0"])).0);
    assert!(run(&mut apply("half.png", &["0:0.5", "1:0.5"])).0);
    let px = |n: &str| image::open(out.join(n)).unwrap().to_rgb8().into_raw();
    assert_eq!(px("a.png"), px("a10.png"), "1:0 is the style alone");
    assert_ne!(px("half.png"), px("a.png"));

    // Any painting (not one it was trained on), alone and mixed with a trained one.
    let (ok, say) = run(&mut apply("unseen.png", &["styles/36131.jpg"]));
    assert!(ok, "{say}");
    assert!(run(&mut apply("both.png", &["0:0.5", "styles/36131.jpg:0.5"])).0);
    assert_ne!(px("unseen.png"), px("a.png"));
    assert_ne!(px("both.png"), px("unseen.png"));
    assert_ne!(px("both.png"), px("a.png"));
    // The default name carries the painting's stem.
    let (ok, say) = run(atelier_in(&data)
        .args(["apply", "duo", "contents/chelsea.png", "--size", "40"])
        .args(["--style", "styles/36131.jpg", "-o"])
        .arg(&out));
    assert!(ok, "{say}");
    assert!(out.join("chelsea__duo-36131.png").exists(), "{say}");
    for (styles, want) in [
        (vec!["no-such-painting"], "is neither a style of 'duo'"),
        (vec!["styles/36131.jpg:-1"], "finite number ≥ 0"),
        (vec!["2"], "index 2 is out of range"),
        (vec!["0:0", "1:0"], "all are 0"),
        (vec![], "is a multi-style model"),
    ] {
        let (ok, e) = run(&mut apply("bad.png", &styles));
        assert!(!ok && e.contains(want), "{styles:?}: {e}");
    }
    assert!(!out.join("bad.png").exists());
    // --extend is for CIN models; --arch msg needs its styles.
    let (ok, e) = run(&mut train(&[
        "--extend",
        "duo",
        "--style",
        "styles/36131.jpg",
    ]));
    assert!(!ok && e.contains("an MSG-Net"), "{e}");
    let (ok, e) = run(&mut train(&[]));
    assert!(!ok && e.contains("--arch msg: name the styles"), "{e}");
}
