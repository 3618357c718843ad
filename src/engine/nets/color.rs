//! Colour preservation (Gatys et al., "Preserving Color in Neural Artistic Style
//! Transfer", 2016): either transfer on luminance only and put the content's
//! chroma back, or match the style's colour statistics to the content's first.
//!
//! Images are `[1, 3, H, W]` RGB in [0, 1].

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::engine::infra::error::{Error, Result};

/// How the content's colours are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorMode {
    /// The style's colours, as plain Gatys.
    #[default]
    None,
    /// Transfer on luminance; the output takes the content's chroma (YIQ).
    Luminance,
    /// Recolour the style so its colour mean and covariance are the content's.
    Histogram,
}

impl FromStr for ColorMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Self::None),
            "luminance" => Ok(Self::Luminance),
            "histogram" => Ok(Self::Histogram),
            _ => Err(Error::invalid(
                "preserve-colors",
                format!("'{s}' (use none, luminance or histogram)"),
            )),
        }
    }
}

/// RGB -> YIQ (NTSC), as a 3x3 matrix applied per pixel.
const RGB_TO_YIQ: [f32; 9] = [
    0.299, 0.587, 0.114, //
    0.595_716, -0.274_453, -0.321_263, //
    0.211_456, -0.522_591, 0.311_135,
];

fn apply3(m: &Tensor, img: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = img.size4()?;
    if n != 1 || c != 3 {
        return Err(Error::invalid(
            "image",
            format!("expected [1, 3, H, W], got {:?}", img.size()),
        ));
    }
    let m = m.f_to_device(img.device())?.f_to_kind(img.kind())?;
    Ok(m.f_mm(&img.f_view([3, h * w])?)?.f_view([1, 3, h, w])?)
}

fn yiq_matrix() -> Result<Tensor> {
    Ok(Tensor::f_from_slice(&RGB_TO_YIQ)?.f_view([3, 3])?)
}

pub fn rgb_to_yiq(img: &Tensor) -> Result<Tensor> {
    apply3(&yiq_matrix()?, img)
}

pub fn yiq_to_rgb(img: &Tensor) -> Result<Tensor> {
    apply3(&yiq_matrix()?.f_to_kind(Kind::Double)?.f_inverse()?, img)
}

/// The luminance Y replicated to three channels: a grey RGB image.
pub fn luminance(img: &Tensor) -> Result<Tensor> {
    let y = rgb_to_yiq(img)?.f_narrow(1, 0, 1)?;
    Ok(y.f_expand([-1, 3, -1, -1], false)?.f_contiguous()?)
}

/// `result`'s luminance with `content`'s chroma (I and Q), back in RGB, clamped.
pub fn with_chroma_of(result: &Tensor, content: &Tensor) -> Result<Tensor> {
    let y = rgb_to_yiq(result)?.f_narrow(1, 0, 1)?;
    let iq = rgb_to_yiq(content)?.f_narrow(1, 1, 2)?;
    Ok(yiq_to_rgb(&Tensor::f_cat(&[y, iq], 1)?)?.f_clamp(0.0, 1.0)?)
}

/// Mean `[3, 1]` and covariance `[3, 3]` of an image's pixel colours, in f64.
pub fn color_stats(img: &Tensor) -> Result<(Tensor, Tensor)> {
    let (_, _, h, w) = img.size4()?;
    let px = img.f_to_kind(Kind::Double)?.f_view([3, h * w])?;
    let mean = px.f_mean_dim(Some([1i64].as_slice()), true, Kind::Double)?;
    let centred = px.f_sub(&mean)?;
    let cov = centred
        .f_mm(&centred.f_tr()?)?
        .f_div_scalar((h * w) as f64)?;
    Ok((mean, cov))
}

/// Symmetric matrix to a power via its eigen-decomposition; eigenvalues are
/// floored so flat (e.g. grey) images do not blow up the inverse root.
fn sym_pow(m: &Tensor, p: f64) -> Result<Tensor> {
    let (vals, vecs) = m.f_linalg_eigh("L")?;
    let d = vals.f_clamp_min(1e-5)?.f_pow_tensor_scalar(p)?;
    Ok(vecs.f_mul(&d.f_unsqueeze(0)?)?.f_mm(&vecs.f_tr()?)?)
}

/// Recolours `style` so its colour mean and covariance are `content`'s: the
/// linear map Σc^½ Σs^-½ on the centred colours (Gatys et al. 2016, "colour
/// histogram matching"). Not clamped, so the statistics match exactly.
pub fn match_color(style: &Tensor, content: &Tensor) -> Result<Tensor> {
    let (ms, cs) = color_stats(style)?;
    let (mc, cc) = color_stats(content)?;
    let a = sym_pow(&cc, 0.5)?.f_mm(&sym_pow(&cs, -0.5)?)?;
    let (_, _, h, w) = style.size4()?;
    let px = style.f_to_kind(Kind::Double)?.f_view([3, h * w])?;
    let out = a.f_mm(&px.f_sub(&ms)?)?.f_add(&mc)?;
    Ok(out.f_view([1, 3, h, w])?.f_to_kind(style.kind())?)
}
