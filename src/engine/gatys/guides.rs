//! Spatial control (Gatys et al. 2017, "Controlling Perceptual Factors in
//! Neural Style Transfer"): masks at the photo's size, brought to each layer
//! as guides that weight the output's features before their Gram.
//!
//! A region is one style's mask (times the content mask when there is one),
//! or the content mask alone for a run whose styles are blended.

use std::str::FromStr;

use image::RgbImage;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::engine::gatys::spec::RunSpec;
use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::mask::Masks;
use crate::engine::nets::vgg::{Layer, Stage};

/// How a mask reaches a layer's resolution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaskMode {
    /// Gatys' `simple`: nearest resize to the layer's size. The default: its
    /// seams measured a little cleaner (docs/methods.md, "Masks").
    #[default]
    Simple,
    /// genekogan's continuous propagation: a 3×3 average at each convolution
    /// (the receptive field grows) and a bilinear halving at each pooling.
    Propagate,
}

impl MaskMode {
    /// Whether this is the default (left out of a serialised spec, so specs
    /// without masks read as they did before masks).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

impl FromStr for MaskMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "simple" => Ok(Self::Simple),
            "propagate" => Ok(Self::Propagate),
            _ => Err(Error::invalid(
                "mask mode",
                format!("'{s}' (use propagate or simple)"),
            )),
        }
    }
}

/// `mask` (`[1, 1, H, W]`) at `layer`'s resolution, normalised so that
/// mean(g²) = 1 (then a guided Gram is the Gram of the region); `None` when
/// nothing of the region reaches the layer.
pub fn layer_guide(mask: &Tensor, layer: Layer, mode: MaskMode) -> Result<Option<Tensor>> {
    let (_, _, h, w) = mask.size4()?;
    let stride = i64::from(layer.stride());
    let (lh, lw) = (h / stride, w / stride);
    let g = match mode {
        MaskMode::Simple => mask.f_upsample_nearest2d([lh, lw], None, None)?,
        MaskMode::Propagate => {
            let mut g = mask.shallow_clone();
            for stage in layer.stages() {
                g = match stage {
                    // Edges average over the pixels there are, so a full mask stays 1.
                    Stage::Conv { .. } => {
                        g.f_avg_pool2d([3, 3], [1, 1], [1, 1], false, false, None)?
                    }
                    Stage::Relu { .. } => g,
                    Stage::Pool { .. } => {
                        let (_, _, gh, gw) = g.size4()?;
                        g.f_upsample_bilinear2d([gh / 2, gw / 2], false, None, None)?
                    }
                };
            }
            g
        }
    };
    let energy = g.f_square()?.f_mean(Kind::Float)?.f_double_value(&[])?;
    if energy <= 1e-12 {
        return Ok(None);
    }
    Ok(Some(g.f_div_scalar(energy.sqrt())?))
}

/// One region of the output: which style acts there (`None`: the blend of
/// all) and its mask (`None`: everywhere).
pub struct Region {
    pub style: Option<usize>,
    pub mask: Option<Tensor>,
}

/// The masks of `spec` for the photo `content` (its original size is what
/// their aspect ratio must match), at `size` = (width, height).
pub fn load_masks(
    spec: &RunSpec,
    content: &RgbImage,
    size: (u32, u32),
    device: Device,
) -> Result<Masks> {
    let photo = content.dimensions();
    let mut masks = Masks::load(
        &spec.style_masks,
        spec.content_mask.as_deref(),
        spec.pixel_limit,
        photo,
        size,
        device,
    )?;
    if let Some(r) = &spec.regions {
        masks.styles = r.style_masks(spec.pixel_limit, spec.styles.len(), photo, size, device)?;
    }
    Ok(masks)
}

/// The regions the style loss is made of: one per style mask (limited to
/// the content mask), else the content mask for the blend, else the whole
/// image.
pub fn regions(masks: &Masks) -> Result<Vec<Region>> {
    if masks.styles.is_empty() {
        return Ok(vec![Region {
            style: None,
            mask: masks.content.as_ref().map(Tensor::shallow_clone),
        }]);
    }
    masks
        .styles
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let mask = match &masks.content {
                Some(c) => m.f_mul(c)?,
                None => m.shallow_clone(),
            };
            Ok(Region {
                style: Some(i),
                mask: Some(mask),
            })
        })
        .collect()
}

/// The share of the image a region covers (1 without a mask): its style
/// term is weighted by it, so that each pixel feels the style as strongly
/// as in a run without masks.
pub fn coverage(mask: Option<&Tensor>) -> Result<f64> {
    match mask {
        Some(m) => Ok(m.f_mean(Kind::Float)?.f_double_value(&[])?),
        None => Ok(1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn half(h: i64, w: i64) -> Tensor {
        let left = Tensor::ones([1, 1, h, w / 2], (Kind::Float, Device::Cpu));
        let right = Tensor::zeros([1, 1, h, w - w / 2], (Kind::Float, Device::Cpu));
        Tensor::cat(&[left, right], 3)
    }

    #[test]
    fn guides_have_the_layer_size_and_unit_energy() {
        let m = half(40, 56);
        for mode in [MaskMode::Simple, MaskMode::Propagate] {
            for (name, hw) in [
                ("relu1_1", (40, 56)),
                ("relu3_1", (10, 14)),
                ("relu5_1", (2, 3)),
            ] {
                let g = layer_guide(&m, name.parse().unwrap(), mode)
                    .unwrap()
                    .unwrap();
                assert_eq!(g.size(), vec![1, 1, hw.0, hw.1], "{mode:?} {name}");
                let e = g.square().mean(Kind::Double).double_value(&[]);
                assert!((e - 1.0).abs() < 1e-5, "{mode:?} {name}: {e}");
            }
        }
        let none = Tensor::zeros([1, 1, 40, 56], (Kind::Float, Device::Cpu));
        assert!(
            layer_guide(&none, "relu2_1".parse().unwrap(), MaskMode::Simple)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn propagation_softens_the_edge_and_simple_keeps_it_sharp() {
        let m = half(32, 32);
        let l: Layer = "relu3_1".parse().unwrap();
        let simple = layer_guide(&m, l, MaskMode::Simple).unwrap().unwrap();
        let soft = layer_guide(&m, l, MaskMode::Propagate).unwrap().unwrap();
        let distinct = |t: &Tensor| t.view([-1]).unique_dim(0, true, false, false).0.size()[0];
        assert_eq!(distinct(&simple), 2);
        assert!(distinct(&soft) > 2);
    }

    #[test]
    fn content_mask_limits_each_style_and_keeps_the_photo() {
        let masks = Masks {
            styles: vec![half(8, 8), half(8, 8).f_neg().unwrap() + 1.0],
            content: Some(Tensor::cat(
                &[
                    Tensor::ones([1, 1, 4, 8], (Kind::Float, Device::Cpu)),
                    Tensor::zeros([1, 1, 4, 8], (Kind::Float, Device::Cpu)),
                ],
                2,
            )),
        };
        let r = regions(&masks).unwrap();
        assert_eq!(r.len(), 2);
        assert!((coverage(r[0].mask.as_ref()).unwrap() - 0.25).abs() < 1e-6);
        let img = Tensor::ones([1, 3, 8, 8], (Kind::Float, Device::Cpu));
        let photo = Tensor::zeros([1, 3, 8, 8], (Kind::Float, Device::Cpu));
        let out = masks.keep_photo(&img, &photo).unwrap();
        assert_eq!(out.double_value(&[0, 0, 1, 1]), 1.0);
        assert_eq!(out.double_value(&[0, 2, 6, 6]), 0.0);
    }
}
