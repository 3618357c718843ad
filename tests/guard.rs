//! The guarded minimiser: best iterate, divergence rollback, plateau stop.

use atelier::engine::gatys::transfer::Flow;
use atelier::engine::infra::sink::Sink;
use atelier::engine::optim::{
    minimize, AdamConfig, GuardConfig, GuardEvent, Lbfgs, LbfgsConfig, Method, Plateau, Rollback,
    StopReason,
};
use atelier::engine::Result;
use tch::Tensor;

/// f(x) = Σ √(1 + x²) − 1: convex, but its gradient flattens out far from 0.
///
/// Why plain L-BFGS (lr 1, no line search) diverges here from x = 10: the first
/// step moves x by ~1 (to 9.005) while the gradient barely changes (0.995 →
/// 0.994), so the secant curvature y·s/y·y ≈ 1/0.0011 scales the next step by
/// ~900 and x jumps to about −853; from there each secant step is worse (PyTorch
/// reaches |x| ≈ 1e23 within 7 evaluations).
fn pseudo_huber(x: &Tensor) -> Tensor {
    (x.square() + 1.0).sqrt().sum(tch::Kind::Double) - x.numel() as f64
}

fn objective(f: fn(&Tensor) -> Tensor) -> impl FnMut(&Tensor) -> Result<(f64, Tensor)> {
    move |x: &Tensor| {
        let xg = x.detach().requires_grad_(true);
        let loss = f(&xg);
        loss.backward();
        Ok((loss.double_value(&[]), xg.grad()))
    }
}

#[derive(Default)]
struct Log {
    losses: Vec<f64>,
    rollbacks: Vec<Rollback>,
}

impl Sink<GuardEvent> for Log {
    fn progress(&mut self, e: &GuardEvent) -> Result<Flow> {
        match e {
            GuardEvent::Eval(s) => self.losses.push(s.loss),
            GuardEvent::Rollback(r) => self.rollbacks.push(r.clone()),
        }
        Ok(Flow::Continue)
    }
}

fn plain_lbfgs(steps: usize) -> LbfgsConfig {
    LbfgsConfig {
        lr: 1.0,
        max_iter: steps,
        tolerance_grad: -1.0,
        tolerance_change: -1.0,
        ..LbfgsConfig::default()
    }
}

#[test]
fn plain_lbfgs_diverges_on_the_constructed_problem() {
    // The unguarded optimiser, to show the problem is real: it ends far above
    // the best loss it saw.
    let x = Tensor::from_slice(&[10.0f64]);
    let mut seen = Vec::new();
    let mut f = objective(pseudo_huber);
    let mut rec = |x: &Tensor| {
        let r = f(x)?;
        seen.push(r.0);
        Ok(r)
    };
    Lbfgs::new(plain_lbfgs(30)).step(&x, &mut rec).unwrap();
    let best = seen.iter().cloned().fold(f64::INFINITY, f64::min);
    let end = pseudo_huber(&x).double_value(&[]);
    assert!(
        end > 1e3 * best,
        "expected divergence: best {best}, end {end}"
    );
}

#[test]
fn guarded_run_ends_at_its_best_iterate_after_rolling_back() {
    let x = Tensor::from_slice(&[10.0f64]);
    let mut f = objective(pseudo_huber);
    let mut log = Log::default();
    let out = minimize(
        &x,
        Method::Lbfgs(plain_lbfgs(30)),
        &GuardConfig::default(),
        &mut f,
        &mut log,
    )
    .unwrap();
    assert!(!log.rollbacks.is_empty(), "the divergence was not caught");
    assert!(log.rollbacks[0].remedy.contains("line search"));
    let min = log.losses.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(out.best_loss, min, "best loss is the minimum of the curve");
    // The returned point is the one that produced the best loss.
    assert_eq!(pseudo_huber(&out.best).double_value(&[]), out.best_loss);
    assert_eq!(log.losses[out.best_eval - 1], out.best_loss);
    // And with the line search after the rollback it got well below the start.
    assert!(out.best_loss < 1.0, "best {}", out.best_loss);
}

#[test]
fn nan_at_step_k_rolls_back_and_the_run_finishes() {
    let k = 6;
    let x = Tensor::from_slice(&[3.0f64, -2.0]);
    let mut calls = 0;
    let mut inner = objective(|x| x.square().sum(tch::Kind::Double));
    let mut f = |x: &Tensor| {
        calls += 1;
        let (l, g) = inner(x)?;
        Ok(if calls == k { (f64::NAN, g) } else { (l, g) })
    };
    let mut log = Log::default();
    let out = minimize(
        &x,
        Method::Lbfgs(plain_lbfgs(20)),
        &GuardConfig::default(),
        &mut f,
        &mut log,
    )
    .unwrap();
    assert_eq!(log.rollbacks.len(), 1);
    assert_eq!(log.rollbacks[0].eval, k);
    assert!(
        log.rollbacks[0].reason.contains("NaN"),
        "{}",
        log.rollbacks[0].reason
    );
    assert_eq!(out.stop, StopReason::Steps);
    assert!(
        out.best_loss.is_finite() && out.best_loss < 1e-6,
        "{}",
        out.best_loss
    );
    assert!(
        log.losses.iter().all(|l| l.is_finite()),
        "the NaN evaluation is not reported as accepted"
    );
}

#[test]
fn repeated_divergence_ends_with_the_best_image_and_a_reason() {
    // Every evaluation after the third returns NaN: rollbacks cannot help.
    let x = Tensor::from_slice(&[3.0f64]);
    let mut calls = 0;
    let mut inner = objective(|x| x.square().sum(tch::Kind::Double));
    let mut f = |x: &Tensor| {
        calls += 1;
        let (l, g) = inner(x)?;
        Ok(if calls > 3 { (f64::NAN, g) } else { (l, g) })
    };
    let mut log = Log::default();
    let cfg = GuardConfig {
        max_rollbacks: 2,
        ..GuardConfig::default()
    };
    let out = minimize(&x, Method::Lbfgs(plain_lbfgs(50)), &cfg, &mut f, &mut log).unwrap();
    assert_eq!(out.stop, StopReason::Diverged);
    assert_eq!(log.rollbacks.len(), 2);
    assert_eq!(
        out.best_loss,
        log.losses.iter().cloned().fold(f64::INFINITY, f64::min)
    );
    assert!(out.best_loss.is_finite());
}

#[test]
fn plateau_stop_ends_a_converged_run_early() {
    let x = Tensor::from_slice(&[3.0f64, -2.0, 0.5]);
    let mut f = objective(|x| (x.square() * 2.0).sum(tch::Kind::Double) + 1.0);
    let mut log = Log::default();
    let cfg = GuardConfig {
        plateau: Some(Plateau {
            rel: 1e-6,
            window: 10,
        }),
        ..GuardConfig::default()
    };
    let mut c = plain_lbfgs(500);
    c.strong_wolfe = true;
    let out = minimize(&x, Method::Lbfgs(c), &cfg, &mut f, &mut log).unwrap();
    assert_eq!(out.stop, StopReason::Plateau);
    assert!(out.evals < 100, "ran {} evaluations", out.evals);
    assert!((out.best_loss - 1.0).abs() < 1e-9);
}

#[test]
fn plateau_stop_never_ends_a_run_still_improving() {
    // Adam moves x by about lr per step from 1000, so f = x² falls ~2% per
    // 10-step window: well above the 0.1% threshold for the whole run.
    let x = Tensor::from_slice(&[1000.0f64]);
    let mut f = objective(|x| x.square().sum(tch::Kind::Double));
    let mut log = Log::default();
    let cfg = GuardConfig {
        plateau: Some(Plateau {
            rel: 1e-3,
            window: 10,
        }),
        ..GuardConfig::default()
    };
    let method = Method::Adam {
        config: AdamConfig {
            lr: 1.0,
            ..AdamConfig::default()
        },
        steps: 100,
    };
    let out = minimize(&x, method, &cfg, &mut f, &mut log).unwrap();
    assert_eq!(out.stop, StopReason::Steps);
    assert_eq!(out.evals, 100);
    // Every accepted evaluation improved on the one before.
    assert!(log.losses.windows(2).all(|w| w[1] < w[0]));
}
