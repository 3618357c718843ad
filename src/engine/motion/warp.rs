//! Backward warping of an image by a flow (bilinear; outside the frame the
//! border pixel is repeated).

use tch::{Kind, Tensor};

use crate::engine::Error;

/// `image` sampled at `x + flow(x)`: with `flow` the flow from `a` to `b`,
/// `warp(b, flow) ≈ a`. `image` is `1×C×H×W`, `flow` `1×2×H×W` in pixels.
pub fn warp(image: &Tensor, flow: &Tensor) -> Result<Tensor, Error> {
    let (n, _, h, w) = image.size4()?;
    let (fn_, fc, fh, fw) = flow.size4()?;
    if (fn_, fc, fh, fw) != (n, 2, h, w) {
        return Err(Error::invalid(
            "flow",
            format!(
                "flow {:?} does not match image {:?}",
                flow.size(),
                image.size()
            ),
        ));
    }
    let opts = (Kind::Float, image.device());
    let xs = Tensor::f_arange(w, opts)?
        .f_view([1, 1, w])?
        .f_expand([n, h, w], false)?;
    let ys = Tensor::f_arange(h, opts)?
        .f_view([1, h, 1])?
        .f_expand([n, h, w], false)?;
    let x = xs.f_add(&flow.f_select(1, 0)?)?;
    let y = ys.f_add(&flow.f_select(1, 1)?)?;
    // grid_sample wants coordinates in [-1, 1] (align_corners = true: -1 and 1
    // are the centres of the first and last pixels).
    let gx = x
        .f_mul_scalar(2.0 / (w - 1).max(1) as f64)?
        .f_sub_scalar(1.0)?;
    let gy = y
        .f_mul_scalar(2.0 / (h - 1).max(1) as f64)?
        .f_sub_scalar(1.0)?;
    let grid = Tensor::f_stack(&[gx, gy], 3)?;
    // 0 = bilinear, 1 = border padding.
    Ok(image
        .f_to_kind(Kind::Float)?
        .f_grid_sampler(&grid, 0, 1, true)?)
}

/// Where `x + flow(x)` lies inside the frame (`N×1×H×W`, boolean): the
/// pixels that have something to match in the other image.
pub fn lands_inside(flow: &Tensor) -> Result<Tensor, Error> {
    let (_, _, h, w) = flow.size4()?;
    let opts = (Kind::Float, flow.device());
    let x = flow
        .f_narrow(1, 0, 1)?
        .f_add(&Tensor::f_arange(w, opts)?.f_view([1, 1, 1, w])?)?;
    let y = flow
        .f_narrow(1, 1, 1)?
        .f_add(&Tensor::f_arange(h, opts)?.f_view([1, 1, h, 1])?)?;
    Ok(x.f_ge(0.0)?
        .f_logical_and(&x.f_le((w - 1) as f64)?)?
        .f_logical_and(&y.f_ge(0.0)?)?
        .f_logical_and(&y.f_le((h - 1) as f64)?)?)
}
