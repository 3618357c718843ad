//! Patch-average voting (the official `avg_vote`): each source position takes
//! the mean of what every patch covering it says, through the field, about
//! that position.

use crate::engine::infra::error::{Error, Result};

use super::features::FeatureMap;
use super::nnf::Nnf;

/// The target map `b` warped onto the source grid of `nnf`: position p gets
/// the mean of `b[nnf(p + o) − o]` over the patch offsets o with p + o inside
/// the source and `nnf(p + o) − o` inside the target. Sums are kept in f64, so
/// the identity field returns `b` exactly.
pub fn vote(nnf: &Nnf, b: &FeatureMap, patch: usize) -> Result<FeatureMap> {
    if (nnf.target_width, nnf.target_height) != (b.width, b.height) {
        return Err(Error::invalid(
            "vote",
            format!(
                "field targets {}x{}, map is {}x{}",
                nnf.target_width, nnf.target_height, b.width, b.height
            ),
        ));
    }
    let c = b.channels;
    let half = (patch / 2) as i64;
    let (w, h) = (nnf.width as i64, nnf.height as i64);
    let (bw, bh) = (b.width as i64, b.height as i64);
    let mut out = FeatureMap::zeros(nnf.width, nnf.height, c);
    let mut acc = vec![0.0f64; c];
    for y in 0..h {
        for x in 0..w {
            acc.iter_mut().for_each(|v| *v = 0.0);
            let mut n = 0u32;
            for dy in -half..=half {
                for dx in -half..=half {
                    let (nx, ny) = (x + dx, y + dy);
                    if nx < 0 || ny < 0 || nx >= w || ny >= h {
                        continue;
                    }
                    let (qx, qy) = nnf.get(nx as usize, ny as usize);
                    let (sx, sy) = (qx as i64 - dx, qy as i64 - dy);
                    if sx < 0 || sy < 0 || sx >= bw || sy >= bh {
                        continue;
                    }
                    for (a, v) in acc.iter_mut().zip(b.at(sx as usize, sy as usize)) {
                        *a += f64::from(*v);
                    }
                    n += 1;
                }
            }
            // The centre always counts (its match is inside the target).
            let i = ((y * w + x) as usize) * c;
            for (o, a) in out.data[i..i + c].iter_mut().zip(&acc) {
                *o = (a / f64::from(n.max(1))) as f32;
            }
        }
    }
    Ok(out)
}
