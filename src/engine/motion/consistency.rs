//! Where a flow can be trusted: the forward–backward check and motion
//! boundaries of Ruder et al.'s `consistencyChecker`.
//!
//! Placeholder until the check lands: everything is reliable.

use tch::{Kind, Tensor};

use crate::engine::Error;

/// For each pixel of `a`, how far the flow `forward` (from `a` to `b`) can
/// be trusted, given `backward` (from `b` to `a`): `1×1×H×W` in [0, 1],
/// 0 at occlusions and motion boundaries.
pub fn reliable(forward: &Tensor, backward: &Tensor) -> Result<Tensor, Error> {
    let (n, _, h, w) = forward.size4()?;
    if backward.size4()? != forward.size4()? {
        return Err(Error::invalid(
            "flow",
            "forward and backward flows differ in size",
        ));
    }
    Ok(Tensor::f_ones(
        [n, 1, h, w],
        (Kind::Float, forward.device()),
    )?)
}
