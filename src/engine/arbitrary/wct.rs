//! The whitening-colouring transform (Li et al. 2017, as sunshineatnoon/
//! PytorchWCT's `whiten_and_color`), on `[C, H·W]` features in f64:
//! centre, covariance `F Fᵀ / (HW − 1)`, eigen-decomposition, eigenvalues
//! below 1e-5 dropped; whiten the content with `E D^-½ Eᵀ`, colour with the
//! style's `E D^½ Eᵀ`, add the style's mean.
//!
//! Unlike PytorchWCT we add no identity to the content's covariance: with it
//! the whitening is not exact and the output's covariance is not the style's.

use tch::{Kind, Tensor};

use super::adain::{blend, check_alpha};
use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::mix_weights::normalised;

/// Eigenvalues below this are dropped (the reference's threshold).
pub const EIG_MIN: f64 = 1e-5;

/// Mean `[C, 1]` and covariance `[C, C]` of `[C, M]` features.
pub fn mean_cov(f: &Tensor) -> Result<(Tensor, Tensor)> {
    let (_, m) = f.size2()?;
    if m < 2 {
        return Err(Error::invalid(
            "features",
            "a single position: too small for a covariance",
        ));
    }
    let mean = f.f_mean_dim(Some([1i64].as_slice()), true, Kind::Double)?;
    let c = f.f_sub(&mean)?;
    let cov = c.f_mm(&c.f_tr()?)?.f_div_scalar((m - 1) as f64)?;
    Ok((mean, cov))
}

/// `E D^p Eᵀ` of a symmetric matrix over the eigenvalues above [`EIG_MIN`].
fn sym_pow(cov: &Tensor, p: f64) -> Result<Tensor> {
    let (vals, vecs) = cov.f_linalg_eigh("L")?;
    let keep = vals.f_gt(EIG_MIN)?;
    // Dropped directions get 0, not a huge power of a tiny eigenvalue.
    let d = vals
        .f_clamp_min(EIG_MIN)?
        .f_pow_tensor_scalar(p)?
        .f_mul(&keep.f_to_kind(Kind::Double)?)?;
    Ok(vecs.f_mul(&d.f_unsqueeze(0)?)?.f_mm(&vecs.f_tr()?)?)
}

/// WCT of one content map with one style map (`[1, C, H, W]` each, sizes
/// may differ); returns `[1, C, H, W]` like the content, in its kind.
pub fn wct(content: &Tensor, style: &Tensor) -> Result<Tensor> {
    let (cs, ss) = (content.size(), style.size());
    if cs.len() != 4 || ss.len() != 4 || cs[0] != 1 || ss[0] != 1 || cs[1] != ss[1] {
        return Err(Error::invalid(
            "features",
            format!("content {cs:?} and style {ss:?}: one image each, same channels"),
        ));
    }
    let c = cs[1];
    let cf = content.f_to_kind(Kind::Double)?.f_reshape([c, -1])?;
    let sf = style.f_to_kind(Kind::Double)?.f_reshape([c, -1])?;
    let (cm, ccov) = mean_cov(&cf)?;
    let (sm, scov) = mean_cov(&sf)?;
    let whitened = sym_pow(&ccov, -0.5)?.f_mm(&cf.f_sub(&cm)?)?;
    let out = sym_pow(&scov, 0.5)?.f_mm(&whitened)?.f_add(&sm)?;
    Ok(out.f_view(cs.as_slice())?.f_to_kind(content.kind())?)
}

/// Several styles: `Σ wᵢ WCT(c, sᵢ)` (weights normalised), then blended with
/// the content by `alpha`.
pub fn wct_mix(content: &Tensor, styles: &[(Tensor, f64)], alpha: f64) -> Result<Tensor> {
    let weights = normalised(&styles.iter().map(|(_, w)| *w).collect::<Vec<_>>())?;
    check_alpha(alpha)?;
    let mut t = content.f_zeros_like()?;
    for ((s, _), w) in styles.iter().zip(weights) {
        t = t.f_add(&wct(content, s)?.f_mul_scalar(w)?)?;
    }
    blend(&t, content, alpha)
}
