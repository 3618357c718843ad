//! L-BFGS against torch.optim.LBFGS (PyTorch 2.11.0), float64.
//!
//! Golden numbers: tests/golden/lbfgs.json, made by scripts/golden_lbfgs.py, e.g.
//!
//! ```python
//! x = torch.tensor([-1.5, 2.0], requires_grad=True)
//! opt = torch.optim.LBFGS([x], max_iter=60, history_size=10, line_search_fn="strong_wolfe")
//! def closure():
//!     opt.zero_grad(); loss = rosenbrock(x); loss.backward()
//!     points.append(x.detach().tolist()); return loss
//! opt.step(closure)
//! ```
//!
//! Every evaluated point is compared, in order, so directions, step lengths,
//! history and line search must all agree.

use atelier::engine::optim::{Lbfgs, LbfgsConfig};
use tch::{Kind, Tensor};

use crate::util::{close, golden};

fn rosenbrock(x: &Tensor) -> Tensor {
    let a = x.get(0);
    let b = x.get(1);
    let one_minus_a: Tensor = a.neg() + 1.0;
    one_minus_a.square() + (b - a.square()).square() * 100.0
}

fn quadratic(x: &Tensor) -> Tensor {
    let a = Tensor::from_slice(&[
        4.0f64, 1.0, 0.5, 0.0, 0.2, 1.0, 3.0, 0.3, 0.1, 0.0, 0.5, 0.3, 2.0, 0.4, 0.1, 0.0, 0.1,
        0.4, 1.5, 0.3, 0.2, 0.0, 0.1, 0.3, 5.0,
    ])
    .view([5, 5]);
    let b = Tensor::from_slice(&[1.0f64, -2.0, 0.5, 3.0, -1.0]);
    (x.matmul(&a).dot(x)) * 0.5 - b.dot(x)
}

fn to_vec(t: &Tensor) -> Vec<f64> {
    Vec::try_from(t.to_kind(Kind::Double).view([-1])).unwrap()
}

#[test]
fn matches_torch_lbfgs_on_every_golden_case() {
    let g = golden("lbfgs.json");
    let cases = g["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let f: fn(&Tensor) -> Tensor = if name.starts_with("rosenbrock") {
            rosenbrock
        } else {
            quadratic
        };
        let opts = &case["options"];
        let config = LbfgsConfig {
            lr: opts["lr"].as_f64().unwrap_or(1.0),
            max_iter: opts["max_iter"].as_u64().unwrap() as usize,
            history_size: opts["history_size"].as_u64().unwrap() as usize,
            strong_wolfe: opts["line_search_fn"].as_str() == Some("strong_wolfe"),
            ..LbfgsConfig::default()
        };
        let start: Vec<f64> = serde_json::from_value(case["start"].clone()).unwrap();
        let x = Tensor::from_slice(&start);
        let mut points: Vec<(Vec<f64>, f64)> = Vec::new();
        let mut objective = |x: &Tensor| -> atelier::engine::Result<(f64, Tensor)> {
            let xg = x.detach().requires_grad_(true);
            let loss = f(&xg);
            loss.backward();
            let l = loss.double_value(&[]);
            points.push((to_vec(x), l));
            Ok((l, xg.grad()))
        };
        let mut opt = Lbfgs::new(config);
        for _ in 0..case["calls"].as_u64().unwrap() {
            opt.step(&x, &mut objective).unwrap();
        }
        let want = case["evaluations"].as_array().unwrap();
        assert_eq!(points.len(), want.len(), "{name}: number of evaluations");
        for (i, ((px, pl), w)) in points.iter().zip(want).enumerate() {
            let wx: Vec<f64> = serde_json::from_value(w["x"].clone()).unwrap();
            let wl = w["loss"].as_f64().unwrap();
            for (a, b) in px.iter().zip(&wx) {
                assert!(
                    close(*a, *b, 1e-7, 1e-9),
                    "{name}: evaluation {i}: x {px:?} vs torch {wx:?}"
                );
            }
            assert!(
                close(*pl, wl, 1e-7, 1e-9),
                "{name}: evaluation {i}: loss {pl} vs torch {wl}"
            );
        }
        let fin: Vec<f64> = serde_json::from_value(case["final"].clone()).unwrap();
        for (a, b) in to_vec(&x).iter().zip(&fin) {
            assert!(
                close(*a, *b, 1e-7, 1e-9),
                "{name}: final x {a} vs torch {b}"
            );
        }
    }
}

#[test]
fn converges_on_rosenbrock_with_line_search() {
    let x = Tensor::from_slice(&[-1.2f64, 1.0]);
    let mut objective = |x: &Tensor| -> atelier::engine::Result<(f64, Tensor)> {
        let xg = x.detach().requires_grad_(true);
        let loss = rosenbrock(&xg);
        loss.backward();
        Ok((loss.double_value(&[]), xg.grad()))
    };
    let mut opt = Lbfgs::new(LbfgsConfig {
        max_iter: 200,
        strong_wolfe: true,
        ..LbfgsConfig::default()
    });
    opt.step(&x, &mut objective).unwrap();
    let v = to_vec(&x);
    assert!(
        (v[0] - 1.0).abs() < 1e-4 && (v[1] - 1.0).abs() < 1e-4,
        "{v:?}"
    );
}
