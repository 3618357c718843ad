//! The MRF (patch) style loss of Li & Wand, "Combining Markov Random Fields and
//! Convolutional Neural Networks for Image Synthesis" (CVPR 2016).
//!
//! Each 3×3 patch of the image's feature map is matched to the style patch with
//! the highest normalised cross-correlation, and the loss is the mean squared
//! error between every patch and its match. The matching is one convolution:
//! the style patches, each divided by its norm, are the kernels, so the response
//! at a position is the style patch's correlation with the image patch there
//! divided by the style patch's norm; the image patch's own norm is the same for
//! every kernel at that position, so the arg-max is the NCC's.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tch::{Reduction, Tensor};

use crate::engine::infra::error::{Error, Result};

/// Which style loss a run uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StyleLoss {
    /// Gram matrices (Gatys et al.).
    #[default]
    Gram,
    /// 3×3 feature patches matched to the style's (Li & Wand).
    Mrf,
    /// Both, added.
    Both,
}

impl StyleLoss {
    pub fn gram(self) -> bool {
        matches!(self, StyleLoss::Gram | StyleLoss::Both)
    }
    pub fn mrf(self) -> bool {
        matches!(self, StyleLoss::Mrf | StyleLoss::Both)
    }
}

impl FromStr for StyleLoss {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "gram" => Ok(Self::Gram),
            "mrf" => Ok(Self::Mrf),
            "both" => Ok(Self::Both),
            _ => Err(Error::invalid(
                "style loss",
                format!("'{s}' (use gram, mrf or both)"),
            )),
        }
    }
}

/// The style's patches at one layer.
pub struct MrfTarget {
    /// `[L, C·9]`: the raw patches, what matched image patches are pulled to.
    patches: Tensor,
    /// `[L, C, 3, 3]`: the patches divided by their norms, as conv kernels.
    kernels: Tensor,
}

/// All 3×3 patches (stride 1, no padding) of a `[1, C, H, W]` feature map as
/// `[L, C·9]`, row-major over positions (the order of a convolution's output).
fn patches(features: &Tensor) -> Result<Tensor> {
    let (n, _, h, w) = features.size4()?;
    if n != 1 || h < 3 || w < 3 {
        return Err(Error::invalid(
            "mrf features",
            format!("need [1, C, ≥3, ≥3], got {:?}", features.size()),
        ));
    }
    Ok(features
        .f_im2col([3, 3], [1, 1], [0, 0], [1, 1])?
        .f_squeeze_dim(0)?
        .f_tr()?)
}

/// The MRF target of one or more style feature maps (same layer): their
/// patches pooled together.
pub fn mrf_target(style_features: &[Tensor]) -> Result<MrfTarget> {
    tch::no_grad(|| {
        let mut all = Vec::new();
        let mut c = 0;
        for f in style_features {
            c = f.size4()?.1;
            all.push(patches(&f.f_detach()?)?);
        }
        if all.is_empty() {
            return Err(Error::invalid("mrf target", "no style features"));
        }
        let patches = Tensor::f_cat(&all, 0)?;
        let norms = patches
            .f_norm_scalaropt_dim(2, [1i64].as_slice(), true)?
            .f_clamp_min(1e-8)?;
        let kernels = patches.f_div(&norms)?.f_view([-1, c, 3, 3])?;
        Ok(MrfTarget { patches, kernels })
    })
}

/// MRF loss of a `[1, C, H, W]` feature map against a style's patches: the mean
/// squared difference between each patch and its best-correlated style patch.
pub fn mrf_loss(features: &Tensor, target: &MrfTarget) -> Result<Tensor> {
    let c = features.size4()?.1;
    let kc = target.kernels.size4()?.1;
    if c != kc {
        return Err(Error::invalid(
            "mrf target",
            format!("{kc} channels do not match the features' {c}"),
        ));
    }
    let matched = tch::no_grad(|| -> Result<Tensor> {
        let response = features.f_detach()?.f_conv2d(
            &target.kernels,
            None::<&Tensor>,
            [1, 1],
            [0, 0],
            [1, 1],
            1,
        )?;
        let best = response.f_argmax(1, false)?.f_flatten(0, -1)?;
        Ok(target.patches.f_index_select(0, &best)?)
    })?;
    let p = patches(features)?;
    Ok(p.f_mse_loss(&matched.f_to_kind(p.kind())?, Reduction::Mean)?)
}
