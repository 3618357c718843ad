//! Styling an MSG-Net after any style image: the Gram target of each image
//! through the network's siamese encoder, at the size it was trained with,
//! or a trained style's stored target, mixed by normalised weights (the
//! targets are blended, as Zhang & Dana mix styles).

use std::path::PathBuf;

use image::RgbImage;
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor};

use super::model_file::Model;
use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::image_io::{load_rgb, resize_longer_side, to_tensor};
use crate::engine::infra::mix_weights::normalised;

/// Longer side of style images when a model does not record its own.
pub const DEFAULT_STYLE_SIZE: u32 = 256;

/// One part of an MSG-Net's target.
pub enum MsgStyle<'a> {
    /// One of the styles it was trained on (its stored target).
    Trained(usize),
    /// Any image (RGB), encoded now.
    Image(&'a RgbImage),
}

/// The longer side the model's style images were encoded at in training.
pub fn style_size(model: &Model) -> u32 {
    model
        .info
        .training
        .as_ref()
        .and_then(|t| t.get("style_size"))
        .and_then(|v| v.as_u64())
        .and_then(|v| u32::try_from(v).ok())
        .filter(|&v| v >= 16)
        .unwrap_or(DEFAULT_STYLE_SIZE)
}

/// `Σ wᵢGᵢ / Σ wᵢ` over `parts`, `[1, C, C]`; weights finite, ≥ 0, not all 0.
pub fn msg_target(model: &Model, parts: &[(MsgStyle, f64)], device: Device) -> Result<Tensor> {
    let net = model
        .net
        .msg()
        .ok_or_else(|| Error::invalid("style", "style images condition only an MSG-Net"))?;
    if parts.is_empty() {
        return Err(Error::invalid("style", "none given"));
    }
    let norm = normalised(&parts.iter().map(|(_, w)| *w).collect::<Vec<_>>())?;
    let n = model.info.styles.len();
    let size = style_size(model);
    tch::no_grad(|| {
        let mut acc: Option<Tensor> = None;
        for ((s, _), w) in parts.iter().zip(norm) {
            let g = match s {
                MsgStyle::Trained(i) if *i < n => {
                    let mut one = vec![0f32; n];
                    one[*i] = 1.0;
                    let m = Tensor::f_from_slice(&one)?
                        .f_view([1, n as i64])?
                        .f_to_device(device)?;
                    net.mixed_target(&m)?
                }
                MsgStyle::Trained(i) => {
                    return Err(Error::invalid(
                        "style",
                        format!("index {i} is out of range: the model has {n} styles"),
                    ))
                }
                MsgStyle::Image(img) => {
                    let t = to_tensor(&resize_longer_side(img, size), device)?;
                    net.target(&t.f_mul_scalar(255.0)?)?
                }
            };
            let g = g.f_mul_scalar(w)?;
            acc = Some(match acc {
                Some(a) => a.f_add(&g)?,
                None => g,
            });
        }
        acc.ok_or_else(|| Error::invalid("style", "none given"))
    })
}

/// One part of an MSG-Net's target as a job records it: a trained style or
/// a painting's file, read when the job runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MsgPart {
    pub source: MsgSource,
    /// Its weight before normalisation (as given).
    pub weight: f64,
    /// For output names: the style's name or the painting's stem.
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MsgSource {
    Trained(usize),
    Painting(PathBuf),
}

/// The target of `parts`, their paintings read within `pixel_limit`: what
/// the one-shot `apply` and a worker's apply both style an MSG-Net with.
pub fn target_of(
    model: &Model,
    parts: &[MsgPart],
    pixel_limit: u64,
    device: Device,
) -> Result<Tensor> {
    let mut images = Vec::new();
    for p in parts {
        if let MsgSource::Painting(path) = &p.source {
            images.push(load_rgb(path, pixel_limit)?);
        }
    }
    let mut images = images.iter();
    let mut styles = Vec::new();
    for p in parts {
        let s = match &p.source {
            MsgSource::Trained(i) => MsgStyle::Trained(*i),
            MsgSource::Painting(_) => match images.next() {
                Some(img) => MsgStyle::Image(img),
                None => return Err(Error::invalid("style", "a painting was not read")),
            },
        };
        styles.push((s, p.weight));
    }
    msg_target(model, &styles, device)
}
