//! Optimizers over a single tensor (the image), written like
//! tch's `examples/custom-optimizer`: each owns its state and updates the
//! parameter in place, outside autograd.

mod adam;
pub mod guard;
mod history;
mod lbfgs;
mod line_search;

pub use adam::{Adam, AdamConfig};
pub use guard::{
    minimize, GuardConfig, GuardEvent, GuardOutcome, Method, Plateau, Rollback, Status, StopReason,
};
pub use lbfgs::{Lbfgs, LbfgsConfig};

use tch::Tensor;

use crate::engine::infra::error::Result;

/// Evaluates the objective at `x`: returns the loss and its gradient (same shape
/// as `x`). It may modify `x` in place (e.g. clamp it), as a PyTorch closure can.
pub trait Objective {
    fn evaluate(&mut self, x: &Tensor) -> Result<(f64, Tensor)>;
}

impl<F: FnMut(&Tensor) -> Result<(f64, Tensor)>> Objective for F {
    fn evaluate(&mut self, x: &Tensor) -> Result<(f64, Tensor)> {
        self(x)
    }
}

/// Largest absolute entry of a tensor, as f64.
pub(crate) fn abs_max(t: &Tensor) -> Result<f64> {
    Ok(t.f_abs()?.f_max()?.f_double_value(&[])?)
}

/// Several 0-dim tensors fetched to the host in one transfer (one sync).
pub(crate) fn host_values(ts: &[Tensor]) -> Result<Vec<f64>> {
    let all = Tensor::f_stack(ts, 0)?
        .f_to_kind(tch::Kind::Double)?
        .f_to_device(tch::Device::Cpu)?;
    Ok(Vec::<f64>::try_from(&all)?)
}

/// Runs an in-place update outside autograd, dropping the returned handle.
pub fn in_place<F>(f: F) -> Result<()>
where
    F: FnOnce() -> std::result::Result<Tensor, tch::TchError>,
{
    let _updated = tch::no_grad(f)?;
    Ok(())
}
