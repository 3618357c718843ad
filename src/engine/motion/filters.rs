//! The small image operations the estimator and the consistency check
//! share: Gaussian smoothing, halving, finite differences and their adjoint,
//! resizing a flow. Borders repeat the edge pixel, as the reference codes do.

use tch::{Kind, Tensor};

use crate::engine::Error;

/// Sum over the channels, kept as a channel of one: `N×C×H×W` to `N×1×H×W`.
pub(crate) fn channel_sum(t: &Tensor) -> Result<Tensor, Error> {
    Ok(t.f_sum_dim_intlist(Some([1i64].as_slice()), true, Kind::Float)?)
}

/// Separable Gaussian of standard deviation `sigma`, cut at 2σ (Ruder's
/// `CSmooth(σ, 2)`), each channel on its own.
pub(crate) fn gaussian(img: &Tensor, sigma: f64) -> Result<Tensor, Error> {
    let (_, c, _, _) = img.size4()?;
    let r = (2.0 * sigma).ceil() as i64;
    let taps: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp() as f32)
        .collect();
    let total: f32 = taps.iter().sum();
    let k = Tensor::f_from_slice(&taps)?
        .f_div_scalar(total as f64)?
        .f_to_device(img.device())?;
    let kx = k.f_view([1, 1, 1, 2 * r + 1])?.f_repeat([c, 1, 1, 1])?;
    let ky = k.f_view([1, 1, 2 * r + 1, 1])?.f_repeat([c, 1, 1, 1])?;
    let padded = img.f_replication_pad2d([r, r, r, r])?;
    let across = padded.f_conv2d(&kx, None::<Tensor>, [1, 1], [0, 0], [1, 1], c)?;
    Ok(across.f_conv2d(&ky, None::<Tensor>, [1, 1], [0, 0], [1, 1], c)?)
}

/// The next pyramid level: smoothed, then half the size (rounded up).
pub(crate) fn half(img: &Tensor) -> Result<Tensor, Error> {
    let (_, _, h, w) = img.size4()?;
    Ok(gaussian(img, 0.8)?.f_upsample_bilinear2d([(h + 1) / 2, (w + 1) / 2], true, None, None)?)
}

/// `flow` resized to `h`×`w`, its vectors scaled with the grid (corner
/// pixels aligned, as `half` does).
pub(crate) fn resize_flow(flow: &Tensor, h: i64, w: i64) -> Result<Tensor, Error> {
    let (_, _, fh, fw) = flow.size4()?;
    if (fh, fw) == (h, w) {
        return Ok(flow.f_to_kind(Kind::Float)?);
    }
    let sized = flow
        .f_to_kind(Kind::Float)?
        .f_upsample_bilinear2d([h, w], true, None, None)?;
    let sx = (w - 1) as f64 / (fw - 1).max(1) as f64;
    let sy = (h - 1) as f64 / (fh - 1).max(1) as f64;
    Ok(Tensor::f_cat(
        &[
            sized.f_narrow(1, 0, 1)?.f_mul_scalar(sx)?,
            sized.f_narrow(1, 1, 1)?.f_mul_scalar(sy)?,
        ],
        1,
    )?)
}

/// Central differences `(∂x, ∂y)` (the `[-½, 0, ½]` of Ruder's
/// `CDerivative(3)`), per channel.
pub(crate) fn central_gradient(img: &Tensor) -> Result<(Tensor, Tensor), Error> {
    let (_, _, h, w) = img.size4()?;
    let p = img.f_replication_pad2d([1, 1, 1, 1])?;
    let rows = p.f_narrow(2, 1, h)?;
    let cols = p.f_narrow(3, 1, w)?;
    let dx = rows
        .f_narrow(3, 2, w)?
        .f_sub(&rows.f_narrow(3, 0, w)?)?
        .f_mul_scalar(0.5)?;
    let dy = cols
        .f_narrow(2, 2, h)?
        .f_sub(&cols.f_narrow(2, 0, h)?)?
        .f_mul_scalar(0.5)?;
    Ok((dx, dy))
}

/// Forward differences `(∂x, ∂y)`, zero on the last column and row.
pub(crate) fn forward_diff(u: &Tensor) -> Result<(Tensor, Tensor), Error> {
    let (_, _, h, w) = u.size4()?;
    let dx = u
        .f_narrow(3, 1, w - 1)?
        .f_sub(&u.f_narrow(3, 0, w - 1)?)?
        .f_constant_pad_nd([0, 1, 0, 0])?;
    let dy = u
        .f_narrow(2, 1, h - 1)?
        .f_sub(&u.f_narrow(2, 0, h - 1)?)?
        .f_constant_pad_nd([0, 0, 0, 1])?;
    Ok((dx, dy))
}

/// Divergence of `(px, py)`, minus the adjoint of `forward_diff` (whose last
/// column and row are zero, so a backward difference with zero before the
/// first pixel is exact).
pub(crate) fn divergence(px: &Tensor, py: &Tensor) -> Result<Tensor, Error> {
    let (_, _, h, w) = px.size4()?;
    let before_x = px.f_narrow(3, 0, w - 1)?.f_constant_pad_nd([1, 0, 0, 0])?;
    let before_y = py.f_narrow(2, 0, h - 1)?.f_constant_pad_nd([0, 0, 1, 0])?;
    Ok(px.f_sub(&before_x)?.f_add(&py.f_sub(&before_y)?)?)
}

/// Whether every value is finite (no NaN, no infinity).
pub(crate) fn all_finite(t: &Tensor) -> Result<bool, Error> {
    Ok(t.f_isfinite()?.f_all()?.f_int64_value(&[])? != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TV solver relies on ⟨∇u, p⟩ = −⟨u, div p⟩.
    #[test]
    fn divergence_is_minus_the_adjoint_of_the_forward_difference() {
        let opts = (Kind::Float, tch::Device::Cpu);
        tch::manual_seed(1);
        let u = Tensor::randn([1, 2, 7, 9], opts);
        // Dual fields as the solver keeps them: zero on the last column
        // (x) and row (y), where the forward difference is zero.
        let px = Tensor::randn([1, 2, 7, 9], opts);
        let _ = px.narrow(3, 8, 1).fill_(0.0);
        let py = Tensor::randn([1, 2, 7, 9], opts);
        let _ = py.narrow(2, 6, 1).fill_(0.0);
        let (dx, dy) = forward_diff(&u).unwrap();
        let lhs = (dx * &px + dy * &py).sum(Kind::Double).double_value(&[]);
        let rhs = -(u * divergence(&px, &py).unwrap())
            .sum(Kind::Double)
            .double_value(&[]);
        assert!(
            (lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
    }
}
