//! Optical flow estimation between two frames.
//!
//! Placeholder until the estimator lands: returns a zero flow of the right
//! shape so that callers can be written against the interface.

use tch::{Kind, Tensor};

use crate::engine::Error;

/// Settings of the estimator.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FlowOptions {}

/// The flow `f` from `from` to `to` (both `1×3×H×W` in [0, 1], same size):
/// `from(x) ≈ to(x + f(x))`. Returns `1×2×H×W` in pixels.
pub fn estimate(from: &Tensor, to: &Tensor, _opts: &FlowOptions) -> Result<Tensor, Error> {
    let (n, _, h, w) = from.size4()?;
    if to.size4()? != from.size4()? {
        return Err(Error::invalid(
            "flow",
            format!(
                "frames differ in size: {:?} and {:?}",
                from.size(),
                to.size()
            ),
        ));
    }
    Ok(Tensor::f_zeros([n, 2, h, w], (Kind::Float, from.device()))?)
}
