//! How an `apply` job runs: its network over every photo, each output
//! written into the job's folder, one step reported per photo. The worker
//! calls it with its sink, holding the network between runs.

use std::path::Path;
use std::time::Instant;

use image::RgbImage;
use tch::Device;

use super::{Outcome, Progress, Spec};
use crate::engine::arbitrary::apply::{styles_at_scale, stylize_regions};
use crate::engine::arbitrary::model_file::ArbModel;
use crate::engine::fast::apply::{apply_gram, apply_mix, DEFAULT_TILE};
use crate::engine::fast::model_file::Model as FastModel;
use crate::engine::fast::msg_style::target_of;
use crate::engine::infra::image_io::{
    from_tensor, load_rgb, resize_longer_side, save_png, to_tensor,
};
use crate::engine::infra::mask::{keep_photo, Masks};
use crate::engine::infra::sink::Sink;
use crate::engine::Error;

/// The network an apply job runs, loaded by the caller.
pub enum Network<'a> {
    Fast(&'a FastModel),
    Arbitrary(&'a ArbModel),
}

/// Applies `net` to every content of `spec`, writing `spec.output_name(i)`
/// into `dir`; an output already there (a stopped attempt's) is kept. A stop
/// asked after a photo ends the job before the next one. Returns the first
/// output and the outcome.
pub fn run(
    spec: &Spec,
    net: Network<'_>,
    dir: &Path,
    device: Device,
    sink: &mut dyn Sink<Progress>,
) -> Result<(RgbImage, Outcome), Error> {
    let started = Instant::now();
    let once = prepare(spec, &net, device)?;
    let mut outputs = Vec::new();
    let mut first = None;
    for (i, content) in spec.contents.iter().enumerate() {
        let out = dir.join(spec.output_name(i));
        let img = if out.exists() {
            load_rgb(&out, spec.pixel_limit)?
        } else {
            let y = apply_one(spec, &net, content, &once, device)?;
            let text = [
                ("Software", format!("atelier {}", env!("CARGO_PKG_VERSION"))),
                ("atelier:model", spec.label()),
                ("atelier:content", content.display().to_string()),
            ];
            save_png(&out, &y, &text, false)?;
            y
        };
        first.get_or_insert(img);
        outputs.push(out);
        let p = Progress {
            done: i + 1,
            of: spec.contents.len(),
            elapsed: started.elapsed(),
        };
        sink.progress(&p)?.or_cancel()?;
    }
    sink.finish()?;
    let first = first.ok_or_else(|| Error::invalid("contents", "no content given"))?;
    let outcome = Outcome {
        model: spec.model_display(),
        outputs,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok((first, outcome))
}

/// What an apply computes once for all its images: the paintings read, an
/// MSG-Net's target of paintings it was not trained on.
pub struct Prepared {
    styles: Vec<(RgbImage, f64)>,
    gram: Option<tch::Tensor>,
}

/// [`Prepared`] for `spec` and `net`.
pub fn prepare(spec: &Spec, net: &Network<'_>, device: Device) -> Result<Prepared, Error> {
    let mut styles = Vec::new();
    if let Some(a) = &spec.arbitrary {
        for s in &a.styles {
            styles.push((load_rgb(&s.path, spec.pixel_limit)?, s.weight));
        }
    }
    let gram = match (net, spec.msg.is_empty()) {
        (Network::Fast(m), false) => Some(target_of(m, &spec.msg, spec.pixel_limit, device)?),
        _ => None,
    };
    Ok(Prepared { styles, gram })
}

/// `net` on the photo at `content` (resized to the spec's size).
fn apply_one(
    spec: &Spec,
    net: &Network<'_>,
    content: &Path,
    once: &Prepared,
    device: Device,
) -> Result<RgbImage, Error> {
    let photo = load_rgb(content, spec.pixel_limit)?;
    let img = match spec.size {
        Some(s) => resize_longer_side(&photo, s),
        None => photo.clone(),
    };
    let masks = masks_for(spec, photo.dimensions(), &img, device)?;
    apply_image(spec, net, &img, once, &masks, device)
}

/// `net` on `img` as it is (a photo resized already, a video frame), each
/// style on its region of `masks` and the photo kept outside its content mask.
pub fn apply_image(
    spec: &Spec,
    net: &Network<'_>,
    img: &RgbImage,
    once: &Prepared,
    masks: &Masks,
    device: Device,
) -> Result<RgbImage, Error> {
    match (net, &spec.arbitrary) {
        (Network::Arbitrary(m), Some(a)) => stylize_regions(
            m,
            img,
            &styles_at_scale(img, &once.styles),
            masks,
            &a.options(),
            device,
        ),
        (Network::Fast(m), None) => {
            let out = match &once.gram {
                Some(g) => apply_gram(m, img, g, device, DEFAULT_TILE)?,
                None => apply_mix(m, img, spec.mix.as_ref(), device, DEFAULT_TILE)?,
            };
            keep_photo_outside(out, img, masks)
        }
        _ => Err(Error::Torch("the model is not of the run's kind".into())),
    }
}

/// The masks of `spec` for a photo of `photo` = (width, height) pixels
/// worked on as `img`, on `device`.
pub fn masks_for(
    spec: &Spec,
    photo: (u32, u32),
    img: &RgbImage,
    device: Device,
) -> Result<Masks, Error> {
    let size = img.dimensions();
    let mut masks = Masks::load(
        &spec.style_masks,
        spec.content_mask.as_deref(),
        spec.pixel_limit,
        photo,
        size,
        device,
    )?;
    if let Some(r) = &spec.regions {
        let styles = spec.arbitrary.as_ref().map_or(0, |a| a.styles.len());
        masks.styles = r.style_masks(spec.pixel_limit, styles, photo, size, device)?;
    }
    Ok(masks)
}

/// A fast model's output `out` of `img` with the photo kept outside the
/// content mask of `masks`.
pub fn keep_photo_outside(out: RgbImage, img: &RgbImage, masks: &Masks) -> Result<RgbImage, Error> {
    let Some(m) = &masks.content else {
        return Ok(out);
    };
    let device = m.device();
    let kept = keep_photo(&to_tensor(&out, device)?, &to_tensor(img, device)?, m)?;
    from_tensor(&kept)
}
