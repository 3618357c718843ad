//! The losses of Gatys et al., in the form jcjohnson/neural-style uses them.
//!
//! Feature maps are `[1, C, H, W]`. All functions check shapes and fail on a
//! mismatch rather than broadcasting silently.

use tch::{Reduction, Tensor};

use crate::engine::infra::error::{Error, Result};

fn dims4(t: &Tensor, what: &'static str) -> Result<(i64, i64, i64, i64)> {
    t.size4().map_err(|_| {
        Error::invalid(
            what,
            format!("expected a [N,C,H,W] tensor, got {:?}", t.size()),
        )
    })
}

/// A `[1, C, H, W]` feature map as a matrix without copying: `[C, H·W]` for
/// the default layout, or `[H·W, C]` (flag true) for channels-last, the layout
/// the network runs in on the CPU (see `vgg::channels_last`).
fn matrix(features: &Tensor) -> Result<(Tensor, bool)> {
    let (n, c, h, w) = dims4(features, "features")?;
    if n != 1 {
        return Err(Error::invalid(
            "features",
            format!("batch of {n}, expected 1"),
        ));
    }
    let nhwc = features.f_permute([0, 2, 3, 1])?;
    if c > 1 && nhwc.is_contiguous() {
        Ok((nhwc.f_view([h * w, c])?, true))
    } else {
        Ok((features.f_reshape([c, h * w])?, false))
    }
}

/// Gram matrix `F Fᵀ / (C·H·W)` of a `[1, C, H, W]` feature map, shape `[C, C]`.
pub fn gram(features: &Tensor) -> Result<Tensor> {
    let (_, c, h, w) = dims4(features, "features")?;
    let (f, transposed) = matrix(features)?;
    let g = if transposed {
        f.f_tr()?.f_mm(&f)?
    } else {
        f.f_mm(&f.f_tr()?)?
    };
    Ok(g.f_div_scalar((c * h * w) as f64)?)
}

/// A feature map `[1, C, H, W]` weighted by a guide `[1, 1, H, W]` (Gatys et
/// al. 2017): the Gram of the result, [`guided_gram`], is the Gram of the
/// region the guide marks when the guide is normalised to mean(g²) = 1.
pub fn guided(features: &Tensor, guide: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = dims4(features, "features")?;
    let (gn, gc, gh, gw) = dims4(guide, "guide")?;
    if (gn, gc, gh, gw) != (1, 1, h, w) {
        return Err(Error::invalid(
            "guide",
            format!(
                "shape {:?} does not match features {:?}",
                guide.size(),
                features.size()
            ),
        ));
    }
    Ok(features.f_mul(guide)?)
}

/// The Gram matrix of `features` within a region: [`gram`] of [`guided`]
/// features, or the plain Gram without a guide.
pub fn guided_gram(features: &Tensor, guide: Option<&Tensor>) -> Result<Tensor> {
    match guide {
        Some(g) => gram(&guided(features, g)?),
        None => gram(features),
    }
}

/// Content loss: mean squared error between feature maps of equal shape.
pub fn content_loss(features: &Tensor, target: &Tensor) -> Result<Tensor> {
    same_shape(features, target, "content target")?;
    Ok(features.f_mse_loss(target, Reduction::Mean)?)
}

/// Style loss: mean squared error between a Gram matrix and the target Gram.
pub fn style_loss(gram: &Tensor, target_gram: &Tensor) -> Result<Tensor> {
    same_shape(gram, target_gram, "style target")?;
    Ok(gram.f_mse_loss(target_gram, Reduction::Mean)?)
}

/// One Gram style term, `weight · style_loss(gram(F), A)`, returned as
/// `(value, surrogate)`: `value` is the loss (no graph) and `surrogate` a scalar
/// whose gradient with respect to `F` equals the loss's.
///
/// Why: autograd differentiates `F Fᵀ` with two matrix products; the gradient
/// in closed form, `4w (G − A) F / (C²·N)` with `N = C·H·W`, needs one. The
/// surrogate `⟨F, g⟩` (g detached) carries that gradient into the backward pass.
pub fn gram_term(features: &Tensor, target_gram: &Tensor, weight: f64) -> Result<(Tensor, Tensor)> {
    let (_, c, h, w) = dims4(features, "features")?;
    let grad = tch::no_grad(|| -> Result<(Tensor, Tensor)> {
        let f = features.f_detach()?;
        let g = gram(&f)?;
        same_shape(&g, target_gram, "style target")?;
        let diff = g.f_sub(target_gram)?;
        let value = diff.f_square()?.f_mean(None)?.f_mul_scalar(weight)?;
        let scale = 4.0 * weight / ((c * c) as f64 * (c * h * w) as f64);
        // G − A is symmetric, so the channels-last form is F·(G − A).
        let (m, transposed) = matrix(&f)?;
        let grad = if transposed {
            m.f_mm(&diff)?
        } else {
            diff.f_mm(&m)?
        };
        Ok((value, grad.f_mul_scalar(scale)?))
    })?;
    let (value, grad) = grad;
    // The same matrix view of `features` (with its graph) as `grad` was made in.
    let (m, _) = matrix(features)?;
    let surrogate = m.f_reshape([-1])?.f_dot(&grad.f_reshape([-1])?)?;
    Ok((value, surrogate))
}

/// Total variation (anisotropic, L1): the sum of absolute differences between
/// horizontally and vertically neighbouring pixels of a `[1, C, H, W]` image.
pub fn total_variation(image: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = dims4(image, "image")?;
    let dx = image
        .f_narrow(3, 1, w - 1)?
        .f_sub(&image.f_narrow(3, 0, w - 1)?)?;
    let dy = image
        .f_narrow(2, 1, h - 1)?
        .f_sub(&image.f_narrow(2, 0, h - 1)?)?;
    Ok(dx.f_abs()?.f_sum(None)?.f_add(&dy.f_abs()?.f_sum(None)?)?)
}

fn same_shape(a: &Tensor, b: &Tensor, what: &'static str) -> Result<()> {
    if a.size() != b.size() {
        return Err(Error::invalid(
            what,
            format!("shape {:?} does not match {:?}", b.size(), a.size()),
        ));
    }
    Ok(())
}
