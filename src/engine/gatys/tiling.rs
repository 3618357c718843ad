//! Tiled runs for outputs too large to optimise at once: the style targets come
//! from the whole style image (Gram matrices are divided by C·H·W, so a tile's
//! Gram is comparable with the whole image's), each tile is optimised against the
//! content under it, and written back with a linear feather over the overlap.
//! The tile grid moves between passes (offset by a third of a tile), so no
//! border stays in the same place and seams from one pass are worked over in the
//! next.

use tch::Tensor;

use crate::engine::infra::error::Result;

/// Passes over the image; each moves the grid.
pub const PASSES: usize = 2;

/// Start positions of tiles of `tile` px along a side of `len` px, with
/// `overlap` px overlap, the grid shifted by `offset`. Tiles stay inside the
/// image; the first starts at 0 and the last ends at `len`.
pub fn starts(len: i64, tile: i64, overlap: i64, offset: i64) -> Vec<i64> {
    if tile >= len {
        return vec![0];
    }
    let stride = (tile - overlap).max(1);
    let mut v = vec![0];
    let mut s = offset % stride;
    if s == 0 {
        s = stride;
    }
    while s + tile < len {
        if s - v[v.len() - 1] >= overlap.max(1) {
            v.push(s);
        }
        s += stride;
    }
    v.push(len - tile);
    v.dedup();
    v
}

/// Feather weights along one side of a tile of `n` px: 1 inside, ramping up
/// from the tile's edge over `overlap` px on sides that are inside the image.
pub fn ramp(n: i64, overlap: i64, ramp_start: bool, ramp_end: bool) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let mut w = 1.0f32;
            if ramp_start && i < overlap {
                w = w.min((i + 1) as f32 / (overlap + 1) as f32);
            }
            if ramp_end && n - 1 - i < overlap {
                w = w.min((n - i) as f32 / (overlap + 1) as f32);
            }
            w
        })
        .collect()
}

/// Writes `tile` (`[1, C, th, tw]`, the optimised tile at `(y0, x0)`) into the
/// image `x` (`[1, C, H, W]`) in place, feathered: on each tile side inside the
/// image the weight of the tile ramps from the edge over `overlap` px, so the
/// step from the old image to the new tile is spread instead of a hard seam.
pub fn feather_into(x: &Tensor, tile: &Tensor, y0: i64, x0: i64, overlap: i64) -> Result<()> {
    let (_, _, h, w) = x.size4()?;
    let (_, _, th, tw) = tile.size4()?;
    let wy = ramp(th, overlap, y0 > 0, y0 + th < h);
    let wx = ramp(tw, overlap, x0 > 0, x0 + tw < w);
    tch::no_grad(|| -> Result<()> {
        let wy = Tensor::f_from_slice(&wy)?.f_view([1, 1, th, 1])?;
        let wx = Tensor::f_from_slice(&wx)?.f_view([1, 1, 1, tw])?;
        let m = wy.f_mul(&wx)?.f_to_device(x.device())?;
        let region = x.f_narrow(2, y0, th)?.f_narrow(3, x0, tw)?;
        let blended = region
            .f_mul(&m.f_neg()?.f_add_scalar(1.0)?)?
            .f_add(&tile.f_mul(&m)?)?;
        region.shallow_clone().f_copy_(&blended)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Largest step between neighbouring columns of a `[1, C, H, W]` image.
    fn max_column_step(x: &Tensor) -> f64 {
        let w = x.size()[3];
        (x.narrow(3, 1, w - 1) - x.narrow(3, 0, w - 1))
            .abs()
            .max()
            .double_value(&[])
    }

    #[test]
    fn feathering_spreads_the_step_at_inner_tile_borders() {
        // A tile of ones into an image of zeros: a hard paste would step by 1
        // at its borders; the feather steps by at most 1/(overlap+1).
        let x = Tensor::zeros([1, 3, 64, 96], (tch::Kind::Float, tch::Device::Cpu));
        let tile = Tensor::ones([1, 3, 48, 48], (tch::Kind::Float, tch::Device::Cpu));
        feather_into(&x, &tile, 0, 36, 12).unwrap();
        let step = max_column_step(&x);
        assert!(step <= 1.0 / 13.0 + 1e-6, "step {step}");
        // Full weight inside the ramps, untouched outside the tile.
        assert_eq!(x.double_value(&[0, 0, 10, 60]), 1.0);
        assert_eq!(x.double_value(&[0, 0, 10, 20]), 0.0);
        assert_eq!(x.double_value(&[0, 0, 50, 60]), 0.0);
        // The image border gets no ramp: a tile at the corner is pasted whole there.
        let y = Tensor::zeros([1, 3, 64, 96], (tch::Kind::Float, tch::Device::Cpu));
        feather_into(&y, &tile, 0, 0, 12).unwrap();
        assert_eq!(y.double_value(&[0, 0, 0, 0]), 1.0);
    }

    #[test]
    fn grids_cover_and_move() {
        let a = starts(96, 48, 12, 0);
        let b = starts(96, 48, 12, 16);
        assert_eq!((a[0], *a.last().unwrap()), (0, 48));
        assert_ne!(a, b);
        for v in [&a, &b] {
            for w in v.windows(2) {
                assert!(w[1] - w[0] <= 48 - 12, "{v:?}");
            }
        }
        assert_eq!(starts(40, 48, 12, 0), [0]);
        let r = ramp(6, 2, true, false);
        assert!(r[0] < r[1] && r[2] == 1.0 && r[5] == 1.0);
    }
}
