//! The whole analogy, coarse to fine over relu5_1 … relu1_1, as the official
//! `DeepAnalogy::ComputeAnn`.

use std::time::Instant;

use image::RgbImage;
use tch::Tensor;

use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::image_io::{resize_longer_side, to_tensor};
use crate::engine::infra::sink::Sink;
use crate::engine::nets::vgg::{Layer, Padding, Vgg19};

use super::features::{blend, joint, FeatureMap};
use super::nnf::Nnf;
use super::patchmatch::{patchmatch, PatchMatchParams};
use super::progress::{AnalogyProgress, Phase, Timings};
use super::reconstruct::{lbfgs_config, reconstruct};
use super::spec::AnalogySpec;
use super::vote::vote;

/// The layers, coarse to fine.
pub const LAYERS: [&str; 5] = ["relu5_1", "relu4_1", "relu3_1", "relu2_1", "relu1_1"];
/// Patch sides per layer (official `sizes`), and at the image for the output.
pub const PATCH: [usize; 5] = [3, 3, 3, 5, 5];
pub const IMAGE_PATCH: usize = 3;
/// Random-search radii per layer; relu5_1 searches the whole map.
pub const RADIUS: [usize; 5] = [usize::MAX, 6, 6, 4, 4];

/// What an analogy computes, before anything is written.
pub struct Analogy {
    /// The working-size inputs.
    pub a: RgbImage,
    pub b_prime: RgbImage,
    /// A′ (A's structure, B′'s appearance) and B (B′'s structure, A's appearance).
    pub a_prime: RgbImage,
    pub b: RgbImage,
    /// The finest fields, A→B′ and B′→A, at the working size.
    pub nnf_ab: Nnf,
    pub nnf_ba: Nnf,
    pub timings: Timings,
}

/// Both inputs at the working size (longer side `spec.size`), refused when the
/// shorter side would leave relu5_1 empty.
pub fn working_images(
    spec: &AnalogySpec,
    a: &RgbImage,
    b_prime: &RgbImage,
) -> Result<(RgbImage, RgbImage)> {
    let fit = |img: &RgbImage, which: &str| -> Result<RgbImage> {
        let r = resize_longer_side(img, spec.size);
        let short = r.width().min(r.height());
        if short < 16 {
            return Err(Error::invalid(
                "size",
                format!(
                    "{which} would be {}x{} at --size {}: each side needs at least 16 px",
                    r.width(),
                    r.height(),
                    spec.size
                ),
            ));
        }
        Ok(r)
    };
    Ok((fit(a, "A")?, fit(b_prime, "B'")?))
}

fn dims(t: &Tensor) -> Result<(usize, usize)> {
    let (_, _, h, w) = t.size4()?;
    Ok((w as usize, h as usize))
}

/// Runs the analogy of `a` and `b_prime` (any size; resized to the spec's).
pub fn run(
    vgg: &Vgg19,
    spec: &AnalogySpec,
    a: &RgbImage,
    b_prime: &RgbImage,
    sink: &mut dyn Sink<AnalogyProgress>,
) -> Result<Analogy> {
    spec.validate()?;
    let started = Instant::now();
    let mut timings = Timings::default();
    let (a_img, bp_img) = working_images(spec, a, b_prime)?;
    let device = vgg.device();
    let padding = Padding::Zero;
    let layers = LAYERS
        .iter()
        .map(|n| n.parse::<Layer>())
        .collect::<Result<Vec<_>>>()?;
    let t_a = to_tensor(&a_img, device)?;
    let t_bp = to_tensor(&bp_img, device)?;
    let feats = |t: &Tensor| -> Result<Vec<Tensor>> {
        let mut f = tch::no_grad(|| vgg.features(t, &layers, padding))?;
        layers
            .iter()
            .map(|l| {
                f.remove(l)
                    .ok_or_else(|| Error::invalid("features", format!("{l} missing")))
            })
            .collect()
    };
    let fa = feats(&t_a)?;
    let fbp = feats(&t_bp)?;
    // The image level, in the network's input space (Caffe BGR, mean removed).
    let image_a = FeatureMap::from_tensor(&vgg.preprocess(&t_a)?)?;
    let image_bp = FeatureMap::from_tensor(&vgg.preprocess(&t_bp)?)?;
    let dims_a = fa.iter().map(dims).collect::<Result<Vec<_>>>()?;
    let dims_b = fbp.iter().map(dims).collect::<Result<Vec<_>>>()?;
    let (wa, ha) = (image_a.width, image_a.height);
    let (wb, hb) = (image_bp.width, image_bp.height);
    // A′ starts as A and B as B′; each layer blends in what the coarser one found.
    let mut ap: Vec<Tensor> = fa.iter().map(|t| t.shallow_clone()).collect();
    let mut bb: Vec<Tensor> = fbp.iter().map(|t| t.shallow_clone()).collect();
    let weights = spec.blend_weights();
    let mut nnf_ab = Nnf::identity(dims_a[0].0, dims_a[0].1, dims_b[0].0, dims_b[0].1);
    let mut nnf_ba = Nnf::identity(dims_b[0].0, dims_b[0].1, dims_a[0].0, dims_a[0].1);

    for i in 0..LAYERS.len() {
        let layer = layers[i];
        let level = i + 1;
        if i > 0 {
            nnf_ab = nnf_ab.upsample(dims_a[i].0, dims_a[i].1, dims_b[i].0, dims_b[i].1);
            nnf_ba = nnf_ba.upsample(dims_b[i].0, dims_b[i].1, dims_a[i].0, dims_a[i].1);
        }
        ap[i] = blend(&fa[i], &ap[i], weights[i])?;
        bb[i] = blend(&fbp[i], &bb[i], weights[i])?;

        let t = Instant::now();
        let ja = joint(&fa[i], &ap[i])?;
        let jb = joint(&bb[i], &fbp[i])?;
        let iters = spec.patchmatch_iterations;
        for (dir, (src, dst, nnf)) in [(&ja, &jb, &mut nnf_ab), (&jb, &ja, &mut nnf_ba)]
            .into_iter()
            .enumerate()
        {
            let params = PatchMatchParams {
                patch: PATCH[i],
                radius: RADIUS[i].min(dst.width.max(dst.height)),
                iterations: iters,
                seed: spec
                    .seed
                    .wrapping_mul(0x100_0000_01b3)
                    .wrapping_add((2 * i + dir) as u64),
                threads: 0,
            };
            patchmatch(src, dst, nnf, &params, &mut |k| {
                sink.progress(&AnalogyProgress {
                    layer,
                    level,
                    phase: Phase::PatchMatch,
                    iteration: dir * iters + k,
                    of: 2 * iters,
                })
            })?;
        }
        timings.patchmatch += t.elapsed().as_secs_f64();

        if i + 1 == LAYERS.len() {
            break;
        }
        let next = i + 1;
        if spec.fast {
            // R(B′) at the next layer straight from its features, no optimisation.
            let up_ab = nnf_ab.upsample(
                dims_a[next].0,
                dims_a[next].1,
                dims_b[next].0,
                dims_b[next].1,
            );
            let up_ba = nnf_ba.upsample(
                dims_b[next].0,
                dims_b[next].1,
                dims_a[next].0,
                dims_a[next].1,
            );
            ap[next] = vote(&up_ab, &FeatureMap::from_tensor(&fbp[next])?, PATCH[next])?
                .to_tensor(device)?;
            bb[next] = vote(&up_ba, &FeatureMap::from_tensor(&fa[next])?, PATCH[next])?
                .to_tensor(device)?;
            continue;
        }
        let t = Instant::now();
        // Optimise two levels down (the image below relu2_1), then forward one.
        let below = i + 2;
        let (from, patch_below) = if below < LAYERS.len() {
            (Some(layers[below]), PATCH[below])
        } else {
            (None, IMAGE_PATCH)
        };
        let size_at = |d: &[(usize, usize)], img: (usize, usize)| {
            if below < LAYERS.len() {
                d[below]
            } else {
                img
            }
        };
        let (sa, sb) = (size_at(&dims_a, (wa, ha)), size_at(&dims_b, (wb, hb)));
        let max_eval = lbfgs_config(spec.iterations)
            .max_eval
            .unwrap_or(spec.iterations * 5 / 4);
        for side in 0..2 {
            let (nnf, other_feats, other_image, own, other) = if side == 0 {
                (&nnf_ab, &fbp, &image_bp, sa, sb)
            } else {
                (&nnf_ba, &fa, &image_a, sb, sa)
            };
            let target = vote(nnf, &FeatureMap::from_tensor(&other_feats[i])?, PATCH[i])?
                .to_tensor(device)?;
            let up = nnf.upsample(own.0, own.1, other.0, other.1);
            let below_map = match from {
                Some(_) => FeatureMap::from_tensor(&other_feats[below])?,
                None => other_image.clone(),
            };
            let init = vote(&up, &below_map, patch_below)?.to_tensor(device)?;
            let rec = reconstruct(
                vgg,
                from,
                layer,
                &target,
                &init,
                spec.iterations,
                padding,
                &mut |e, _| {
                    sink.progress(&AnalogyProgress {
                        layer,
                        level,
                        phase: Phase::Reconstruction,
                        iteration: side * max_eval + e,
                        of: 2 * max_eval,
                    })
                },
            )?;
            let up_one =
                tch::no_grad(|| vgg.forward_stages(&rec.input, from, layers[next], padding))?;
            if side == 0 {
                ap[next] = up_one;
            } else {
                bb[next] = up_one;
            }
        }
        timings.reconstruction += t.elapsed().as_secs_f64();
    }

    // relu1_1 has the image's size; the output votes pixels through the field.
    let full_ab = nnf_ab.upsample(wa, ha, wb, hb);
    let full_ba = nnf_ba.upsample(wb, hb, wa, ha);
    let a_prime = vote(&full_ab, &FeatureMap::from_rgb(&bp_img), IMAGE_PATCH)?.to_rgb()?;
    let b = vote(&full_ba, &FeatureMap::from_rgb(&a_img), IMAGE_PATCH)?.to_rgb()?;
    timings.total = started.elapsed().as_secs_f64();
    Ok(Analogy {
        a: a_img,
        b_prime: bp_img,
        a_prime,
        b,
        nnf_ab: full_ab,
        nnf_ba: full_ba,
        timings,
    })
}
