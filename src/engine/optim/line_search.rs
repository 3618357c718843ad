//! Strong-Wolfe line search, a line-for-line port of `_strong_wolfe` and
//! `_cubic_interpolate` in PyTorch's `torch/optim/lbfgs.py` (itself adapted from
//! Mark Schmidt's minFunc), so that iterates match `torch.optim.LBFGS`.

use tch::Tensor;

use crate::engine::infra::error::Result;

/// Minimiser of the cubic interpolating (x1, f1, g1) and (x2, f2, g2), clamped to
/// `bounds` (default: the interval between x1 and x2).
pub(crate) fn cubic_interpolate(
    x1: f64,
    f1: f64,
    g1: f64,
    x2: f64,
    f2: f64,
    g2: f64,
    bounds: Option<(f64, f64)>,
) -> f64 {
    let (xmin_bound, xmax_bound) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        min_pos.max(xmin_bound).min(xmax_bound)
    } else {
        (xmin_bound + xmax_bound) / 2.0
    }
}

pub(crate) struct LineSearchResult {
    pub loss: f64,
    pub grad: Tensor,
    pub t: f64,
    pub evals: usize,
}

/// `phi(t)` evaluates the objective at `x + t·d` and returns (loss, flat gradient).
#[allow(clippy::too_many_arguments)]
pub(crate) fn strong_wolfe(
    phi: &mut dyn FnMut(f64) -> Result<(f64, Tensor)>,
    mut t: f64,
    d: &Tensor,
    f: f64,
    g: &Tensor,
    gtd: f64,
    tolerance_change: f64,
    max_ls: usize,
) -> Result<LineSearchResult> {
    const C1: f64 = 1e-4;
    const C2: f64 = 0.9;
    let d_norm = super::abs_max(d)?;
    // The caller's gradient may be the objective's buffer, overwritten by the
    // next evaluation; every gradient phi returns is already its own copy.
    let g = g.f_detach_copy()?;
    let (mut f_new, mut g_new) = phi(t)?;
    let mut evals = 1;
    let mut gtd_new = g_new.f_dot(d)?.f_double_value(&[])?;

    let (mut t_prev, mut f_prev, mut g_prev, mut gtd_prev) = (0.0, f, g.shallow_clone(), gtd);
    let mut done = false;
    let mut ls_iter = 0;
    // Bracket: step lengths, losses, gradients and directional derivatives.
    let mut bracket: Vec<f64>;
    let mut bracket_f: Vec<f64>;
    let mut bracket_g: Vec<Tensor>;
    let mut bracket_gtd: Vec<f64> = Vec::new();
    loop {
        if ls_iter >= max_ls {
            bracket = vec![0.0, t];
            bracket_f = vec![f, f_new];
            bracket_g = vec![g.shallow_clone(), g_new.shallow_clone()];
            break;
        }
        if f_new > f + C1 * t * gtd || (ls_iter > 1 && f_new >= f_prev) {
            bracket = vec![t_prev, t];
            bracket_f = vec![f_prev, f_new];
            bracket_g = vec![g_prev.shallow_clone(), g_new.shallow_clone()];
            bracket_gtd = vec![gtd_prev, gtd_new];
            break;
        }
        if gtd_new.abs() <= -C2 * gtd {
            bracket = vec![t];
            bracket_f = vec![f_new];
            bracket_g = vec![g_new.shallow_clone()];
            done = true;
            break;
        }
        if gtd_new >= 0.0 {
            bracket = vec![t_prev, t];
            bracket_f = vec![f_prev, f_new];
            bracket_g = vec![g_prev.shallow_clone(), g_new.shallow_clone()];
            bracket_gtd = vec![gtd_prev, gtd_new];
            break;
        }
        // Extrapolate.
        let min_step = t + 0.01 * (t - t_prev);
        let max_step = t * 10.0;
        let tmp = t;
        t = cubic_interpolate(
            t_prev,
            f_prev,
            gtd_prev,
            t,
            f_new,
            gtd_new,
            Some((min_step, max_step)),
        );
        t_prev = tmp;
        f_prev = f_new;
        g_prev = g_new.shallow_clone();
        gtd_prev = gtd_new;
        (f_new, g_new) = phi(t)?;
        evals += 1;
        gtd_new = g_new.f_dot(d)?.f_double_value(&[])?;
        ls_iter += 1;
    }

    // Zoom.
    let mut insuf_progress = false;
    let order = |bf: &[f64]| {
        if bf[0] <= bf[bf.len() - 1] {
            (0, 1)
        } else {
            (1, 0)
        }
    };
    let (mut low, mut high) = order(&bracket_f);
    while !done && ls_iter < max_ls {
        if (bracket[1] - bracket[0]).abs() * d_norm < tolerance_change {
            break;
        }
        t = cubic_interpolate(
            bracket[0],
            bracket_f[0],
            bracket_gtd[0],
            bracket[1],
            bracket_f[1],
            bracket_gtd[1],
            None,
        );
        let (bmin, bmax) = (bracket[0].min(bracket[1]), bracket[0].max(bracket[1]));
        let eps = 0.1 * (bmax - bmin);
        if (bmax - t).min(t - bmin) < eps {
            if insuf_progress || t >= bmax || t <= bmin {
                t = if (t - bmax).abs() < (t - bmin).abs() {
                    bmax - eps
                } else {
                    bmin + eps
                };
                insuf_progress = false;
            } else {
                insuf_progress = true;
            }
        } else {
            insuf_progress = false;
        }
        (f_new, g_new) = phi(t)?;
        evals += 1;
        gtd_new = g_new.f_dot(d)?.f_double_value(&[])?;
        ls_iter += 1;

        if f_new > f + C1 * t * gtd || f_new >= bracket_f[low] {
            bracket[high] = t;
            bracket_f[high] = f_new;
            bracket_g[high] = g_new.shallow_clone();
            bracket_gtd[high] = gtd_new;
            (low, high) = order(&bracket_f);
        } else {
            if gtd_new.abs() <= -C2 * gtd {
                done = true;
            } else if gtd_new * (bracket[high] - bracket[low]) >= 0.0 {
                bracket[high] = bracket[low];
                bracket_f[high] = bracket_f[low];
                bracket_g[high] = bracket_g[low].shallow_clone();
                bracket_gtd[high] = bracket_gtd[low];
            }
            bracket[low] = t;
            bracket_f[low] = f_new;
            bracket_g[low] = g_new.shallow_clone();
            bracket_gtd[low] = gtd_new;
        }
    }
    Ok(LineSearchResult {
        loss: bracket_f[low],
        grad: bracket_g[low].shallow_clone(),
        t: bracket[low],
        evals,
    })
}
