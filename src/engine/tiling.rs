//! Tiled runs for outputs too large to optimise at once: the style targets come
//! from the whole style image (Gram matrices are divided by C·H·W, so a tile's
//! Gram is comparable with the whole image's), each tile is optimised against the
//! content under it, and written back with a linear feather over the overlap.
//! The tile grid moves between passes (offset by a third of a tile), so no
//! border stays in the same place and seams from one pass are worked over in the
//! next.

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

#[cfg(test)]
mod tests {
    use super::*;

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
