//! The Gatys et al. optimisation loop: content loss on feature maps, style loss
//! on Gram matrices, total variation, minimised over the image pixels with
//! L-BFGS or Adam, the image kept in [0, 1].
//!
//! Progress goes to a [`Sink`] after every evaluation; the sink can stop the
//! run (the loop then returns [`Error::Cancelled`] and nothing is written) or
//! end it with an error.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::{Duration, Instant};

use image::RgbImage;
use tch::{Device, Kind, Tensor};

use crate::engine::gatys::guides::{coverage, layer_guide, load_masks, regions};
use crate::engine::gatys::mrf::{mrf_loss, mrf_target, MrfTarget};
use crate::engine::gatys::pyramid::{split_steps, Scales};
use crate::engine::gatys::spec::{Init, LayerWeight, OptimizerKind, RunSpec};
use crate::engine::gatys::tiling;
use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::image_io::{resize_longer_side, to_tensor};
use crate::engine::infra::mask::Masks;
use crate::engine::nets::color::{luminance, match_color, with_chroma_of, ColorMode};
use crate::engine::nets::losses::{content_loss, gram, gram_term, guided, total_variation};
use crate::engine::nets::vgg::{Layer, Vgg19};
use crate::engine::optim::{
    minimize, AdamConfig, GuardConfig, GuardEvent, LbfgsConfig, Method, Plateau, Rollback, Status,
    StopReason,
};

/// The weighted loss terms of one evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Losses {
    pub style: f64,
    pub content: f64,
    pub tv: f64,
    pub total: f64,
}

/// What the sink is told after each evaluation.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Evaluations done so far (1-based).
    pub eval: usize,
    /// Evaluations the run may use at most.
    pub budget: usize,
    pub losses: Losses,
    /// Lowest total loss so far and the evaluation that reached it.
    pub best_total: f64,
    pub best_eval: usize,
    /// Rollbacks to the best iterate so far.
    pub rollbacks: usize,
    pub elapsed: Duration,
    /// Which scale of a coarse-to-fine run this evaluation belongs to (0 is the
    /// coarsest) and how many there are; losses compare only within a scale.
    pub scale: usize,
    pub scales: usize,
}

pub use crate::engine::infra::flow::Flow;
pub use crate::engine::infra::sink::Sink;

/// What a transfer reports to its [`Sink`]: each evaluation, and each
/// divergence caught and rolled back to the best iterate (evaluations counted
/// over the whole run, as in [`Progress`]).
#[derive(Clone, Debug)]
pub enum Event {
    Eval(Progress),
    Rollback(Rollback),
}

/// The sink of a transfer (or a texture synthesis, which is one).
pub type TransferSink<'a> = dyn Sink<Event> + 'a;

/// A closure over each evaluation is a sink that ignores the rest.
impl<F: FnMut(&Progress) -> Flow> Sink<Event> for F {
    fn progress(&mut self, e: &Event) -> Result<Flow> {
        Ok(match e {
            Event::Eval(p) => self(p),
            Event::Rollback(_) => Flow::Continue,
        })
    }
}

/// The result of a finished run.
pub struct Outcome {
    /// The best image the run reached, `[1, 3, H, W]` in [0, 1], on the CPU.
    pub image: Tensor,
    pub evals: usize,
    /// Losses at the last evaluation and at the best one (the image's).
    pub last: Losses,
    pub best: Losses,
    pub best_eval: usize,
    pub rollbacks: usize,
    /// Why the run ended.
    pub stop: StopReason,
    pub elapsed: Duration,
}

/// The images of a run, prepared at the run's size.
pub struct Prepared {
    /// The content the run sees (its luminance with `preserve_colors = luminance`).
    pub content: Tensor,
    /// The content in colour, for putting its chroma back.
    pub content_color: Tensor,
    /// One per `spec.styles`, in the same order.
    pub styles: Vec<Tensor>,
    /// Where to start instead of `spec.init` (e.g. a snapshot when resuming);
    /// must have the content's shape.
    pub start: Option<Tensor>,
    /// An extra term pulling the image towards a target (video: the previous
    /// frame's output warped onto this one); counted in the total.
    pub temporal: Option<Temporal>,
    /// The spec's masks at the content's size (none: the style acts everywhere).
    pub masks: Masks,
}

/// `weight · mean(mask · (x − target)²)` in 0–255 units (see
/// [`crate::engine::video::temporal::loss`]); `target` has the content's
/// shape, `mask` is `1×1×H×W`.
pub struct Temporal {
    pub target: Tensor,
    pub mask: Tensor,
    pub weight: f64,
}

/// Resizes the content so its longer side is `spec.size` and each style to
/// `spec.style_size()` (the output's longer side times the style scale), and checks all are large enough for the deepest layer.
/// `styles` are the decoded images of `spec.styles`, in order.
pub fn prepare(
    spec: &RunSpec,
    content: &RgbImage,
    styles: &[RgbImage],
    device: Device,
) -> Result<Prepared> {
    if styles.len() != spec.styles.len() {
        return Err(Error::invalid(
            "styles",
            format!(
                "{} images given for {} styles in the spec",
                styles.len(),
                spec.styles.len()
            ),
        ));
    }
    let min = spec.deepest_stride();
    let c = resize_longer_side(content, spec.size);
    let ss: Vec<RgbImage> = styles
        .iter()
        .map(|s| resize_longer_side(s, spec.style_size()))
        .collect();
    for (what, img) in std::iter::once(("content", &c)).chain(ss.iter().map(|s| ("style", s))) {
        if img.width() < min || img.height() < min {
            return Err(Error::invalid(
                "size",
                format!(
                    "the {what} image becomes {}x{} at size {} (style scale {}), too narrow for the deepest layer (needs {min} px per side); raise --size",
                    img.width(),
                    img.height(),
                    spec.size,
                    spec.style_scale
                ),
            ));
        }
    }
    let masks = if spec.masked() {
        load_masks(spec, content, c.dimensions(), device)?
    } else {
        Masks::default()
    };
    let content = to_tensor(&c, device)?;
    let mut styles: Vec<Tensor> = ss
        .iter()
        .map(|s| to_tensor(s, device))
        .collect::<Result<_>>()?;
    let content_color = content.shallow_clone();
    let content = match spec.preserve_colors {
        ColorMode::None => content,
        ColorMode::Luminance => {
            styles = styles.iter().map(luminance).collect::<Result<_>>()?;
            luminance(&content)?
        }
        ColorMode::Histogram => {
            styles = styles
                .iter()
                .map(|s| Ok(match_color(s, &content)?.f_clamp(0.0, 1.0)?))
                .collect::<Result<_>>()?;
            content
        }
    };
    Ok(Prepared {
        content,
        content_color,
        styles,
        start: None,
        temporal: None,
        masks,
    })
}

/// Texture synthesis (Gatys, Ecker & Bethge 2015) runs as a transfer whose
/// "content" is this flat grey canvas of `width`×`height`: it only gives the
/// output its size, since [`texture_spec`] sets the content weight to 0 and
/// starts from noise.
pub fn texture_canvas(width: u32, height: u32) -> RgbImage {
    RgbImage::from_pixel(width, height, image::Rgb([128, 128, 128]))
}

/// `spec` turned into a texture synthesis: style loss only, from noise.
pub fn texture_spec(spec: RunSpec) -> RunSpec {
    RunSpec {
        content_weight: 0.0,
        content_layers: Vec::new(),
        init: Init::Noise,
        ..spec
    }
}

/// What the style images ask of every evaluation: blended Grams (and each
/// style's own when masks give each its region) and MRF patches. A tiled run
/// computes them once for all its tiles.
struct StyleTargets {
    style: Vec<(Layer, f64, Tensor)>,
    /// Per style, in order, when the run has style masks.
    own: Vec<Vec<(Layer, f64, Tensor)>>,
    mrf: Vec<(Layer, f64, MrfTarget)>,
}

/// One Gram term of the objective: the output's features at `layer`, weighted
/// by `guide` when it has one, against `target`.
struct GramTarget {
    layer: Layer,
    weight: f64,
    target: Tensor,
    guide: Option<Tensor>,
}

/// Targets computed once per run (or tile): content feature maps and the
/// Gram terms with their guides.
struct Targets<'a> {
    content: Vec<(Layer, f64, Tensor)>,
    grams: Vec<GramTarget>,
    styles: &'a StyleTargets,
    taps: Vec<Layer>,
}

fn take(m: &HashMap<Layer, Tensor>, l: Layer) -> Result<Tensor> {
    m.get(&l)
        .ok_or_else(|| Error::Torch(format!("no activation at {l}")))
        .and_then(|t| Ok(t.f_detach()?))
}

/// The content targets of `p` beside `styles`, and the layers to tap.
fn targets<'a>(
    vgg: &Vgg19,
    spec: &RunSpec,
    p: &Prepared,
    styles: &'a StyleTargets,
) -> Result<Targets<'a>> {
    tch::no_grad(|| {
        let c_layers: Vec<Layer> = spec.content_layers.iter().map(|l| l.layer).collect();
        let cf = vgg.features(&p.content, &c_layers, spec.padding)?;
        let mut content = Vec::new();
        if spec.content_weight > 0.0 {
            for lw in &spec.content_layers {
                content.push((lw.layer, lw.weight, take(&cf, lw.layer)?));
            }
        }
        let grams = gram_targets(spec, p, styles)?;
        let mut taps: Vec<Layer> = content
            .iter()
            .map(|(l, _, _)| *l)
            .chain(grams.iter().map(|g| g.layer))
            .chain(styles.mrf.iter().map(|(l, _, _)| *l))
            .collect();
        taps.sort();
        taps.dedup();
        Ok(Targets {
            content,
            grams,
            styles,
            taps,
        })
    })
}

/// The Gram terms of `p`'s regions (see [`regions`]): each region's
/// style (or the blend) at each style layer, guided by the region's mask
/// brought to the layer and weighted by the share of the image it covers.
/// A region that does not reach a layer (or this tile) has no term there.
fn gram_targets(spec: &RunSpec, p: &Prepared, styles: &StyleTargets) -> Result<Vec<GramTarget>> {
    let blend = spec.style_blend();
    let n = blend.len() as f64;
    let mut out = Vec::new();
    for region in regions(&p.masks)? {
        let (targets, strength) = match region.style {
            // A style's weight scales its strength in its region (equal weights: full strength).
            Some(i) => (&styles.own[i], blend[i] * n),
            None => (&styles.style, 1.0),
        };
        let share = coverage(region.mask.as_ref())?;
        if strength == 0.0 || share == 0.0 {
            continue;
        }
        for (layer, weight, target) in targets {
            let guide = match &region.mask {
                Some(m) => match layer_guide(m, *layer, spec.mask_mode)? {
                    Some(g) => Some(g),
                    None => continue,
                },
                None => None,
            };
            out.push(GramTarget {
                layer: *layer,
                weight: weight * strength * share,
                target: target.shallow_clone(),
                guide,
            });
        }
    }
    Ok(out)
}

fn style_targets(vgg: &Vgg19, spec: &RunSpec, p: &Prepared) -> Result<StyleTargets> {
    tch::no_grad(|| {
        let gram_layers: &[LayerWeight] = if spec.style_loss.gram() {
            &spec.style_layers
        } else {
            &[]
        };
        let mrf_layers: &[LayerWeight] = if spec.style_loss.mrf() {
            &spec.mrf_layers
        } else {
            &[]
        };
        let s_layers: Vec<Layer> = gram_layers
            .iter()
            .chain(mrf_layers)
            .map(|l| l.layer)
            .collect();
        // The target Gram of each layer is the blend of the styles' Grams with
        // the normalised weights (Gatys et al. 2016, section 3.3 / neural-style).
        // MRF patches of all the weighted styles are pooled (the blend weights
        // do not apply to a nearest-neighbour match).
        let mut blended: Vec<Option<Tensor>> = gram_layers.iter().map(|_| None).collect();
        let mut own = Vec::new();
        let mut mrf_feats: Vec<Vec<Tensor>> = mrf_layers.iter().map(|_| Vec::new()).collect();
        for (img, w) in p.styles.iter().zip(spec.style_blend()) {
            if w == 0.0 {
                // Keeps `own` indexed by style; a weight of 0 gives its region no style.
                own.push(Vec::new());
                continue;
            }
            let sf = vgg.features(img, &s_layers, spec.padding)?;
            for (fs, lw) in mrf_feats.iter_mut().zip(mrf_layers) {
                fs.push(take(&sf, lw.layer)?);
            }
            let grams = gram_layers
                .iter()
                .map(|lw| Ok((lw.layer, lw.weight, gram(&take(&sf, lw.layer)?)?)))
                .collect::<Result<Vec<_>>>()?;
            for (slot, (_, _, g)) in blended.iter_mut().zip(&grams) {
                let g = g.f_mul_scalar(w)?;
                *slot = Some(match slot.take() {
                    Some(acc) => acc.f_add(&g)?,
                    None => g,
                });
            }
            if spec.per_style_masks() {
                own.push(grams);
            }
        }
        let mut style = Vec::new();
        for (slot, lw) in blended.into_iter().zip(gram_layers) {
            let g = slot.ok_or_else(|| Error::invalid("style blend weights", "all are 0"))?;
            style.push((lw.layer, lw.weight, g));
        }
        let mut mrf = Vec::new();
        for (fs, lw) in mrf_feats.iter().zip(mrf_layers) {
            mrf.push((lw.layer, lw.weight, mrf_target(fs)?));
        }
        Ok(StyleTargets { style, own, mrf })
    })
}

/// The style with the largest blend weight (the first of equals).
fn main_style<'a>(spec: &RunSpec, p: &'a Prepared) -> Result<&'a Tensor> {
    let mut best = 0;
    for (i, s) in spec.styles.iter().enumerate() {
        if s.weight > spec.styles[best].weight {
            best = i;
        }
    }
    p.styles
        .get(best)
        .ok_or_else(|| Error::invalid("styles", "none given"))
}

fn initial_image(spec: &RunSpec, p: &Prepared) -> Result<Tensor> {
    if let Some(start) = &p.start {
        if start.size() != p.content.size() {
            return Err(Error::invalid(
                "start image",
                format!("shape {:?}, expected {:?}", start.size(), p.content.size()),
            ));
        }
        return Ok(start.f_to_device(p.content.device())?.f_contiguous()?);
    }
    let x = match spec.init {
        Init::Content => p.content.f_detach_copy()?,
        Init::Style => {
            let (_, _, h, w) = p.content.size4()?;
            resize(main_style(spec, p)?, h, w)?.f_clamp(0.0, 1.0)?
        }
        Init::Noise => {
            // Near the ImageNet mean colour, as neural-style's randn*0.001 in Caffe units.
            let mean = Tensor::f_from_slice(&[0.485f32, 0.458, 0.408])?
                .f_view([1, 3, 1, 1])?
                .f_to_device(p.content.device())?;
            Tensor::f_randn(p.content.size(), (Kind::Float, p.content.device()))?
                .f_mul_scalar(0.05)?
                .f_add(&mean)?
                .f_clamp(0.0, 1.0)?
        }
    };
    Ok(x.f_contiguous()?)
}

/// Passes the guard's events on to the user's sink, adding the loss terms,
/// timing and snapshots, and counting over the whole run.
struct Bridge<'a> {
    sink: &'a mut dyn Sink<Event>,
    current: &'a Cell<Losses>,
    /// The point last evaluated (kept only when snapshots are wanted).
    point: &'a RefCell<Option<Tensor>>,
    finish: &'a dyn Fn(&Tensor) -> Result<Tensor>,
    snapshot_every: usize,
    best: Losses,
    offset: Offset,
    start: Instant,
}

impl Sink<GuardEvent> for Bridge<'_> {
    fn progress(&mut self, e: &GuardEvent) -> Result<Flow> {
        match e {
            GuardEvent::Eval(s) => self.eval(s),
            // The guard counts within this scale; the sink counts over the
            // run, as it does for evaluations.
            GuardEvent::Rollback(r) => self.sink.progress(&Event::Rollback(Rollback {
                eval: self.offset.evals + r.eval,
                to_eval: self.offset.evals + r.to_eval,
                ..r.clone()
            })),
        }
    }
}

impl Bridge<'_> {
    fn eval(&mut self, s: &Status) -> Result<Flow> {
        let losses = self.current.get();
        if s.best_eval == s.eval {
            self.best = losses;
        }
        let eval = self.offset.evals + s.eval;
        if self.snapshot_every > 0 && eval % self.snapshot_every == 0 {
            let img = match self.point.borrow().as_ref() {
                Some(x) => tch::no_grad(|| (self.finish)(x))?,
                None => return Err(Error::Torch("no iterate to snapshot".into())),
            };
            if self.sink.preview(eval, &img)? == Flow::Stop {
                return Ok(Flow::Stop);
            }
        }
        self.sink.progress(&Event::Eval(Progress {
            eval,
            budget: self.offset.budget,
            losses,
            best_total: s.best_loss,
            best_eval: self.offset.evals + s.best_eval,
            rollbacks: s.rollbacks,
            elapsed: self.start.elapsed(),
            scale: self.offset.scale,
            scales: self.offset.scales,
        }))
    }
}

/// An iterate as the output image: clamped, the content's chroma put back in
/// luminance mode, the photo kept outside a content mask, on the CPU.
fn finish_image(spec: &RunSpec, prepared: &Prepared, x: &Tensor) -> Result<Tensor> {
    let img = x.f_detach()?.f_clamp(0.0, 1.0)?;
    let img = match spec.preserve_colors {
        ColorMode::Luminance => with_chroma_of(&img, &prepared.content_color)?,
        _ => img,
    };
    let img = prepared.masks.keep_photo(&img, &prepared.content_color)?;
    Ok(img.f_to_device(Device::Cpu)?)
}

/// Runs the optimisation described by `spec` on prepared images. The image
/// returned is the best iterate (lowest total loss) the run reached.
pub fn run(
    vgg: &Vgg19,
    spec: &RunSpec,
    prepared: &Prepared,
    sink: &mut TransferSink<'_>,
) -> Result<Outcome> {
    spec.validate()?;
    let budget = spec.eval_budget();
    let out = run_scale(
        vgg,
        spec,
        prepared,
        None,
        None,
        sink,
        Offset {
            evals: 0,
            budget,
            scale: 0,
            scales: 1,
        },
    )?
    .0;
    sink.finish()?;
    Ok(out)
}

/// The losses of `prepared.start` (the content if none) under `spec`: one
/// evaluation, no step (what `atelier score` prints, and how the browse
/// preview picks where to start).
pub fn losses_at_start(vgg: &Vgg19, spec: &RunSpec, prepared: &Prepared) -> Result<Losses> {
    let mut first: Option<Losses> = None;
    let mut sink = |p: &Progress| {
        first.get_or_insert(p.losses);
        Flow::Stop
    };
    // A stop may be reported as an error; the losses of that evaluation are
    // what is wanted either way.
    let result = run(vgg, spec, prepared, &mut sink);
    match (first, result) {
        (Some(l), _) => Ok(l),
        (None, Err(e)) => Err(e),
        (None, Ok(_)) => Err(Error::Torch("the loss was never evaluated".into())),
    }
}

/// Where a scale's evaluations sit in the whole multi-scale run.
#[derive(Clone, Copy)]
struct Offset {
    /// Evaluations done by the earlier scales.
    evals: usize,
    /// Evaluations the whole run may use.
    budget: usize,
    /// This scale's index and the number of scales.
    scale: usize,
    scales: usize,
}

/// Runs the style transfer: single-scale, or coarse to fine over the
/// pyramid of `spec.scales` (see [`crate::engine::gatys::pyramid`]). `styles` are the decoded
/// images of `spec.styles`. The image returned is the best iterate of the finest
/// scale; evaluations and rollbacks count over all scales.
pub fn stylize(
    vgg: &Vgg19,
    spec: &RunSpec,
    content: &RgbImage,
    styles: &[RgbImage],
    device: Device,
    sink: &mut TransferSink<'_>,
) -> Result<Outcome> {
    spec.validate()?;
    let out = match spec.tile {
        Some(tile) => stylize_tiled(vgg, spec, content, styles, device, sink, tile)?,
        None => stylize_scales(vgg, spec, content, styles, device, sink)?,
    };
    sink.finish()?;
    Ok(out)
}

/// [`stylize`] without tiles: one scale or coarse to fine.
fn stylize_scales(
    vgg: &Vgg19,
    spec: &RunSpec,
    content: &RgbImage,
    styles: &[RgbImage],
    device: Device,
    sink: &mut TransferSink<'_>,
) -> Result<Outcome> {
    let sizes = spec.pyramid()?;
    let steps = split_steps(spec.steps, &sizes);
    let budget = spec.eval_budget();
    let mut prev: Option<Tensor> = None;
    let (mut evals, mut rollbacks) = (0, 0);
    // Optimisation time summed over the scales (as a single run's `elapsed`,
    // without preparing images and targets).
    let mut elapsed = Duration::ZERO;
    let mut last = None;
    for (scale, (&size, &steps)) in sizes.iter().zip(&steps).enumerate() {
        let sub = RunSpec {
            size,
            steps,
            scales: Scales::Count(1),
            ..spec.clone()
        };
        let p = prepare(&sub, content, styles, device)?;
        let init = match prev.take() {
            Some(x) => Some(tch::no_grad(|| {
                upscale_with_detail(&x, &initial_image(&sub, &p)?)
            })?),
            None => None,
        };
        let offset = Offset {
            evals,
            budget,
            scale,
            scales: sizes.len(),
        };
        let (out, raw) = run_scale(vgg, &sub, &p, None, init, sink, offset)?;
        evals += out.evals;
        rollbacks += out.rollbacks;
        elapsed += out.elapsed;
        prev = Some(raw);
        last = Some(out);
    }
    let out = last.ok_or_else(|| Error::invalid("scales", "none"))?;
    Ok(Outcome {
        evals,
        rollbacks,
        best_eval: evals - out.evals + out.best_eval,
        elapsed,
        ..out
    })
}

/// The previous scale's result `coarse` upscaled to this scale, plus the detail
/// that upscaling cannot give: what this scale's own initial image `own`
/// (content, noise, …) has above the coarse scale's resolution.
///
/// Why: a bilinear upscale is blurred, which the shallow style layers (relu1_1,
/// relu2_1) score as far from the style: the finest scale then spends its first
/// evaluations putting back the texture a single-scale run starts with.
fn upscale_with_detail(coarse: &Tensor, own: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = own.size4()?;
    let (_, _, ch, cw) = coarse.size4()?;
    let blurred = resize(&resize(own, ch, cw)?, h, w)?;
    Ok(resize(coarse, h, w)?
        .f_add(&own.f_sub(&blurred)?)?
        .f_clamp(0.0, 1.0)?
        .f_contiguous()?)
}

/// `x` (`[1, 3, H, W]`) resized bilinearly to `h`×`w`.
fn resize(x: &Tensor, h: i64, w: i64) -> Result<Tensor> {
    Ok(x.f_upsample_bilinear2d([h, w], false, None, None)?)
}

/// One scale: the optimisation of `spec` on `prepared`, from `init` (or the
/// spec's init). Returns the outcome and the raw best iterate (on the device,
/// before colours are restored) for the next scale to start from.
/// One optimisation at one size; `styles` are the style targets when the
/// caller has them already (a tiled run), else they are computed here.
fn run_scale(
    vgg: &Vgg19,
    spec: &RunSpec,
    prepared: &Prepared,
    styles: Option<&StyleTargets>,
    init: Option<Tensor>,
    sink: &mut TransferSink<'_>,
    offset: Offset,
) -> Result<(Outcome, Tensor)> {
    tch::manual_seed(spec.seed as i64);
    let own;
    let styles = match styles {
        Some(s) => s,
        None => {
            own = style_targets(vgg, spec, prepared)?;
            &own
        }
    };
    let t = targets(vgg, spec, prepared, styles)?;
    let x = match init {
        Some(x) => x,
        None => initial_image(spec, prepared)?,
    };
    let start = Instant::now();
    let current = Cell::new(Losses::default());
    let tv_scale = spec.tv_weight * 255.0; // TV is measured in Caffe units (0..255).

    let snapshot_every = sink.preview_every();
    let point = RefCell::new(None);
    let mut objective = |x: &Tensor| -> Result<(f64, Tensor)> {
        crate::engine::optim::in_place(|| x.shallow_clone().f_clamp_(0.0, 1.0))?;
        if snapshot_every > 0 {
            // The guard reports an evaluation before the optimiser moves x.
            *point.borrow_mut() = Some(x.shallow_clone());
        }
        let xg = x.f_detach()?.f_requires_grad_(true)?;
        let feats = vgg.features(&xg, &t.taps, spec.padding)?;
        let zero = || Tensor::f_zeros([], (Kind::Float, x.device()));
        let mut content = zero()?;
        for (l, w, target) in &t.content {
            content = content.f_add(&content_loss(&feats[l], target)?.f_mul_scalar(*w)?)?;
        }
        // Gram terms: values kept apart from the surrogates that carry their
        // gradient (see `gram_term`).
        let mut style = zero()?;
        let mut gram_grads = zero()?;
        for g in &t.grams {
            let f = match &g.guide {
                Some(guide) => guided(&feats[&g.layer], guide)?,
                None => feats[&g.layer].shallow_clone(),
            };
            let (value, surrogate) = gram_term(&f, &g.target, g.weight * spec.style_weight)?;
            style = style.f_add(&value)?;
            gram_grads = gram_grads.f_add(&surrogate)?;
        }
        let mut mrf = zero()?;
        for (l, w, target) in &t.styles.mrf {
            mrf = mrf.f_add(&mrf_loss(&feats[l], target)?.f_mul_scalar(*w)?)?;
        }
        let content = content.f_mul_scalar(spec.content_weight)?;
        // The style term reported is Gram and MRF together.
        let mrf = mrf.f_mul_scalar(spec.mrf_weight)?;
        let style = style.f_add(&mrf.f_detach()?)?;
        let tv = if spec.tv_weight > 0.0 {
            total_variation(&xg)?.f_mul_scalar(tv_scale)?
        } else {
            zero()?
        };
        let temporal = match &prepared.temporal {
            Some(t) => crate::engine::video::temporal::loss(&xg, &t.target, &t.mask)?
                .f_mul_scalar(t.weight)?,
            None => zero()?,
        };
        let total = style
            .f_add(&content)?
            .f_add(&tv)?
            .f_add(&temporal.f_detach()?)?;
        content
            .f_add(&tv)?
            .f_add(&temporal)?
            .f_add(&mrf)?
            .f_add(&gram_grads)?
            .f_backward()?;
        let grad = xg.f_grad()?;
        // One device-to-host copy for all four numbers.
        let values = Tensor::f_stack(&[&style, &content, &tv, &total], 0)?
            .f_detach()?
            .f_to_kind(Kind::Double)?
            .f_to_device(Device::Cpu)?;
        let mut v = [0f64; 4];
        values.f_copy_data(&mut v, 4)?;
        current.set(Losses {
            style: v[0],
            content: v[1],
            tv: v[2],
            total: v[3],
        });
        Ok((v[3], grad))
    };

    let method = match spec.optimizer {
        OptimizerKind::Lbfgs => Method::Lbfgs(LbfgsConfig {
            lr: spec.learning_rate(),
            max_iter: spec.steps,
            max_eval: None,
            // As neural-style: run the full budget, no early tolerance stop.
            tolerance_grad: -1.0,
            tolerance_change: -1.0,
            history_size: spec.lbfgs_history,
            strong_wolfe: spec.line_search,
        }),
        OptimizerKind::Adam => Method::Adam {
            config: AdamConfig {
                lr: spec.learning_rate(),
                ..AdamConfig::default()
            },
            steps: spec.steps,
        },
    };
    let guard = GuardConfig {
        divergence_factor: spec.divergence_factor,
        max_rollbacks: spec.max_rollbacks,
        plateau: spec.stop_when_flat.map(|rel| Plateau {
            rel,
            window: spec.flat_window,
        }),
    };
    let finish = |x: &Tensor| finish_image(spec, prepared, x);
    let mut bridge = Bridge {
        sink,
        current: &current,
        point: &point,
        finish: &finish,
        snapshot_every,
        best: Losses::default(),
        offset,
        start,
    };
    let out = minimize(&x, method, &guard, &mut objective, &mut bridge)?;
    let image = tch::no_grad(|| finish_image(spec, prepared, &out.best))?;
    let outcome = Outcome {
        image,
        evals: out.evals,
        last: current.get(),
        best: bridge.best,
        best_eval: out.best_eval,
        rollbacks: out.rollbacks,
        stop: out.stop,
        elapsed: start.elapsed(),
    };
    Ok((outcome, out.best))
}

/// A tiled run (see [`crate::engine::gatys::tiling`]): [`tiling::PASSES`] passes, each over a
/// grid of `tile`-px tiles overlapping by a quarter tile and shifted by a third
/// of a tile from the last pass's; every tile of a pass gets an equal share of
/// the steps (at least one). Runs single-scale at `spec.size`.
fn stylize_tiled(
    vgg: &Vgg19,
    spec: &RunSpec,
    content: &RgbImage,
    styles: &[RgbImage],
    device: Device,
    sink: &mut TransferSink<'_>,
    tile: u32,
) -> Result<Outcome> {
    let whole = prepare(spec, content, styles, device)?;
    let (_, _, h, w) = whole.content.size4()?;
    let tile = i64::from(tile);
    let overlap = tile / 4;
    let grids: Vec<(Vec<i64>, Vec<i64>)> = (0..tiling::PASSES as i64)
        .map(|p| {
            let off = p * tile / 3;
            (
                tiling::starts(h, tile, overlap, off),
                tiling::starts(w, tile, overlap, off),
            )
        })
        .collect();
    let tiles: usize = grids.iter().map(|(ys, xs)| ys.len() * xs.len()).sum();
    let per_tile = (spec.steps / tiles).max(1);
    let sub = RunSpec {
        steps: per_tile,
        tile: None,
        scales: Scales::Count(1),
        ..spec.clone()
    };
    let budget = sub.eval_budget() * tiles;
    let x = initial_image(spec, &whole)?;
    // The style targets are the whole style image's (see `tiling`): once.
    let styles_t = style_targets(vgg, &sub, &whole)?;
    let (mut evals, mut rollbacks) = (0, 0);
    let mut elapsed = Duration::ZERO;
    let mut last = None;
    for (ys, xs) in &grids {
        for &y0 in ys {
            for &x0 in xs {
                let (th, tw) = (tile.min(h), tile.min(w));
                let crop = |t: &Tensor| -> Result<Tensor> {
                    Ok(t.f_narrow(2, y0, th)?.f_narrow(3, x0, tw)?.f_contiguous()?)
                };
                let p = Prepared {
                    content: crop(&whole.content)?,
                    content_color: crop(&whole.content_color)?,
                    styles: whole.styles.iter().map(|s| s.shallow_clone()).collect(),
                    start: None,
                    temporal: None,
                    masks: whole.masks.crop(y0, x0, th, tw)?,
                };
                // A copy: the optimiser must not write into the image under the feather.
                let init = tch::no_grad(|| Ok::<_, Error>(crop(&x)?.f_mul_scalar(1.0)?))?;
                let (out, raw) = run_scale(
                    vgg,
                    &sub,
                    &p,
                    Some(&styles_t),
                    Some(init),
                    sink,
                    Offset {
                        evals,
                        budget,
                        scale: 0,
                        scales: 1,
                    },
                )?;
                tiling::feather_into(&x, &raw, y0, x0, overlap)?;
                evals += out.evals;
                rollbacks += out.rollbacks;
                elapsed += out.elapsed;
                last = Some(out);
            }
        }
    }
    let out = last.ok_or_else(|| Error::invalid("tile", "no tiles"))?;
    let image = tch::no_grad(|| finish_image(spec, &whole, &x))?;
    Ok(Outcome {
        image,
        evals,
        rollbacks,
        // Tiles have their own losses; the last tile's are reported.
        best_eval: evals - out.evals + out.best_eval,
        elapsed,
        ..out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A coarse result that is just the start image scaled down comes back as
    /// that start image: the detail added is exactly what the downscale lost.
    #[test]
    fn upscaling_a_downscaled_start_gives_the_start_back() {
        tch::manual_seed(3);
        let own = Tensor::rand([1, 3, 40, 60], (Kind::Float, Device::Cpu));
        let coarse = resize(&own, 20, 30).unwrap();
        let up = upscale_with_detail(&coarse, &own).unwrap();
        assert_eq!(up.size(), own.size());
        let err = (&up - &own).abs().max().double_value(&[]);
        assert!(err < 1e-5, "{err}");
        // Plain bilinear upscaling loses that detail.
        let plain = resize(&coarse, 40, 60).unwrap();
        assert!((&plain - &own).abs().max().double_value(&[]) > 0.1);
    }
}
