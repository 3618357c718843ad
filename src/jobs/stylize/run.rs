//! How a Gatys job (`stylize`, and `texture`, which is one on a flat
//! canvas) runs: from its last preview when it can take one as its start,
//! else from the beginning, through the engine's transfer loop. The worker
//! calls it with its sink.

use image::RgbImage;
use tch::Device;

use super::{Resume, Spec};
use crate::engine::gatys::pyramid::Scales;
use crate::engine::gatys::transfer::{self, prepare, Event, Outcome, Prepared};
use crate::engine::infra::image_io::{load_rgb, resize_longer_side, to_tensor};
use crate::engine::infra::sink::Sink;
use crate::engine::nets::color::ColorMode;
use crate::engine::nets::vgg::Vgg19;
use crate::engine::Error;

/// Where a run starts: afresh, or from a preview with `offset` evaluations
/// done (then `spec.steps` is what is left).
pub struct Start {
    pub spec: Spec,
    pub offset: i64,
    resumed: Option<Prepared>,
}

/// The start of `spec` on `content`: from `resume` when the run can take
/// its image as its start (single-scale, untiled, optimising the colour
/// image itself) and the image fits; otherwise from the beginning.
pub fn start(
    spec: &Spec,
    content: &RgbImage,
    styles: &[RgbImage],
    device: Device,
    resume: Option<Resume>,
) -> Result<Start, Error> {
    let mut spec = spec.clone();
    let resumable = matches!(spec.scales, Scales::Count(1))
        && spec.preserve_colors != ColorMode::Luminance
        && spec.tile.is_none();
    let fresh = |spec| Start {
        spec,
        offset: 0,
        resumed: None,
    };
    let Some(r) = resume.filter(|r| resumable && r.step > 0 && (r.step as usize) < spec.steps)
    else {
        return Ok(fresh(spec));
    };
    let Ok(img) = load_rgb(&r.from, spec.pixel_limit) else {
        return Ok(fresh(spec));
    };
    let mut prepared = prepare(&spec, content, styles, device)?;
    let (_, _, h, w) = prepared.content.size4()?;
    let img = resize_longer_side(&img, h.max(w) as u32);
    match to_tensor(&img, device) {
        Ok(t) if t.size() == prepared.content.size() => {
            prepared.start = Some(t);
            spec.steps -= r.step as usize;
            Ok(Start {
                spec,
                offset: r.step,
                resumed: Some(prepared),
            })
        }
        _ => Ok(fresh(spec)),
    }
}

/// Runs the optimisation from `start`, reporting to `sink`.
pub fn run(
    vgg: &Vgg19,
    start: &Start,
    content: &RgbImage,
    styles: &[RgbImage],
    device: Device,
    sink: &mut dyn Sink<Event>,
) -> Result<Outcome, Error> {
    match &start.resumed {
        Some(prepared) => transfer::run(vgg, &start.spec, prepared, sink),
        None => transfer::stylize(vgg, &start.spec, content, styles, device, sink),
    }
}
