//! L-BFGS with the semantics of `torch.optim.LBFGS` (PyTorch 2.x): the same
//! two-loop recursion, first-step scaling, stopping tests and optional
//! strong-Wolfe line search, so a run reproduces PyTorch's iterates.
//! tch has no L-BFGS (tch-rs #368), hence this one.

use std::collections::VecDeque;

use tch::{Kind, Tensor};

use super::line_search::strong_wolfe;
use super::{abs_max, in_place, Objective};
use crate::engine::error::Result;

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
#[derive(Default)]
struct State {
    func_evals: usize,
    n_iter: usize,
    d: Option<Tensor>,
    t: f64,
    old_dirs: VecDeque<Tensor>,
    old_stps: VecDeque<Tensor>,
    ro: VecDeque<Tensor>,
    h_diag: Option<Tensor>,
    prev_flat_grad: Option<Tensor>,
    prev_loss: f64,
}

pub struct Lbfgs {
    config: LbfgsConfig,
    state: State,
}

/// Flat view of a tensor, sharing its storage.
fn flat(t: &Tensor) -> Result<Tensor> {
    Ok(t.f_view([-1])?)
}

impl Lbfgs {
    pub fn new(config: LbfgsConfig) -> Self {
        Self {
            config,
            state: State::default(),
        }
    }

    /// Total objective evaluations so far.
    pub fn func_evals(&self) -> usize {
        self.state.func_evals
    }

    /// Total iterations so far.
    pub fn iterations(&self) -> usize {
        self.state.n_iter
    }

    /// Forgets the curvature history: the next iteration starts from steepest descent.
    pub fn reset(&mut self) {
        self.state = State {
            func_evals: self.state.func_evals,
            ..State::default()
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
        while n_iter < c.max_iter {
            n_iter += 1;
            st.n_iter += 1;

            // Descent direction.
            let d = match (&st.d, &st.prev_flat_grad) {
                (Some(prev_d), Some(prev_g)) if st.n_iter > 1 => {
                    let y = flat_grad.f_sub(prev_g)?;
                    let s = prev_d.f_mul_scalar(st.t)?;
                    let ys = y.f_dot(&s)?;
                    if ys.f_double_value(&[])? > 1e-10 {
                        if st.old_dirs.len() == c.history_size {
                            st.old_dirs.pop_front();
                            st.old_stps.pop_front();
                            st.ro.pop_front();
                        }
                        st.h_diag = Some(ys.f_div(&y.f_dot(&y)?)?);
                        st.ro.push_back(ys.f_reciprocal()?);
                        st.old_dirs.push_back(y);
                        st.old_stps.push_back(s);
                    }
                    let n = st.old_dirs.len();
                    let mut al = Vec::with_capacity(n);
                    let mut q = flat_grad.f_neg()?;
                    for i in (0..n).rev() {
                        let a = st.old_stps[i].f_dot(&q)?.f_mul(&st.ro[i])?;
                        q = q.f_sub(&st.old_dirs[i].f_mul(&a)?)?;
                        al.push(a);
                    }
                    al.reverse();
                    let mut r = match &st.h_diag {
                        Some(h) => q.f_mul(h)?,
                        None => q,
                    };
                    for (i, a) in al.iter().enumerate() {
                        let be = st.old_dirs[i].f_dot(&r)?.f_mul(&st.ro[i])?;
                        r = r.f_add(&st.old_stps[i].f_mul(&a.f_sub(&be)?)?)?;
                    }
                    r
                }
                _ => {
                    st.old_dirs.clear();
                    st.old_stps.clear();
                    st.ro.clear();
                    st.h_diag = None;
                    flat_grad.f_neg()?
                }
            };

            st.prev_flat_grad = Some(flat_grad.copy());
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

            let mut opt_cond = false;
            let ls_evals;
            if c.strong_wolfe {
                let x_init = xf.copy();
                let mut phi = |step: f64| -> Result<(f64, Tensor)> {
                    in_place(|| xf.shallow_clone().f_add_(&d.f_mul_scalar(step)?))?;
                    let (l, g) = f.evaluate(x)?;
                    tch::no_grad(|| xf.shallow_clone().f_copy_(&x_init))?;
                    Ok((l, flat(&g)?.copy()))
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
                opt_cond = abs_max(&flat_grad)? <= c.tolerance_grad;
            } else {
                in_place(|| xf.shallow_clone().f_add_(&d.f_mul_scalar(t)?))?;
                if n_iter != c.max_iter {
                    let (l, g) = f.evaluate(x)?;
                    loss = l;
                    flat_grad = flat(&g)?;
                    opt_cond = abs_max(&flat_grad)? <= c.tolerance_grad;
                    ls_evals = 1;
                } else {
                    ls_evals = 0;
                }
            }
            current_evals += ls_evals;
            st.func_evals += ls_evals;

            let step_max = abs_max(&d)? * t.abs();
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
