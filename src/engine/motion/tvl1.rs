//! One pyramid level of TV-L1 optical flow (Zach, Pock & Bischof 2007, in
//! the form of Sánchez, Meinhardt-Llopis & Facciolo, IPOL 2013): the image
//! constancy is linearised around the current flow `warps` times, and each
//! linearisation is solved by `iterations` steps of the primal–dual scheme
//! (pointwise thresholding of the data term, then Chambolle's projection for
//! the total variation). L1 data and TV smoothness keep motion boundaries
//! sharp and let outliers (occlusions, noise) cost little.

use tch::Tensor;

use super::filters::{central_gradient, channel_sum, divergence, forward_diff};
use super::warp::warp;
use crate::engine::Error;

/// Coupling between the data and smoothness halves (IPOL's θ).
const THETA: f64 = 0.3;
/// Dual step (IPOL's τ).
const TAU: f64 = 0.25;
/// Below this squared gradient a pixel's data term is flat.
const FLAT: f64 = 1e-6;

pub(crate) struct Level {
    pub lambda: f64,
    pub warps: usize,
    pub iterations: usize,
}

/// Refines `flow` (`N×2×H×W`) from `i0` to `i1` (grey, `N×1×H×W`, 0..255).
pub(crate) fn refine(
    i0: &Tensor,
    i1: &Tensor,
    flow: Tensor,
    level: &Level,
) -> Result<Tensor, Error> {
    let (gx1, gy1) = central_gradient(i1)?;
    let stacked = Tensor::f_cat(&[i1, &gx1, &gy1], 1)?;
    let mut u = flow;
    let mut px = u.f_zeros_like()?;
    let mut py = u.f_zeros_like()?;
    let lt = level.lambda * THETA;
    let step = TAU / THETA;
    for _ in 0..level.warps {
        // i1 and its gradient at x + u, then i1(x + u') ≈ rho_c + g·u'.
        let moved = warp(&stacked, &u)?;
        let i1w = moved.f_narrow(1, 0, 1)?;
        let g = moved.f_narrow(1, 1, 2)?;
        let g2 = channel_sum(&g.f_square()?)?.f_clamp_min(FLAT)?;
        let rho_c = i1w.f_sub(&channel_sum(&g.f_mul(&u)?)?)?.f_sub(i0)?;
        let lt_g2 = g2.f_mul_scalar(lt)?;
        let minus_lt_g2 = lt_g2.f_neg()?;
        let to_low = g.f_mul_scalar(lt)?;
        let to_high = to_low.f_neg()?;
        let g_over_g2 = g.f_div(&g2)?;
        for _ in 0..level.iterations {
            let rho = rho_c.f_add(&channel_sum(&g.f_mul(&u)?)?)?;
            // The data step: a full λθ step along ±g where the residual is
            // large, else straight to the line rho = 0.
            let exact = g_over_g2.f_mul(&rho)?.f_neg()?;
            let v = to_high.f_where_self(&rho.f_gt_tensor(&lt_g2)?, &exact)?;
            let v = to_low.f_where_self(&rho.f_lt_tensor(&minus_lt_g2)?, &v)?;
            u = u
                .f_add(&v)?
                .f_add(&divergence(&px, &py)?.f_mul_scalar(THETA)?)?;
            let (dx, dy) = forward_diff(&u)?;
            let norm = dx
                .f_square()?
                .f_add(&dy.f_square()?)?
                .f_sqrt()?
                .f_mul_scalar(step)?
                .f_add_scalar(1.0)?;
            px = px.f_add(&dx.f_mul_scalar(step)?)?.f_div(&norm)?;
            py = py.f_add(&dy.f_mul_scalar(step)?)?.f_div(&norm)?;
        }
    }
    Ok(u)
}
