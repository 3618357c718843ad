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
    // The dual variables times θ, so that the primal step needs no scaling.
    let mut qx = u.f_zeros_like()?;
    let mut qy = u.f_zeros_like()?;
    let lt = level.lambda * THETA;
    let step = TAU / THETA;
    for _ in 0..level.warps {
        // i1 and its gradient at x + u, then i1(x + u') ≈ rho_c + g·u'.
        let moved = warp(&stacked, &u)?;
        let i1w = moved.f_narrow(1, 0, 1)?;
        let g = moved.f_narrow(1, 1, 2)?;
        let inv_g2 = channel_sum(&g.f_square()?)?
            .f_clamp_min(FLAT)?
            .f_reciprocal()?;
        let rho_c = i1w.f_sub(&channel_sum(&g.f_mul(&u)?)?)?.f_sub(i0)?;
        let minus_g = g.f_neg()?;
        for _ in 0..level.iterations {
            let rho = rho_c.f_add(&channel_sum(&g.f_mul(&u)?)?)?;
            // The data step: straight to the line rho = 0 where that is
            // within λθ|g|, else a λθ step along ∓g (IPOL's thresholding).
            let v = minus_g.f_mul(&rho.f_mul(&inv_g2)?.f_clamp(-lt, lt)?)?;
            u = u.f_add(&v)?.f_add(&divergence(&qx, &qy)?)?;
            let (dx, dy) = forward_diff(&u)?;
            let norm = dx.f_hypot(&dy)?.f_mul_scalar(step)?.f_add_scalar(1.0)?;
            qx = dx.f_mul_scalar(TAU)?.f_add(&qx)?.f_div(&norm)?;
            qy = dy.f_mul_scalar(TAU)?.f_add(&qy)?.f_div(&norm)?;
        }
    }
    Ok(u)
}
