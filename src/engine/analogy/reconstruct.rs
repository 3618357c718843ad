//! Reconstruction (the official `Deconv.cpp`): the features a layer should
//! have are reached at the layer below by optimising the input of the
//! sub-network between them, with L-BFGS (history 4, strong Wolfe), so that
//! the sub-network's output matches the target.

use tch::{Kind, Tensor};

use crate::engine::infra::error::Result;
use crate::engine::infra::flow::Flow;
use crate::engine::nets::vgg::{Layer, Padding, Vgg19};
use crate::engine::optim::{Lbfgs, LbfgsConfig};

/// The result of one reconstruction.
pub struct Reconstruction {
    /// The optimised input of the sub-network (the activation at `from`).
    pub input: Tensor,
    /// Loss at the start and at the end: Σ (sub(x) − target)².
    pub first_loss: f64,
    pub last_loss: f64,
    pub evaluations: usize,
}

/// The L-BFGS settings of the official code: 4 pairs of history, a strong-Wolfe
/// line search, `iterations` iterations.
pub fn lbfgs_config(iterations: usize) -> LbfgsConfig {
    LbfgsConfig {
        max_iter: iterations,
        history_size: 4,
        strong_wolfe: true,
        tolerance_grad: 1e-9,
        tolerance_change: 1e-12,
        ..LbfgsConfig::default()
    }
}

/// Optimises `init` (the activation at `from`; `None`: the Caffe input) so
/// that the stages after it up to `to` give `target`. `on_eval(n, max)` is
/// called after every evaluation and may stop the work (`Error::Cancelled`).
#[allow(clippy::too_many_arguments)]
pub fn reconstruct(
    vgg: &Vgg19,
    from: Option<Layer>,
    to: Layer,
    target: &Tensor,
    init: &Tensor,
    iterations: usize,
    padding: Padding,
    on_eval: &mut dyn FnMut(usize, usize) -> Result<Flow>,
) -> Result<Reconstruction> {
    let config = lbfgs_config(iterations);
    let max_eval = config.max_eval.unwrap_or(config.max_iter * 5 / 4);
    let x = init.f_detach()?.f_contiguous()?.f_to_kind(Kind::Float)?;
    let target = target.f_detach()?;
    let mut evals = 0usize;
    let mut objective = |x: &Tensor| -> Result<(f64, Tensor)> {
        let xg = x.detach().f_requires_grad_(true)?;
        let y = vgg.forward_stages(&xg, from, to, padding)?;
        let loss = y.f_sub(&target)?.f_square()?.f_sum(Kind::Float)?;
        loss.f_backward()?;
        let grad = xg.f_grad()?.f_contiguous()?;
        let value = loss.f_double_value(&[])?;
        evals += 1;
        on_eval(evals, max_eval)?.or_cancel()?;
        Ok((value, grad))
    };
    let mut opt = Lbfgs::new(config);
    let first = opt.step(&x, &mut objective)?;
    // The last evaluation may have been a line-search trial: measure where
    // the optimiser stopped.
    let last_loss = tch::no_grad(|| -> Result<f64> {
        let y = vgg.forward_stages(&x, from, to, padding)?;
        Ok(y.f_sub(&target)?
            .f_square()?
            .f_sum(Kind::Float)?
            .f_double_value(&[])?)
    })?;
    Ok(Reconstruction {
        input: x,
        first_loss: first,
        last_loss,
        evaluations: evals,
    })
}
