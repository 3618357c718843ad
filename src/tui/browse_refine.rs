//! The browse preview refined in place: a short Gatys run (the engine's
//! transfer loop with `[run]`'s weights) at a low resolution, started from the
//! model's preview or from the photo, whichever has the lower loss. It shows
//! an image every few iterations and stops the moment the UI asks for
//! something else, or a worker of this host starts on the same device.

use std::path::{Path, PathBuf};

use tch::Tensor;

use super::browse::BrowseKey;
use crate::engine::gatys::pyramid::Scales;
use crate::engine::gatys::spec::{Init, RunSpec, StyleRef};
use crate::engine::gatys::transfer::{self, Event, Flow, Sink};
use crate::engine::infra::error::Result as EngineResult;
use crate::engine::infra::image_io::{from_tensor, load_rgb, save_png, to_tensor};
use crate::engine::nets::color::ColorMode;
use crate::engine::nets::vgg::Vgg19;
use crate::engine::nets::weights::Weights;

/// What the refinement runs: `[run]` with the device's refine size and steps.
#[derive(Clone, Debug)]
pub struct Refine {
    pub spec: RunSpec,
    /// The VGG19 weights file.
    pub weights: PathBuf,
}

impl Refine {
    /// `run` (the config's `[run]`, content and styles unset) at `size` px
    /// for `steps` iterations, single-scale and untiled: a preview never
    /// needs more. In full colour and without masks, as the model's preview
    /// it starts from.
    pub fn new(run: RunSpec, size: u32, steps: usize, weights: PathBuf) -> Self {
        Self {
            spec: RunSpec {
                size,
                steps,
                scales: Scales::Count(1),
                tile: None,
                init: Init::Content,
                preserve_colors: ColorMode::None,
                style_masks: Vec::new(),
                content_mask: None,
                ..run
            },
            weights,
        }
    }

    /// Every how many evaluations an image is shown: about six per run, and
    /// at least every 20 so a long one shows it moving.
    fn every(&self) -> usize {
        (self.spec.eval_budget() / 6).clamp(5, 20)
    }
}

/// How a refinement ended.
pub(super) enum Ended {
    /// Finished: the refined preview.
    Done(PathBuf),
    /// Stopped before its end; the last image it showed, if any.
    Stopped(Option<PathBuf>),
}

/// The refinement and the network it loads at its first use.
pub(super) struct Refiner {
    refine: Refine,
    device: tch::Device,
    vgg: Option<std::result::Result<Vgg19, String>>,
}

impl Refiner {
    pub(super) fn new(refine: Refine, device: tch::Device) -> Self {
        Self {
            refine,
            device,
            vgg: None,
        }
    }

    /// Where the finished refinement of the pair stamped `stamp` is kept:
    /// named also by the whole spec, so changed `[run]` weights or refine
    /// keys never show an old refinement.
    pub(super) fn done_path(&self, out_dir: &Path, stamp: u64) -> PathBuf {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&format!("{:?}", self.refine.spec), &mut h);
        let spec = std::hash::Hasher::finish(&h);
        out_dir.join(format!("{stamp:016x}-refined-{spec:016x}.png"))
    }

    /// Refines `key` from the model's preview `first`. `shown(step, of,
    /// path)` is told of each image written; `stop()` is asked after every
    /// evaluation.
    pub(super) fn run(
        &mut self,
        key: &BrowseKey,
        first: &Path,
        stamp: u64,
        out_dir: &Path,
        shown: &mut dyn FnMut(usize, usize, &Path) -> Flow,
        stop: &dyn Fn() -> bool,
    ) -> std::result::Result<Ended, String> {
        let out = self.done_path(out_dir, stamp);
        let every = self.refine.every();
        let (weights, device) = (&self.refine.weights, self.device);
        let vgg = self
            .vgg
            .get_or_insert_with(|| {
                let w = Weights::load(weights).map_err(|e| e.to_string())?;
                Vgg19::new(&w, self.refine.spec.pooling, device).map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(Clone::clone)?;
        let spec = RunSpec {
            content: key.content.clone(),
            styles: vec![StyleRef {
                path: key.style.clone(),
                weight: 1.0,
            }],
            ..self.refine.spec.clone()
        };
        let refining = out_dir.join(format!("{stamp:016x}-refining.png"));
        let mut last = None;
        let result = refine(
            vgg,
            &spec,
            first,
            device,
            &mut RefineSink {
                every,
                budget: spec.eval_budget(),
                stop,
                shown: &mut |step, of, img: &Tensor| {
                    save_png(&refining, &from_tensor(img)?, &[], true)?;
                    last = Some(refining.clone());
                    Ok(shown(step, of, &refining))
                },
            },
        );
        match result {
            Ok(img) => {
                save_png(
                    &out,
                    &from_tensor(&img).map_err(|e| e.to_string())?,
                    &[],
                    true,
                )
                .map_err(|e| e.to_string())?;
                Ok(Ended::Done(out))
            }
            Err(crate::engine::Error::Cancelled) => Ok(Ended::Stopped(last)),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The Gatys run of `spec` from the model's preview `first` or the photo,
/// whichever has the lower loss; its best image.
fn refine(
    vgg: &Vgg19,
    spec: &RunSpec,
    first: &Path,
    device: tch::Device,
    sink: &mut RefineSink<'_>,
) -> EngineResult<Tensor> {
    let content = load_rgb(&spec.content, spec.pixel_limit)?;
    let style = load_rgb(&spec.styles[0].path, spec.pixel_limit)?;
    let mut prepared = transfer::prepare(spec, &content, &[style], device)?;
    let (_, _, h, w) = prepared.content.size4()?;
    let model = load_rgb(first, spec.pixel_limit)?;
    let model = image::imageops::resize(
        &model,
        w as u32,
        h as u32,
        image::imageops::FilterType::Triangle,
    );
    let photo = transfer::losses_at_start(vgg, spec, &prepared)?;
    prepared.start = Some(to_tensor(&model, device)?);
    let from_model = transfer::losses_at_start(vgg, spec, &prepared)?;
    if photo.total < from_model.total {
        prepared.start = None;
    }
    tracing::debug!(
        "browse refine of {} starts from the {} (loss {:.3e} against {:.3e})",
        spec.styles[0].path.display(),
        if prepared.start.is_some() {
            "model's preview"
        } else {
            "photo"
        },
        photo.total.min(from_model.total),
        photo.total.max(from_model.total),
    );
    if (sink.stop)() {
        return Err(crate::engine::Error::Cancelled);
    }
    Ok(transfer::run(vgg, spec, &prepared, sink)?.image)
}

/// Shows an image every `every` evaluations and stops when `stop()` says.
struct RefineSink<'a> {
    every: usize,
    budget: usize,
    stop: &'a dyn Fn() -> bool,
    shown: &'a mut dyn FnMut(usize, usize, &Tensor) -> EngineResult<Flow>,
}

impl Sink<Event> for RefineSink<'_> {
    fn progress(&mut self, _: &Event) -> EngineResult<Flow> {
        Ok(match (self.stop)() {
            true => Flow::Stop,
            false => Flow::Continue,
        })
    }

    fn preview_every(&self) -> usize {
        self.every
    }

    fn preview(&mut self, step: usize, image: &Tensor) -> EngineResult<Flow> {
        (self.shown)(step, self.budget, image)
    }
}
