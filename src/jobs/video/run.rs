//! How a `video` job runs: the clip's frames in order, each stylized and
//! written as a PNG checkpoint (`frames/000001.png`, …) before the next; a
//! frame whose checkpoint is there (a stopped attempt's) is read back, not
//! redone. The CLI and the worker call it with their sinks; encoding the
//! frames into a video is [`encode`].

use std::path::Path;
use std::time::Instant;

use image::RgbImage;
use tch::{Device, Tensor};

use super::{Method, Outcome, Progress, Spec};
use crate::engine::gatys::pyramid::Scales;
use crate::engine::gatys::spec::RunSpec;
use crate::engine::gatys::transfer::{self, prepare, Event, Temporal};
use crate::engine::infra::flow::Flow;
use crate::engine::infra::image_io::{from_tensor, load_rgb, save_png, software, to_tensor};
use crate::engine::infra::sink::Sink;
use crate::engine::motion::FlowOptions;
use crate::engine::nets::color::{luminance, ColorMode};
use crate::engine::nets::vgg::Vgg19;
use crate::engine::video::encode::frame_name;
use crate::engine::video::{blend, carried, Carried, Clip, Frames};
use crate::engine::Error;
use crate::jobs::apply::run::{
    apply_image, masks_for, prepare as prepare_apply, Network, Prepared,
};

/// What stylizes the frames, loaded by the caller.
pub enum Stylizer<'a> {
    Gatys {
        vgg: &'a Vgg19,
        styles: Vec<RgbImage>,
    },
    Model {
        net: Network<'a>,
        once: Prepared,
    },
}

impl<'a> Stylizer<'a> {
    /// Gatys with `spec`'s paintings read.
    pub fn gatys(vgg: &'a Vgg19, spec: &RunSpec) -> Result<Self, Error> {
        let styles = spec
            .styles
            .iter()
            .map(|s| load_rgb(&s.path, spec.pixel_limit))
            .collect::<Result<_, _>>()?;
        Ok(Stylizer::Gatys { vgg, styles })
    }

    /// `net` with what its apply computes once (paintings, targets).
    pub fn model(
        net: Network<'a>,
        spec: &crate::jobs::apply::Spec,
        device: Device,
    ) -> Result<Self, Error> {
        let once = prepare_apply(spec, &net, device)?;
        Ok(Stylizer::Model { net, once })
    }
}

/// Stylizes every frame of `clip` into `dir` (which exists), reporting to
/// `sink`; a stop asked ends the job before the next evaluation or frame,
/// every finished frame kept. Returns the outcome and the last frame.
pub fn run(
    spec: &Spec,
    clip: &Clip,
    stylizer: &Stylizer<'_>,
    dir: &Path,
    device: Device,
    sink: &mut dyn Sink<Progress>,
) -> Result<(Outcome, RgbImage), Error> {
    let started = Instant::now();
    let info = clip.info();
    let (w, h) = spec.frame_size(info);
    let mut frames = Frames::open(clip, w, h, spec.pixel_limit())?;
    let flow = FlowOptions::default();
    let mut progress = Progress {
        frame: 0,
        of: info.frames as usize,
        eval: 0,
        evals: 0,
        loss: None,
        fresh: 0,
        elapsed: started.elapsed(),
    };
    // The previous input frame and output, on the device.
    let mut prev: Option<(Tensor, Tensor)> = None;
    let mut last = None;
    let mut resumed = 0;
    let mut i = 0u64;
    while let Some(frame) = frames.next_frame()? {
        let path = dir.join(frame_name(i));
        let cur = to_tensor(&frame, device)?;
        let out = match load_rgb(&path, spec.pixel_limit()) {
            Ok(done) if done.dimensions() == (w, h) => {
                resumed += 1;
                done
            }
            _ => {
                let carry = match &prev {
                    Some((p_in, p_out)) if spec.temporal_weight > 0.0 => {
                        Some(carried(p_in, &cur, p_out, &flow)?)
                    }
                    _ => None,
                };
                progress.evals = spec.steps_of_frame(i);
                let out = stylize_frame(
                    spec,
                    i,
                    stylizer,
                    &frame,
                    carry,
                    device,
                    &mut progress,
                    sink,
                )?;
                let text = [("Software", software()), ("atelier:video", spec.label())];
                save_png(&path, &out, &text, true)?;
                progress.fresh += 1;
                out
            }
        };
        prev = Some((cur, to_tensor(&out, device)?));
        last = Some(out);
        i += 1;
        progress.frame = i as usize;
        progress.of = progress.of.max(progress.frame);
        progress.elapsed = started.elapsed();
        sink.progress(&progress)?.or_cancel()?;
    }
    sink.finish()?;
    let last = last.ok_or_else(|| Error::invalid("video", "no frames"))?;
    let outcome = Outcome {
        frames: i as usize,
        width: w,
        height: h,
        resumed,
        seconds: started.elapsed().as_secs_f64(),
        video: None,
        fps: Some(info.rate.fps()),
    };
    Ok((outcome, last))
}

/// One frame stylized, steadied by `carry` (the previous output warped).
#[allow(clippy::too_many_arguments)]
fn stylize_frame(
    spec: &Spec,
    i: u64,
    stylizer: &Stylizer<'_>,
    frame: &RgbImage,
    carry: Option<Carried>,
    device: Device,
    progress: &mut Progress,
    sink: &mut dyn Sink<Progress>,
) -> Result<RgbImage, Error> {
    match (stylizer, &spec.method) {
        (Stylizer::Gatys { vgg, styles }, Method::Gatys(g)) => {
            let sub = RunSpec {
                size: frame.width().max(frame.height()),
                steps: spec.steps_of_frame(i),
                scales: Scales::Count(1),
                tile: None,
                ..g.clone()
            };
            let mut p = prepare(&sub, frame, styles, device)?;
            if let Some(c) = carry {
                // In luminance mode the run optimises the luminance alone.
                let target = match sub.preserve_colors {
                    ColorMode::Luminance => luminance(&c.warped)?,
                    _ => c.warped,
                };
                p.start = Some(target.shallow_clone());
                p.temporal = Some(Temporal {
                    target,
                    mask: c.mask,
                    weight: spec.temporal_weight,
                });
            }
            let mut each = Evals { progress, sink };
            let out = transfer::run(vgg, &sub, &p, &mut each)?;
            from_tensor(&out.image)
        }
        (Stylizer::Model { net, once }, Method::Model(m)) => {
            // A clip's frames share its masks (read again per frame: small).
            let masks = masks_for(m, frame.dimensions(), frame, device)?;
            let y = apply_image(m, net, frame, once, &masks, device)?;
            match carry {
                Some(c) => {
                    let t = to_tensor(&y, device)?;
                    from_tensor(&blend(&t, &c, spec.temporal_weight)?.f_to_device(Device::Cpu)?)
                }
                None => Ok(y),
            }
        }
        _ => Err(Error::Torch(
            "the stylizer is not of the run's method".into(),
        )),
    }
}

/// A Gatys frame's evaluations, passed on as the video's progress.
struct Evals<'a, 'b> {
    progress: &'a mut Progress,
    sink: &'a mut (dyn Sink<Progress> + 'b),
}

impl Sink<Event> for Evals<'_, '_> {
    fn progress(&mut self, e: &Event) -> Result<Flow, Error> {
        match e {
            Event::Eval(p) => {
                self.progress.eval = p.eval;
                self.progress.loss = Some(p.losses.total);
                self.sink.progress(self.progress)
            }
            Event::Rollback(_) => Ok(Flow::Continue),
        }
    }
}

/// Encodes the frames in `dir` into the video `out` at the clip's rate,
/// with its audio (see [`crate::engine::video::encode`]).
pub fn encode(
    spec: &Spec,
    clip: &Clip,
    dir: &Path,
    out: &Path,
    overwrite: bool,
) -> Result<(), Error> {
    let audio = match clip {
        Clip::Video { path, info } if info.audio => Some(path.as_path()),
        _ => None,
    };
    crate::engine::video::encode(dir, clip.info().rate, audio, out, &spec.encoding, overwrite)
}
