//! Feature maps as plain `Vec<f32>` in position-major (HWC) layout, so the
//! PatchMatch and voting loops read each position's vector contiguously and
//! never touch tch; plus the per-layer normalisation, response and blend.

use tch::{Device, Kind, Tensor};

use crate::engine::infra::error::{Error, Result};

/// A `height`×`width` map of `channels`-long vectors, row-major, each
/// position's channels contiguous: `data[(y * width + x) * channels + c]`.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureMap {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub data: Vec<f32>,
}

impl FeatureMap {
    /// A map of zeros.
    pub fn zeros(width: usize, height: usize, channels: usize) -> Self {
        Self {
            width,
            height,
            channels,
            data: vec![0.0; width * height * channels],
        }
    }

    /// From `[1, C, H, W]` (any device, any float kind).
    pub fn from_tensor(t: &Tensor) -> Result<Self> {
        let (n, c, h, w) = t.size4().map_err(|_| {
            Error::invalid(
                "feature map",
                format!("shape {:?}, expected [1,C,H,W]", t.size()),
            )
        })?;
        if n != 1 {
            return Err(Error::invalid("feature map", format!("batch of {n}")));
        }
        let hwc = t
            .f_detach()?
            .f_to_device(Device::Cpu)?
            .f_to_kind(Kind::Float)?
            .f_permute([0, 2, 3, 1])?
            .f_contiguous()?
            .f_view([-1])?;
        let data = Vec::<f32>::try_from(&hwc)?;
        Ok(Self {
            width: w as usize,
            height: h as usize,
            channels: c as usize,
            data,
        })
    }

    /// To `[1, C, H, W]` on `device`.
    pub fn to_tensor(&self, device: Device) -> Result<Tensor> {
        Ok(Tensor::f_from_slice(&self.data)?
            .f_view([
                1,
                self.height as i64,
                self.width as i64,
                self.channels as i64,
            ])?
            .f_permute([0, 3, 1, 2])?
            .f_contiguous()?
            .f_to_device(device)?)
    }

    /// An RGB image as a 3-channel map in 0..255.
    pub fn from_rgb(img: &image::RgbImage) -> Self {
        Self {
            width: img.width() as usize,
            height: img.height() as usize,
            channels: 3,
            data: img.as_raw().iter().map(|&v| f32::from(v)).collect(),
        }
    }

    /// A 3-channel map in 0..255 as an RGB image (rounded, clamped).
    pub fn to_rgb(&self) -> Result<image::RgbImage> {
        if self.channels != 3 {
            return Err(Error::invalid(
                "image",
                format!("{} channels, expected 3", self.channels),
            ));
        }
        let bytes = self
            .data
            .iter()
            .map(|v| v.round().clamp(0.0, 255.0) as u8)
            .collect();
        image::RgbImage::from_raw(self.width as u32, self.height as u32, bytes)
            .ok_or_else(|| Error::invalid("image", "buffer size mismatch"))
    }

    /// The vector at (x, y).
    #[inline]
    pub fn at(&self, x: usize, y: usize) -> &[f32] {
        let i = (y * self.width + x) * self.channels;
        &self.data[i..i + self.channels]
    }
}

/// Added to each position's norm so that an all-zero (dead ReLU) vector stays
/// zero instead of becoming NaN (the official code divides by the bare norm).
pub const NORM_EPS: f64 = 1e-6;

/// `f` (`[1,C,H,W]`) with each position's vector divided by its L2 norm (+eps).
pub fn normalised(f: &Tensor) -> Result<Tensor> {
    let norm = f
        .f_square()?
        .f_sum_dim_intlist(Some(&[1i64][..]), true, Kind::Float)?
        .f_sqrt()?
        .f_add_scalar(NORM_EPS)?;
    Ok(f.f_div(&norm)?)
}

/// The two maps of one side side by side per position: `[first, second]`,
/// 2C channels, so one dot product gives both terms of the bidirectional
/// distance. Both are normalised first.
pub fn joint(first: &Tensor, second: &Tensor) -> Result<FeatureMap> {
    let cat = Tensor::f_cat(&[normalised(first)?, normalised(second)?], 1)?;
    FeatureMap::from_tensor(&cat)
}

/// Per position ΣF² over the channels, min–max normalised to [0, 1]
/// (`[1,1,H,W]`): where the layer responds strongly.
pub fn response(f: &Tensor) -> Result<Tensor> {
    let r = f
        .f_square()?
        .f_sum_dim_intlist(Some(&[1i64][..]), true, Kind::Float)?;
    let min = r.f_min()?;
    let range = r.f_max()?.f_sub(&min)?.f_clamp_min(1e-12)?;
    Ok(r.f_sub(&min)?.f_div(&range)?)
}

/// The response threshold of the official blend: below it a position takes
/// only the warped features, whatever the layer weight.
pub const RESPONSE_THRESHOLD: f64 = 0.05;

/// `W·own + (1−W)·warped` with W = `weight` where `response(own) ≥ 0.05`,
/// else 0: the official code's hard step (the paper writes a sigmoid).
pub fn blend(own: &Tensor, warped: &Tensor, weight: f64) -> Result<Tensor> {
    let w = response(own)?
        .f_ge(RESPONSE_THRESHOLD)?
        .f_to_kind(Kind::Float)?
        .f_mul_scalar(weight)?;
    let keep = w.f_neg()?.f_add_scalar(1.0)?;
    Ok(own.f_mul(&w)?.f_add(&warped.f_mul(&keep)?)?)
}
