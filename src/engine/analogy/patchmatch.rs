//! Bidirectional-distance PatchMatch on feature maps (Barnes et al. 2009 as
//! generalised in the official `GeneralizedPatchMatch.cu`).
//!
//! Propagation is the official code's jump flooding: in each iteration every
//! position tries the matches of its four neighbours at distance 8, 4, 2 and 1
//! (shifted back by the jump), then a random search in windows halving from
//! the layer's radius to 1 around its best match. Where the GPU threads update
//! one shared field in whatever order they run, here each jump is one
//! synchronous pass over a snapshot of the field: threads never race and the
//! result depends on the seed only, not on the number of threads.

use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::flow::Flow;

use super::features::FeatureMap;
use super::nnf::Nnf;

/// One PatchMatch run.
#[derive(Clone, Copy, Debug)]
pub struct PatchMatchParams {
    /// Patch side (odd).
    pub patch: usize,
    /// Largest random-search window half-side, in target positions.
    pub radius: usize,
    pub iterations: usize,
    pub seed: u64,
    /// Worker threads (0: one per core).
    pub threads: usize,
}

/// The distance between the patch of `a` around (ax, ay) and the patch of `b`
/// around (bx, by): minus the mean dot product over the patch offsets valid in
/// both maps. With `a`, `b` the joint maps `[A, A′]` and `[B, B′]` of
/// normalised features, this is the paper's bidirectional distance
/// −(F̄_A·F̄_B + F̄_A′·F̄_B′), as the official `dist_compute`.
pub fn patch_distance(
    a: &FeatureMap,
    b: &FeatureMap,
    (ax, ay): (usize, usize),
    (bx, by): (usize, usize),
    patch: usize,
) -> f32 {
    let half = (patch / 2) as i64;
    let (ax, ay, bx, by) = (ax as i64, ay as i64, bx as i64, by as i64);
    let mut sum = 0.0f32;
    let mut n = 0u32;
    for dy in -half..=half {
        let (ya, yb) = (ay + dy, by + dy);
        if ya < 0 || yb < 0 || ya >= a.height as i64 || yb >= b.height as i64 {
            continue;
        }
        for dx in -half..=half {
            let (xa, xb) = (ax + dx, bx + dx);
            if xa < 0 || xb < 0 || xa >= a.width as i64 || xb >= b.width as i64 {
                continue;
            }
            sum += dot(
                a.at(xa as usize, ya as usize),
                b.at(xb as usize, yb as usize),
            );
            n += 1;
        }
    }
    if n == 0 {
        f32::INFINITY
    } else {
        -sum / n as f32
    }
}

/// Dot product with eight partial sums, so the compiler can vectorise it.
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Improves `nnf` (source `a`, target `b`) in place and returns each
/// position's distance. `on_iteration(i)` is called after iteration i (from 1)
/// and may stop the work (then `Error::Cancelled`).
pub fn patchmatch(
    a: &FeatureMap,
    b: &FeatureMap,
    nnf: &mut Nnf,
    params: &PatchMatchParams,
    on_iteration: &mut dyn FnMut(usize) -> Result<Flow>,
) -> Result<Vec<f32>> {
    if a.channels != b.channels {
        return Err(Error::invalid(
            "patchmatch",
            format!("{} channels against {}", a.channels, b.channels),
        ));
    }
    if (nnf.width, nnf.height, nnf.target_width, nnf.target_height)
        != (a.width, a.height, b.width, b.height)
    {
        return Err(Error::invalid(
            "patchmatch",
            "the field's size does not match the maps",
        ));
    }
    if params.patch % 2 == 0 {
        return Err(Error::invalid("patch size", "must be odd"));
    }
    let threads = match params.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let ctx = Ctx { a, b, params };
    let mut cur = nnf.targets.clone();
    let mut dist = vec![0.0f32; cur.len()];
    // Distances of the starting field.
    par_map(a.width, a.height, threads, &mut dist, |x, y| {
        let (tx, ty) = nnf.get(x, y);
        patch_distance(a, b, (x, y), (tx, ty), params.patch)
    });
    let mut next = cur.clone();
    let mut next_dist = dist.clone();
    for iter in 0..params.iterations {
        for jump in [8usize, 4, 2, 1] {
            let search = (jump == 1).then_some(iter);
            ctx.pass(
                &cur,
                &dist,
                &mut next,
                &mut next_dist,
                jump,
                search,
                threads,
            );
            std::mem::swap(&mut cur, &mut next);
            std::mem::swap(&mut dist, &mut next_dist);
        }
        on_iteration(iter + 1)?.or_cancel()?;
    }
    nnf.targets = cur;
    Ok(dist)
}

struct Ctx<'a> {
    a: &'a FeatureMap,
    b: &'a FeatureMap,
    params: &'a PatchMatchParams,
}

impl Ctx<'_> {
    /// One propagation pass at `jump` over the snapshot (`cur`, `dist`) into
    /// (`next`, `next_dist`), with a random search when `search` is the
    /// iteration number.
    #[allow(clippy::too_many_arguments)]
    fn pass(
        &self,
        cur: &[(u32, u32)],
        dist: &[f32],
        next: &mut [(u32, u32)],
        next_dist: &mut [f32],
        jump: usize,
        search: Option<usize>,
        threads: usize,
    ) {
        let w = self.a.width;
        let rows_per = self.a.height.div_ceil(threads).max(1);
        std::thread::scope(|s| {
            for (chunk, (out, out_d)) in next
                .chunks_mut(rows_per * w)
                .zip(next_dist.chunks_mut(rows_per * w))
                .enumerate()
            {
                s.spawn(move || {
                    let y0 = chunk * rows_per;
                    for (i, (o, od)) in out.iter_mut().zip(out_d.iter_mut()).enumerate() {
                        let (x, y) = (i % w, y0 + i / w);
                        let (m, d) = self.improve(cur, dist, x, y, jump, search);
                        *o = m;
                        *od = d;
                    }
                });
            }
        });
    }

    fn improve(
        &self,
        cur: &[(u32, u32)],
        dist: &[f32],
        x: usize,
        y: usize,
        jump: usize,
        search: Option<usize>,
    ) -> ((u32, u32), f32) {
        let (a, b, p) = (self.a, self.b, self.params);
        let (w, h) = (a.width as i64, a.height as i64);
        let (bw, bh) = (b.width as i64, b.height as i64);
        let i = y * a.width + x;
        let mut best = cur[i];
        let mut best_d = dist[i];
        let (xi, yi, j) = (x as i64, y as i64, jump as i64);
        // Neighbour at (nx, ny): its match shifted back by (sx, sy).
        for (nx, ny, sx, sy) in [
            (xi - j, yi, j, 0),
            (xi + j, yi, -j, 0),
            (xi, yi - j, 0, j),
            (xi, yi + j, 0, -j),
        ] {
            if nx < 0 || ny < 0 || nx >= w || ny >= h {
                continue;
            }
            let (qx, qy) = cur[(ny * w + nx) as usize];
            let (cx, cy) = (i64::from(qx) + sx, i64::from(qy) + sy);
            if cx < 0 || cy < 0 || cx >= bw || cy >= bh {
                continue;
            }
            let cand = (cx as u32, cy as u32);
            if cand == best {
                continue;
            }
            let d = patch_distance(a, b, (x, y), (cx as usize, cy as usize), p.patch);
            if d < best_d {
                best = cand;
                best_d = d;
            }
        }
        if let Some(iter) = search {
            let mut rng = Rng::new(mix(p.seed, iter as u64, i as u64));
            let mut mag = p.radius.min(b.width.max(b.height)) as i64;
            while mag >= 1 {
                let (bx, by) = (i64::from(best.0), i64::from(best.1));
                let (x0, x1) = ((bx - mag).max(0), (bx + mag + 1).min(bw));
                let (y0, y1) = ((by - mag).max(0), (by + mag + 1).min(bh));
                let cx = x0 + rng.below((x1 - x0) as usize) as i64;
                let cy = y0 + rng.below((y1 - y0) as usize) as i64;
                let d = patch_distance(a, b, (x, y), (cx as usize, cy as usize), p.patch);
                if d < best_d {
                    best = (cx as u32, cy as u32);
                    best_d = d;
                }
                mag /= 2;
            }
        }
        (best, best_d)
    }
}

/// Fills `out[y * width + x] = f(x, y)` with rows split over `threads`.
fn par_map(
    width: usize,
    height: usize,
    threads: usize,
    out: &mut [f32],
    f: impl Fn(usize, usize) -> f32 + Sync,
) {
    let rows_per = height.div_ceil(threads).max(1);
    let f = &f;
    std::thread::scope(|s| {
        for (chunk, part) in out.chunks_mut(rows_per * width).enumerate() {
            s.spawn(move || {
                let y0 = chunk * rows_per;
                for (i, o) in part.iter_mut().enumerate() {
                    *o = f(i % width, y0 + i / width);
                }
            });
        }
    });
}

/// SplitMix64 seeds mixed from several words.
fn mix(a: u64, b: u64, c: u64) -> u64 {
    let mut r = Rng::new(a ^ 0x9e37_79b9_7f4a_7c15);
    let x = r.next() ^ b;
    let mut r = Rng::new(x);
    r.next() ^ c.wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

/// SplitMix64: small, seedable, good enough for sampling candidates.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n ≥ 1).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}
