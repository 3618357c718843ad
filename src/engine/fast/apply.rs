//! Applying a trained network to a photo: one forward pass, or overlapping
//! tiles blended with a linear feather when the image is larger than a tile
//! (memory grows with the pixel count; a tile bounds it).

use image::RgbImage;
use tch::{Device, Kind, Tensor};

use super::mix::StyleMix;
use super::model_file::Model;
use crate::engine::gatys::tiling;
use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::image_io::{from_tensor, to_tensor};

/// Longer side above which an image goes in tiles by default: at width 1 a
/// 1024² pass keeps about 1 GiB of activations alive.
pub const DEFAULT_TILE: u32 = 1024;
/// Overlap of neighbouring tiles, blended linearly.
pub const OVERLAP: i64 = 64;
/// Smallest tile: more than twice the overlap, so each tile keeps a middle
/// no neighbour blends over (at 2 × 64 the grid would step by a pixel or
/// two), and a multiple of 4, the network's stride.
pub const MIN_TILE: u32 = 2 * OVERLAP as u32 + 4;

/// A tile size that can hold the overlap on both sides.
pub fn check_tile(tile: u32) -> Result<()> {
    if tile >= MIN_TILE {
        return Ok(());
    }
    Err(Error::invalid(
        "tile",
        format!(
            "{tile} px: use at least {MIN_TILE} px, more than twice the {OVERLAP} px overlap of neighbouring tiles"
        ),
    ))
}

/// Stylizes `img` with `model` on `device`, in tiles of at most `tile` px a
/// side; a multi-style model in its first style (see [`apply_mix`]).
pub fn apply(model: &Model, img: &RgbImage, device: Device, tile: u32) -> Result<RgbImage> {
    apply_mix(model, img, None, device, tile)
}

/// As [`apply`], a multi-style model in the styles of `mix` (its first style
/// when `None`; single-style models ignore it).
pub fn apply_mix(
    model: &Model,
    img: &RgbImage,
    mix: Option<&StyleMix>,
    device: Device,
    tile: u32,
) -> Result<RgbImage> {
    apply_cond(model, img, Cond::Mix(mix), device, tile)
}

/// As [`apply`], an MSG-Net styled after the Gram target `g` (`[1, C, C]`,
/// from [`super::msg_style::msg_target`]: any style image, or a mix).
pub fn apply_gram(
    model: &Model,
    img: &RgbImage,
    g: &Tensor,
    device: Device,
    tile: u32,
) -> Result<RgbImage> {
    apply_cond(model, img, Cond::Gram(g), device, tile)
}

/// What a pass is styled by: weights of the model's styles, or a Gram target.
#[derive(Clone, Copy)]
enum Cond<'a> {
    Mix(Option<&'a StyleMix>),
    Gram(&'a Tensor),
}

fn apply_cond(
    model: &Model,
    img: &RgbImage,
    cond: Cond,
    device: Device,
    tile: u32,
) -> Result<RgbImage> {
    check_tile(tile)?;
    tch::no_grad(|| {
        let x = to_tensor(img, device)?.f_mul_scalar(255.0)?;
        let (_, _, h, w) = x.size4()?;
        let tile = i64::from(tile) / 4 * 4;
        let y = if h <= tile && w <= tile {
            forward_padded_cond(model, &x, cond)?
        } else {
            tiled(model, &x, cond, tile)?
        };
        from_tensor(&y.f_div_scalar(255.0)?)
    })
}

/// One pass, the input reflected up to a multiple of 4 a side (the network
/// halves twice and doubles twice) and the output cut back.
pub fn forward_padded(model: &Model, x: &Tensor) -> Result<Tensor> {
    forward_padded_mix(model, x, None)
}

/// As [`forward_padded`], with the style weights of a multi-style model (its
/// first style when `None`).
pub fn forward_padded_mix(model: &Model, x: &Tensor, mix: Option<&StyleMix>) -> Result<Tensor> {
    forward_padded_cond(model, x, Cond::Mix(mix))
}

fn forward_padded_cond(model: &Model, x: &Tensor, cond: Cond) -> Result<Tensor> {
    let (_, _, h, w) = x.size4()?;
    let (ph, pw) = ((4 - h % 4) % 4, (4 - w % 4) % 4);
    let xp = if ph + pw > 0 {
        x.f_reflection_pad2d([0, pw, 0, ph])?
    } else {
        x.shallow_clone()
    };
    let mix = match cond {
        Cond::Gram(g) => {
            let net = model.net.msg().ok_or_else(|| {
                Error::invalid("style", "only an MSG-Net is styled by a style image's Gram")
            })?;
            let y = net.forward_gram(&xp, g)?;
            return Ok(y.f_narrow(2, 0, h)?.f_narrow(3, 0, w)?);
        }
        Cond::Mix(m) => m,
    };
    let weights = match mix {
        _ if !model.info.arch.norm.is_conditional() => None,
        Some(m) => Some(m.tensor(x.size()[0], x.device())?),
        None => Some(StyleMix::single(&model.info.styles, 0)?.tensor(x.size()[0], x.device())?),
    };
    let y = model.net.forward_mix(&xp, weights.as_ref(), false)?;
    Ok(y.f_narrow(2, 0, h)?.f_narrow(3, 0, w)?)
}

/// Tiles over the image; each output pixel is the feather-weighted mean of the
/// tiles covering it (weights from `tiling::ramp`, never zero inside a tile).
fn tiled(model: &Model, x: &Tensor, cond: Cond, tile: i64) -> Result<Tensor> {
    let (_, _, h, w) = x.size4()?;
    let opts = (Kind::Float, x.device());
    let acc = Tensor::f_zeros([1, 3, h, w], opts)?;
    let wsum = Tensor::f_zeros([1, 1, h, w], opts)?;
    let (th, tw) = (tile.min(h), tile.min(w));
    for &y0 in &tiling::starts(h, th, OVERLAP, 0) {
        for &x0 in &tiling::starts(w, tw, OVERLAP, 0) {
            let part = x.f_narrow(2, y0, th)?.f_narrow(3, x0, tw)?;
            let out = forward_padded_cond(model, &part, cond)?;
            let wy = tiling::ramp(th, OVERLAP, y0 > 0, y0 + th < h);
            let wx = tiling::ramp(tw, OVERLAP, x0 > 0, x0 + tw < w);
            let m = Tensor::f_from_slice(&wy)?
                .f_view([1, 1, th, 1])?
                .f_mul(&Tensor::f_from_slice(&wx)?.f_view([1, 1, 1, tw])?)?
                .f_to_device(x.device())?;
            let a = acc.f_narrow(2, y0, th)?.f_narrow(3, x0, tw)?;
            let _ = a.shallow_clone().f_add_(&out.f_mul(&m)?)?;
            let s = wsum.f_narrow(2, y0, th)?.f_narrow(3, x0, tw)?;
            let _ = s.shallow_clone().f_add_(&m)?;
        }
    }
    Ok(acc.f_div(&wsum)?)
}
