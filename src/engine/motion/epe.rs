//! How far an estimated flow is from a known one, for tests and benchmarks.

use tch::{Kind, Tensor};

use super::filters::channel_sum;
use super::warp::lands_inside;
use crate::engine::Error;

/// Mean end-point error |estimate − truth| (pixels) over the pixels whose
/// true match `x + truth(x)` is inside the frame: elsewhere there is nothing
/// to match, and any flow is as good as another.
pub fn end_point_error(estimate: &Tensor, truth: &Tensor) -> Result<f64, Error> {
    if estimate.size() != truth.size() {
        return Err(Error::invalid(
            "flow",
            format!(
                "flows differ in size: {:?} and {:?}",
                estimate.size(),
                truth.size()
            ),
        ));
    }
    let err = channel_sum(&estimate.f_sub(truth)?.f_square()?)?.f_sqrt()?;
    Ok(err
        .f_masked_select(&lands_inside(truth)?)?
        .f_mean(Kind::Float)?
        .f_double_value(&[])?)
}
