//! Stylizing with an arbitrary-style model: encode the content and each style,
//! transform the features (AdaIN at relu4_1, or WCT coarse-to-fine from
//! relu{N}_1 down to relu1_1 with the style re-encoded at each level), decode.

use image::RgbImage;
use tch::{Device, Tensor};

use super::adain::{adain_mix, check_alpha};
use super::encoder::stride;
use super::model_file::{ArbInfo, ArbModel, Method};
use super::regions;
use super::wct::wct_mix;
use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::image_io::{from_tensor, resize_longer_side, to_tensor};
use crate::engine::infra::mask::{keep_photo, Masks};
use crate::engine::infra::mix_weights::normalised;
use crate::engine::nets::color::{match_color, with_chroma_of, ColorMode};

/// WCT's default blend (the official code's 0.6); AdaIN's is 1.
pub const WCT_ALPHA: f64 = 0.6;

/// The blend a method uses when none is asked for.
pub fn default_alpha(method: Method) -> f64 {
    match method {
        Method::Adain => 1.0,
        Method::Wct => WCT_ALPHA,
    }
}

/// The styles resized so their longer side is the content's: strokes keep
/// their size relative to the photo whatever the painting's resolution.
pub fn styles_at_scale(content: &RgbImage, styles: &[(RgbImage, f64)]) -> Vec<(RgbImage, f64)> {
    let longer = content.width().max(content.height());
    styles
        .iter()
        .map(|(s, w)| (resize_longer_side(s, longer), *w))
        .collect()
}

/// How to apply a model.
#[derive(Clone, Debug, PartialEq)]
pub struct ArbApply {
    /// Style strength in [0, 1].
    pub alpha: f64,
    /// WCT: levels relu{N}_1 … relu1_1 (default: every decoder the model has).
    pub levels: Option<usize>,
    /// Keep the content's colours (histogram: the styles are recoloured first;
    /// luminance: the output takes the content's chroma).
    pub color: ColorMode,
}

impl ArbApply {
    /// Checks the options against a model's `info` (what its file says,
    /// so a queued run is checked without loading it); the WCT levels used.
    pub fn check(&self, info: &ArbInfo) -> Result<Vec<usize>> {
        check_alpha(self.alpha)?;
        match info.method {
            Method::Adain => {
                if self.levels.is_some() {
                    return Err(Error::invalid(
                        "levels",
                        "an adain model has one level (relu4_1); --levels is for wct models",
                    ));
                }
                Ok(vec![4])
            }
            Method::Wct => {
                let have = info.levels();
                let n = self.levels.unwrap_or(have.len());
                if n == 0 || n > super::encoder::LEVELS {
                    return Err(Error::invalid(
                        "levels",
                        format!("{n} (use 1 … 5: relu{{N}}_1 down to relu1_1)"),
                    ));
                }
                let want: Vec<usize> = (1..=n).rev().collect();
                if let Some(l) = want.iter().find(|l| !have.contains(l)) {
                    return Err(Error::invalid(
                        "levels",
                        format!(
                            "{n} needs a level-{l} decoder; this model has levels {have:?} (train one with `atelier train --arch wct --level {l}`)"
                        ),
                    ));
                }
                Ok(want)
            }
        }
    }
}

/// Stylizes `content` with `styles` (image, weight) on `device`.
pub fn stylize(
    model: &ArbModel,
    content: &RgbImage,
    styles: &[(RgbImage, f64)],
    opts: &ArbApply,
    device: Device,
) -> Result<RgbImage> {
    stylize_regions(model, content, styles, &Masks::default(), opts, device)
}

/// [`stylize`] with masks: each style on its own region (one mask per
/// style, the weights then unused) and the photo kept outside the content
/// mask. The masks are `[1, 1, H, W]` at the content's size.
pub fn stylize_regions(
    model: &ArbModel,
    content: &RgbImage,
    styles: &[(RgbImage, f64)],
    masks: &Masks,
    opts: &ArbApply,
    device: Device,
) -> Result<RgbImage> {
    let levels = opts.check(&model.info)?;
    normalised(&styles.iter().map(|(_, w)| *w).collect::<Vec<_>>())?;
    tch::no_grad(|| {
        let c = to_tensor(content, device)?;
        let mut st = Vec::with_capacity(styles.len());
        for (img, w) in styles {
            let s = to_tensor(img, device)?;
            let s = match opts.color {
                ColorMode::Histogram => match_color(&s, &c)?.f_clamp(0.0, 1.0)?,
                _ => s,
            };
            st.push((s, *w));
        }
        let out = forward_regions(model, &c, &st, &masks.styles, opts.alpha, &levels)?;
        let out = match opts.color {
            ColorMode::Luminance => with_chroma_of(&out.f_clamp(0.0, 1.0)?, &c)?,
            _ => out,
        };
        let out = match &masks.content {
            Some(m) => keep_photo(&out.f_clamp(0.0, 1.0)?, &c, m)?,
            None => out,
        };
        from_tensor(&out)
    })
}

/// The transform and decoders on tensors (`[1, 3, H, W]` in [0, 1]); the
/// content is reflected up to a multiple of the deepest stride and the
/// output cut back.
pub fn forward(
    model: &ArbModel,
    content: &Tensor,
    styles: &[(Tensor, f64)],
    alpha: f64,
    levels: &[usize],
) -> Result<Tensor> {
    forward_regions(model, content, styles, &[], alpha, levels)
}

/// [`forward`] with one mask per style (`[1, 1, H, W]` like the content),
/// or none: the styles then mix everywhere.
pub fn forward_regions(
    model: &ArbModel,
    content: &Tensor,
    styles: &[(Tensor, f64)],
    masks: &[Tensor],
    alpha: f64,
    levels: &[usize],
) -> Result<Tensor> {
    let (_, _, h, w) = content.size4()?;
    let m = stride(levels.iter().copied().max().unwrap_or(1));
    let (ph, pw) = ((m - h % m) % m, (m - w % m) % m);
    let pad = |t: &Tensor| -> Result<Tensor> {
        Ok(if ph + pw > 0 {
            t.f_reflection_pad2d([0, pw, 0, ph])?
        } else {
            t.shallow_clone()
        })
    };
    let mut x = pad(content)?;
    let masks = masks.iter().map(pad).collect::<Result<Vec<_>>>()?;
    let (hp, wp) = (h + ph, w + pw);
    for &level in levels {
        let dec = model.decoders.get(&level).ok_or_else(|| {
            Error::invalid("levels", format!("no level-{level} decoder in this model"))
        })?;
        let fc = model.encoder.encode_level(&x, level)?;
        let mut fs = Vec::with_capacity(styles.len());
        for (s, wt) in styles {
            fs.push((model.encoder.encode_level(s, level)?, *wt));
        }
        let t = match (model.info.method, masks.is_empty()) {
            (Method::Adain, true) => adain_mix(&fc, &fs, alpha)?,
            (Method::Wct, true) => wct_mix(&fc, &fs, alpha)?,
            (method, false) => {
                let fs: Vec<Tensor> = fs.into_iter().map(|(f, _)| f).collect();
                regions::transform(method, &fc, &fs, &masks, alpha)?
            }
        };
        x = dec.forward(&t)?.f_narrow(2, 0, hp)?.f_narrow(3, 0, wp)?;
    }
    Ok(x.f_narrow(2, 0, h)?.f_narrow(3, 0, w)?)
}
