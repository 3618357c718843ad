//! Adaptive instance normalisation (Huang & Belongie 2017), as
//! naoto0804/pytorch-AdaIN computes it: per sample and channel, the unbiased
//! variance plus 1e-5 under the square root.
//!
//! `t = σ(s)·(c − μ(c))/σ(c) + μ(s)`, features `[N, C, H, W]`.

use tch::{Kind, Tensor};

use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::mix_weights::normalised;

/// Added to the variance (naoto0804's `calc_mean_std`).
pub const EPS: f64 = 1e-5;

/// Channel means and standard deviations, each `[N, C, 1, 1]`.
pub fn mean_std(f: &Tensor) -> Result<(Tensor, Tensor)> {
    let (n, c, h, w) = f.size4()?;
    if h * w < 2 {
        return Err(Error::invalid(
            "features",
            format!("{h}x{w}: too small for a variance (the image is too small)"),
        ));
    }
    let flat = f.f_reshape([n, c, h * w])?;
    let var = flat.f_var_dim(Some([2i64].as_slice()), true, false)?;
    let std = var.f_add_scalar(EPS)?.f_sqrt()?.f_view([n, c, 1, 1])?;
    let mean = flat
        .f_mean_dim(Some([2i64].as_slice()), false, Kind::Float)?
        .f_view([n, c, 1, 1])?;
    Ok((mean, std))
}

/// AdaIN of `content` with `style`'s statistics; the channel counts must agree,
/// and the style's batch is 1 or the content's.
pub fn adain(content: &Tensor, style: &Tensor) -> Result<Tensor> {
    let (cs, ss) = (content.size(), style.size());
    if cs.len() != 4 || ss.len() != 4 || cs[1] != ss[1] {
        return Err(Error::invalid(
            "features",
            format!("content {cs:?} and style {ss:?} differ in channels"),
        ));
    }
    let (sm, sd) = mean_std(style)?;
    let (cm, cd) = mean_std(content)?;
    Ok(content.f_sub(&cm)?.f_div(&cd)?.f_mul(&sd)?.f_add(&sm)?)
}

/// Several styles mixed: `Σ wᵢ AdaIN(c, sᵢ)` with the weights normalised to
/// sum 1 (naoto0804's `style_interpolation`), then `α t + (1 − α) c`.
pub fn adain_mix(content: &Tensor, styles: &[(Tensor, f64)], alpha: f64) -> Result<Tensor> {
    let weights = normalised(&styles.iter().map(|(_, w)| *w).collect::<Vec<_>>())?;
    check_alpha(alpha)?;
    let mut t = content.f_zeros_like()?;
    for ((s, _), w) in styles.iter().zip(weights) {
        t = t.f_add(&adain(content, s)?.f_mul_scalar(w)?)?;
    }
    blend(&t, content, alpha)
}

/// `α t + (1 − α) c`.
pub fn blend(t: &Tensor, c: &Tensor, alpha: f64) -> Result<Tensor> {
    Ok(t.f_mul_scalar(alpha)?
        .f_add(&c.f_mul_scalar(1.0 - alpha)?)?)
}

/// Alpha must lie in [0, 1].
pub fn check_alpha(alpha: f64) -> Result<()> {
    if (0.0..=1.0).contains(&alpha) {
        Ok(())
    } else {
        Err(Error::invalid(
            "alpha",
            format!("{alpha} (a number in [0, 1])"),
        ))
    }
}
