//! Multi-style (conditional instance norm) fast-style networks: the forward
//! against a PyTorch reference on the same weights (tests/golden/cin.safetensors
//! from scripts/golden_cin.py), model files, mixing, `--extend`, the CLI.

use atelier::engine::fast::apply::forward_padded_mix;
use atelier::engine::fast::mix::StyleMix;
use atelier::engine::fast::model_file::{blank_info, Model, StyleSource};
use atelier::engine::fast::transformer::{Arch, Norm};
use tch::{Device, Tensor};

use crate::util::root;

const WIDTH: f64 = 0.0625;
const STYLES: usize = 3;

fn golden() -> Vec<(String, Tensor)> {
    Tensor::read_safetensors(root().join("tests/golden/cin.safetensors")).unwrap()
}

fn get(g: &[(String, Tensor)], name: &str) -> Tensor {
    g.iter().find(|(k, _)| k == name).unwrap().1.shallow_clone()
}

fn rel_err(a: &Tensor, b: &Tensor) -> f64 {
    let d = (a - b).abs().max().double_value(&[]);
    d / b.abs().max().double_value(&[])
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
    let mut vars = m.vs.variables();
    let mut n = 0;
    for (k, t) in g {
        if let Some(name) = k.strip_prefix("cin.") {
            let v = vars
                .get_mut(name)
                .unwrap_or_else(|| panic!("no variable {name}"));
            assert_eq!(v.size(), t.size(), "{name}");
            tch::no_grad(|| v.copy_(t));
            n += 1;
        }
    }
    assert_eq!(n, vars.len(), "every variable has a golden tensor");
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
