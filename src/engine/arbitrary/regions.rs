//! A style per region of the photo (AdaIN-style `test.lua -mask`,
//! FastPhotoStyle's per-label WCT): each region's feature columns are
//! transformed with its own style's statistics and scattered back, so the
//! image is decoded once.

use tch::Tensor;

use super::adain::{adain, blend, check_alpha};
use super::model_file::Method;
use super::wct::wct;
use crate::engine::infra::error::{Error, Result};

/// A mask weaker than this at a feature pixel does not claim it.
const CLAIM: f64 = 0.5;

/// `content` features (`[1, C, H, W]`) with each pixel transformed by the
/// style whose mask (`[1, 1, h, w]` at the image's size, one per style) is
/// strongest there; pixels no mask claims keep the content's features. Then
/// `α t + (1 − α) c`.
pub fn transform(
    method: Method,
    content: &Tensor,
    styles: &[Tensor],
    masks: &[Tensor],
    alpha: f64,
) -> Result<Tensor> {
    check_alpha(alpha)?;
    if styles.len() != masks.len() {
        return Err(Error::invalid(
            "style masks",
            format!(
                "{} given for {} styles (give one per style, in the order of the styles)",
                masks.len(),
                styles.len()
            ),
        ));
    }
    let (_, c, h, w) = content.size4()?;
    // Nearest resize, as the references do: a region keeps its hard edge at
    // the layer and the decoder softens it.
    let at_layer = masks
        .iter()
        .map(|m| {
            Ok(m.f_upsample_nearest2d([h, w], None, None)?
                .f_reshape([h * w])?)
        })
        .collect::<Result<Vec<_>>>()?;
    let stacked = Tensor::f_stack(&at_layer, 0)?;
    let (strongest, label) = stacked.f_max_dim(0, false)?;
    let flat = content.f_reshape([1, c, h * w])?;
    let mut t = flat.shallow_clone();
    for (i, style) in styles.iter().enumerate() {
        let mine = label
            .f_eq(i as i64)?
            .f_logical_and(&strongest.f_ge(CLAIM)?)?;
        let idx = mine.f_nonzero()?.f_reshape([-1])?;
        let n = idx.size()[0];
        // A variance needs two pixels; a region smaller than that keeps the content.
        if n < 2 {
            continue;
        }
        let cols = flat.f_index_select(2, &idx)?.f_reshape([1, c, 1, n])?;
        let out = match method {
            Method::Adain => adain(&cols, style)?,
            Method::Wct => wct(&cols, style)?,
        };
        t = t.f_index_copy(2, &idx, &out.f_reshape([1, c, n])?.f_to_kind(flat.kind())?)?;
    }
    blend(&t.f_reshape([1, c, h, w])?, content, alpha)
}
