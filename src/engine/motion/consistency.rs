//! Where a flow can be trusted: the forward–backward check and motion
//! boundaries of Ruder et al.'s `consistencyChecker` (artistic-videos,
//! `consistencyChecker/consistencyChecker.cpp`), with its constants.

use tch::{Kind, Tensor};

use super::filters::{all_finite, central_gradient, channel_sum, gaussian};
use super::warp::{lands_inside, warp};
use crate::engine::Error;

/// The mask is smoothed by a Gaussian of this σ (the reference's `SMOOTH_STRENGH`).
const SMOOTH: f64 = 0.8;

/// For each pixel of `a`, how far the flow `forward` (from `a` to `b`) can
/// be trusted, given `backward` (from `b` to `a`): `1×1×H×W` in [0, 1],
/// 0 at occlusions and motion boundaries and where the flow leaves the frame.
///
/// As in the reference: a pixel is inconsistent when going forward then
/// back does not return near it, |f + b(x+f)|² ≥ 0.01(|f|² + |b(x+f)|²) + 0.5;
/// it is on a motion boundary when |∇f|² > 0.01|f|² + 0.002. Inconsistent
/// pixels count −1 before the smoothing, so that it widens them outwards;
/// the result is then clipped to [0, 1].
pub fn reliable(forward: &Tensor, backward: &Tensor) -> Result<Tensor, Error> {
    tch::no_grad(|| check(forward, backward))
}

fn check(forward: &Tensor, backward: &Tensor) -> Result<Tensor, Error> {
    let (n, c, h, w) = forward.size4()?;
    if c != 2 || backward.size4()? != (n, c, h, w) {
        return Err(Error::invalid(
            "flow",
            format!(
                "forward and backward flows must both be N×2×H×W of one size, not {:?} and {:?}",
                forward.size(),
                backward.size()
            ),
        ));
    }
    let f = forward.f_to_kind(Kind::Float)?;
    let b = backward.f_to_kind(Kind::Float)?.f_to_device(f.device())?;
    for flow in [&f, &b] {
        if !all_finite(flow)? {
            return Err(Error::invalid(
                "flow",
                "a flow holds NaN or infinite values",
            ));
        }
    }
    let back = warp(&b, &f)?;
    let f2 = channel_sum(&f.f_square()?)?;
    let round_trip = channel_sum(&f.f_add(&back)?.f_square()?)?;
    let bound = f2
        .f_add(&channel_sum(&back.f_square()?)?)?
        .f_mul_scalar(0.01)?
        .f_add_scalar(0.5)?;
    let inconsistent = round_trip.f_ge_tensor(&bound)?;
    let (dx, dy) = central_gradient(&f)?;
    let edge = channel_sum(&dx.f_square()?.f_add(&dy.f_square()?)?)?;
    let boundary = edge.f_gt_tensor(&f2.f_mul_scalar(0.01)?.f_add_scalar(0.002)?)?;
    // x + f(x) outside the frame: nothing in `b` to compare with. (The
    // reference also drops the last row and column, where its bilinear
    // lookup lacks a neighbour; bilinear sampling here has none missing.)
    let inside = lands_inside(&f)?;
    let zero = f2.f_zeros_like()?;
    let mask = f2
        .f_ones_like()?
        .f_masked_fill(&boundary, 0.0)?
        .f_masked_fill(&inconsistent, -1.0)?
        .f_where_self(&inside, &zero)?;
    Ok(gaussian(&mask, SMOOTH)?.f_clamp(0.0, 1.0)?)
}
