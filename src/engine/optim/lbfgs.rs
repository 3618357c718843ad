//! L-BFGS with the semantics of `torch.optim.LBFGS` (PyTorch 2.x): the same
//! two-loop recursion, first-step scaling, stopping tests and optional
//! strong-Wolfe line search, so a run reproduces PyTorch's iterates.
//! tch has no L-BFGS (tch-rs #368), hence this one.
//!
//! The history lives in [`History`]: S and Y as [m, n] ring buffers and the
//! two-loop recursion as a few batched kernels, so an iteration launches a
//! constant number of kernels whatever the history size. Host syncs are kept
//! to two per iteration without a line search (the directional derivative,
//! and one transfer for the stopping tests and the next curvature pair).

use tch::{Kind, Tensor};

use super::history::History;
use super::line_search::strong_wolfe;
use super::{abs_max, host_values, in_place, Objective};
use crate::engine::infra::error::Result;

#[derive(Clone, Debug)]
pub struct LbfgsConfig {
    pub lr: f64,
    /// Iterations per call to [`Lbfgs::step`].
    pub max_iter: usize,
    /// Evaluations per call; `None` means `max_iter * 5 / 4` as in PyTorch.
    pub max_eval: Option<usize>,
    pub tolerance_grad: f64,
    pub tolerance_change: f64,
    pub history_size: usize,
    /// Strong-Wolfe line search instead of a fixed step of `lr`.
    pub strong_wolfe: bool,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        Self {
            lr: 1.0,
            max_iter: 20,
            max_eval: None,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            history_size: 100,
            strong_wolfe: false,
        }
    }
}

/// State carried between calls to `step`, as PyTorch keeps it in `self.state`.
struct State {
    func_evals: usize,
    n_iter: usize,
    d: Option<Tensor>,
    t: f64,
    history: History,
    h_diag: Option<Tensor>,
    prev_flat_grad: Option<Tensor>,
    prev_loss: f64,
}

impl State {
    fn new(history_size: usize) -> Self {
        Self {
            func_evals: 0,
            n_iter: 0,
            d: None,
            t: 0.0,
            history: History::new(history_size),
            h_diag: None,
            prev_flat_grad: None,
            prev_loss: 0.0,
        }
    }
}

/// The next curvature pair, computed at the end of an iteration that evaluated
/// the new point, with `y·s` fetched in the same host transfer as the stopping
/// tests.
struct Pair {
    y: Tensor,
    s: Tensor,
    ys: Tensor,
    ys_value: f64,
}

pub struct Lbfgs {
    config: LbfgsConfig,
    state: State,
}

/// |t|∞ as a 0-dim tensor on t's device (no host sync).
fn abs_of_max(t: &Tensor) -> Result<Tensor> {
    Ok(t.f_abs()?.f_max()?)
}

/// Flat view of a tensor, sharing its storage.
fn flat(t: &Tensor) -> Result<Tensor> {
    Ok(t.f_view([-1])?)
}

impl Lbfgs {
    pub fn new(config: LbfgsConfig) -> Self {
        let state = State::new(config.history_size);
        Self { config, state }
    }

    /// Total objective evaluations so far.
    pub fn func_evals(&self) -> usize {
        self.state.func_evals
    }

    /// Curvature pairs held now (at most `history_size`).
    pub fn history_len(&self) -> usize {
        self.state.history.len()
    }

    /// Total iterations so far.
    pub fn iterations(&self) -> usize {
        self.state.n_iter
    }

    /// Forgets the curvature history: the next iteration starts from steepest descent.
    pub fn reset(&mut self) {
        self.state = State {
            func_evals: self.state.func_evals,
            ..State::new(self.config.history_size)
        };
    }

    /// Runs up to `max_iter` iterations on `x` (updated in place). Returns the
    /// loss at `x` as it was on entry, like PyTorch's `step`.
    pub fn step(&mut self, x: &Tensor, f: &mut dyn Objective) -> Result<f64> {
        let c = self.config.clone();
        let max_eval = c.max_eval.unwrap_or(c.max_iter * 5 / 4);
        let xf = flat(x)?;

        let (mut loss, g) = f.evaluate(x)?;
        let orig_loss = loss;
        let mut flat_grad = flat(&g)?;
        let mut current_evals = 1;
        self.state.func_evals += 1;
        if abs_max(&flat_grad)? <= c.tolerance_grad {
            return Ok(orig_loss);
        }

        let st = &mut self.state;
        let mut n_iter = 0;
        let mut pending: Option<Pair> = None;
        while n_iter < c.max_iter {
            n_iter += 1;
            st.n_iter += 1;

            // Descent direction.
            let d = match (&st.d, &st.prev_flat_grad) {
                (Some(prev_d), Some(prev_g)) if st.n_iter > 1 => {
                    let p = match pending.take() {
                        Some(p) => p,
                        None => {
                            let y = flat_grad.f_sub(prev_g)?;
                            let s = prev_d.f_mul_scalar(st.t)?;
                            let ys = y.f_dot(&s)?;
                            let ys_value = ys.f_double_value(&[])?;
                            Pair { y, s, ys, ys_value }
                        }
                    };
                    let q = flat_grad.f_neg()?;
                    let mut pre = None;
                    if p.ys_value > 1e-10 {
                        st.h_diag = Some(p.ys.f_div(&p.y.f_dot(&p.y)?)?);
                        // Pairs this call may still add, to size a first allocation.
                        let hint = c.max_iter - n_iter + 1;
                        pre = st.history.push(&p.s, &p.y, hint, Some(&q))?;
                    }
                    st.history.apply(&q, st.h_diag.as_ref(), pre)?
                }
                _ => {
                    st.history.clear();
                    st.h_diag = None;
                    flat_grad.f_neg()?
                }
            };

            st.prev_flat_grad = Some(flat_grad.f_detach_copy()?);
            let prev_loss = loss;
            st.prev_loss = loss;

            // Step length: the first iteration is scaled by the gradient's L1 norm.
            let mut t = if st.n_iter == 1 {
                let l1 = flat_grad
                    .f_abs()?
                    .f_sum(Kind::Double)?
                    .f_double_value(&[])?;
                (1.0f64).min(1.0 / l1) * c.lr
            } else {
                c.lr
            };

            let gtd = flat_grad.f_dot(&d)?.f_double_value(&[])?;
            if gtd > -c.tolerance_change {
                st.d = Some(d);
                st.t = t;
                break;
            }

            // |g|∞ at the new point, when it was evaluated.
            let mut grad_max: Option<Tensor> = None;
            let ls_evals;
            if c.strong_wolfe {
                let x_init = xf.f_detach_copy()?;
                let mut phi = |step: f64| -> Result<(f64, Tensor)> {
                    in_place(|| xf.shallow_clone().f_add_(&d.f_mul_scalar(step)?))?;
                    let (l, g) = f.evaluate(x)?;
                    tch::no_grad(|| xf.shallow_clone().f_copy_(&x_init))?;
                    Ok((l, flat(&g)?.f_detach_copy()?))
                };
                let r = strong_wolfe(
                    &mut phi,
                    t,
                    &d,
                    loss,
                    &flat_grad,
                    gtd,
                    c.tolerance_change,
                    25,
                )?;
                loss = r.loss;
                flat_grad = r.grad;
                t = r.t;
                ls_evals = r.evals;
                in_place(|| xf.shallow_clone().f_add_(&d.f_mul_scalar(t)?))?;
                grad_max = Some(abs_of_max(&flat_grad)?);
            } else {
                in_place(|| xf.shallow_clone().f_add_(&d.f_mul_scalar(t)?))?;
                if n_iter != c.max_iter {
                    let (l, g) = f.evaluate(x)?;
                    loss = l;
                    flat_grad = flat(&g)?;
                    grad_max = Some(abs_of_max(&flat_grad)?);
                    ls_evals = 1;
                } else {
                    ls_evals = 0;
                }
            }
            current_evals += ls_evals;
            st.func_evals += ls_evals;

            // One host transfer for the stopping tests and, when the new point
            // was evaluated, the next iteration's y·s.
            let mut wanted = vec![abs_of_max(&d)?];
            let mut next = None;
            if let (Some(gm), Some(prev_g)) = (grad_max, &st.prev_flat_grad) {
                let y = flat_grad.f_sub(prev_g)?;
                let s = d.f_mul_scalar(t)?;
                let ys = y.f_dot(&s)?;
                wanted.push(gm);
                wanted.push(ys.shallow_clone());
                next = Some((y, s, ys));
            }
            let v = host_values(&wanted)?;
            let step_max = v[0] * t.abs();
            let opt_cond = v.len() == 3 && v[1] <= c.tolerance_grad;
            pending = next.map(|(y, s, ys)| Pair {
                y,
                s,
                ys,
                ys_value: v[2],
            });
            st.d = Some(d);
            st.t = t;

            if n_iter == c.max_iter
                || current_evals >= max_eval
                || opt_cond
                || step_max <= c.tolerance_change
                || (loss - prev_loss).abs() < c.tolerance_change
            {
                break;
            }
        }
        Ok(orig_loss)
    }
}
