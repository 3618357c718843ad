//! Training a TransformerNet for one style (Johnson et al. 2016, as
//! pytorch/examples trains it): perceptual losses through our VGG19, Adam,
//! random crops of a photo set; checkpoints that a resumed run continues from
//! on the same trajectory.
//!
//! A conditional (multi-style) network trains on `style` and `more_styles`,
//! one style drawn per batch from (seed, iteration), so a resumed run draws
//! the same ones. With `extend` it starts from that CIN model, appends rows
//! for the new styles to every γ, β table and trains those rows only: the
//! other parameters are frozen and the old rows' gradients zeroed, so the
//! model's old styles come out bit-identical.
//!
//! Taps: Johnson's VGG16 relu1_2, relu2_2, relu3_3, relu4_3 are the last ReLU
//! of blocks 1–4; their VGG19 counterparts are relu1_2, relu2_2, relu3_4 and
//! relu4_4 (style), content at relu2_2 as in pytorch/examples.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::RgbImage;
use serde::{Deserialize, Serialize};
use tch::{Kind, Reduction, Tensor};

use super::apply::forward_padded_mix;
use super::dataset::{Dataset, Rng};
use super::mix::StyleMix;
use super::model_file::parse as parse_model;
use super::model_file::{
    architecture_of, blank_info, blob, copy_into, named_tensors, write_atomic, Model, ModelInfo,
    StyleSource, FORMAT_VERSION,
};
use super::transformer::{Arch, Norm};
use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::flow::Flow;
use crate::engine::infra::image_io::{
    from_tensor, load_rgb, resize_longer_side, to_tensor, DEFAULT_PIXEL_LIMIT,
};
use crate::engine::infra::sink::Sink;
use crate::engine::nets::vgg::{Layer, Padding, Vgg19};
use crate::engine::nets::weights::sha256_file;

/// Style taps (VGG19 counterparts of Johnson's VGG16 taps).
pub const STYLE_TAPS: [&str; 4] = ["relu1_2", "relu2_2", "relu3_4", "relu4_4"];
/// Content tap (pytorch/examples).
pub const CONTENT_TAP: &str = "relu2_2";

/// Everything that determines a training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainSpec {
    pub style: PathBuf,
    pub dataset: PathBuf,
    /// Side of the square training crops.
    pub size: u32,
    /// Longer side the style image is resized to.
    pub style_size: u32,
    pub batch: usize,
    pub iterations: u64,
    pub content_weight: f64,
    pub style_weight: f64,
    pub tv_weight: f64,
    pub lr: f64,
    pub arch: Arch,
    pub seed: u64,
    pub checkpoint_every: u64,
    /// 0: no previews.
    pub preview_every: u64,
    /// The photo previews show (default: the dataset's first image).
    #[serde(default)]
    pub preview: Option<PathBuf>,
    /// Further styles of a multi-style (CIN) network, after `style`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_styles: Vec<PathBuf>,
    /// A CIN model file to extend with `style` (and `more_styles`): its
    /// styles are kept, only the new styles' γ, β train.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extend: Option<PathBuf>,
    /// Names of the new styles in the model (`--style NAME` at apply time),
    /// in order; a missing one is the image's stem.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub style_names: Vec<String>,
}

/// The checks every training loop's settings share: the crop `size` a
/// multiple of `multiple` (at least 16); batch, iterations and checkpoint
/// interval at least 1; each named weight a number ≥ 0; the learning rate > 0.
pub(crate) fn check_loop(
    (size, multiple): (u32, u32),
    counts: [u64; 3],
    weights: &[(&'static str, f64)],
    lr: f64,
) -> Result<()> {
    if size < 16 || size % multiple != 0 {
        return Err(Error::invalid(
            "size",
            format!("{size} (a multiple of {multiple}, at least 16)"),
        ));
    }
    if counts.contains(&0) {
        return Err(Error::invalid(
            "batch/iterations/checkpoint-every",
            "must be at least 1",
        ));
    }
    for &(name, v) in weights {
        if !(v.is_finite() && v >= 0.0) {
            return Err(Error::invalid(name, format!("{v} (a number ≥ 0)")));
        }
    }
    if !(lr.is_finite() && lr > 0.0) {
        return Err(Error::invalid("lr", format!("{lr} (a number > 0)")));
    }
    Ok(())
}

impl Default for TrainSpec {
    /// `atelier train`'s defaults, with no style yet and the dataset as the
    /// relative path `datasets/photos` (front ends resolve it).
    fn default() -> Self {
        Self {
            style: PathBuf::new(),
            dataset: PathBuf::from("datasets/photos"),
            size: 256,
            style_size: 256,
            batch: 4,
            iterations: 2000,
            content_weight: 1.0,
            // 0.5 drowned the photo at 128 px (no content after 600 batches);
            // 0.1 gave the bundled models (README, "Bundled models").
            style_weight: 0.1,
            tv_weight: 0.0,
            lr: 1e-3,
            arch: Arch::default(),
            seed: 1,
            checkpoint_every: 100,
            preview_every: 100,
            preview: None,
            more_styles: Vec::new(),
            extend: None,
            style_names: Vec::new(),
        }
    }
}

impl TrainSpec {
    /// The styles this run trains (the new ones when extending).
    pub fn new_styles(&self) -> Vec<PathBuf> {
        std::iter::once(self.style.clone())
            .chain(self.more_styles.iter().cloned())
            .collect()
    }

    pub fn validate(&self) -> Result<()> {
        self.arch.validate()?;
        let n = self.new_styles().len();
        match self.arch.norm {
            Norm::Conditional { styles } if self.extend.is_none() && styles != n => {
                return Err(Error::invalid(
                    "styles",
                    format!("a network of {styles} styles trained on {n}"),
                ));
            }
            Norm::Conditional { styles } if self.extend.is_some() && styles <= n => {
                return Err(Error::invalid(
                    "extend",
                    format!("a network of {styles} styles cannot keep any old ones and add {n}"),
                ));
            }
            Norm::Conditional { .. } => {}
            Norm::Inspiration { .. } if self.extend.is_some() => {
                return Err(Error::invalid(
                    "extend",
                    "an MSG-Net is not extended: it takes any style image at apply time",
                ));
            }
            Norm::Inspiration { styles } if styles != n => {
                return Err(Error::invalid(
                    "styles",
                    format!("an MSG-Net of {styles} styles trained on {n}"),
                ));
            }
            Norm::Inspiration { .. } => {}
            _ if n > 1 => {
                return Err(Error::invalid(
                    "styles",
                    "several styles need a multi-style (conditional instance norm) network",
                ));
            }
            _ if self.extend.is_some() => {
                return Err(Error::invalid(
                    "extend",
                    "only a multi-style (conditional instance norm) network is extended",
                ));
            }
            _ => {}
        }
        check_loop(
            (self.size, 4),
            [self.batch as u64, self.iterations, self.checkpoint_every],
            &[
                ("content-weight", self.content_weight),
                ("style-weight", self.style_weight),
                ("tv-weight", self.tv_weight),
            ],
            self.lr,
        )
    }
}

/// Reported after every iteration.
#[derive(Clone, Debug, Serialize)]
pub struct TrainProgress {
    /// Iterations done (1-based).
    pub iteration: u64,
    pub of: u64,
    /// content, style, tv and total, weighted.
    pub losses: BTreeMap<String, f64>,
    pub images_per_second: f64,
    /// Training time, resumed runs included.
    pub elapsed: Duration,
}

/// A finished run: the trained model (metadata filled in) and its record.
pub struct TrainOutcome {
    pub model: Model,
    pub iterations: u64,
    pub final_losses: BTreeMap<String, f64>,
    pub seconds: f64,
}

/// Where a run continues from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resume {
    pub checkpoint: PathBuf,
    pub iteration: u64,
}

/// What a training loop tells its [`Sink`] at iteration `p.iteration`: its
/// progress, then its preview when one is due (every `preview_every`) and
/// the sink did not ask to stop.
pub(crate) fn report(
    sink: &mut dyn Sink<TrainProgress>,
    p: &TrainProgress,
    preview_every: u64,
    preview: impl FnOnce() -> Result<RgbImage>,
) -> Result<Flow> {
    let flow = sink.progress(p)?;
    if flow == Flow::Stop || preview_every == 0 || p.iteration % preview_every != 0 {
        return Ok(flow);
    }
    let img = to_tensor(&preview()?, tch::Device::Cpu)?;
    sink.preview(p.iteration as usize, &img)
}

/// The end of iteration `it` of `of`: a checkpoint when one is due (every
/// `every`, at the last iteration, and on a stop, so the trained weights are
/// on disk to resume from), then `Error::Cancelled` if the sink asked to
/// stop. A stop asked at the checkpoint itself (the run was taken over or
/// cancelled) ends the loop there: no further checkpoint, no model.
pub(crate) fn end_iteration(
    sink: &mut dyn Sink<TrainProgress>,
    (it, of, every): (u64, u64, u64),
    flow: Flow,
    checkpoint: &Path,
    save: impl FnOnce() -> Result<()>,
) -> Result<()> {
    if it % every.max(1) == 0 || it >= of || flow == Flow::Stop {
        save()?;
        sink.checkpoint(it as usize, checkpoint)?.or_cancel()?;
    }
    flow.or_cancel()
}

/// Checkpoint metadata beside the tensors.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct CheckpointInfo {
    iteration: u64,
    spec: TrainSpec,
    seconds: f64,
    losses: BTreeMap<String, f64>,
}

/// Whether a run with settings `now` (of `iterations` in all) can continue
/// a checkpoint made with `then` at `iteration`: the same settings but for
/// the iteration count and the checkpoint and preview intervals, and not past
/// its end already. The refusal names each setting that differs. Shared by
/// every training loop (their specs serialise to objects).
pub(crate) fn check_resumable<T: Serialize>(
    path: &Path,
    (then, iteration): (&T, u64),
    (now, iterations): (&T, u64),
) -> Result<()> {
    const MAY_CHANGE: [&str; 3] = ["iterations", "checkpoint_every", "preview_every"];
    let object = |t: &T| match serde_json::to_value(t) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let (a, b) = (object(then), object(now));
    let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let show = |v: Option<&serde_json::Value>| v.map_or("none".to_string(), |v| v.to_string());
    let changed: Vec<String> = keys
        .into_iter()
        .filter(|k| !MAY_CHANGE.contains(&k.as_str()) && a.get(*k) != b.get(*k))
        .map(|k| format!("{k} {} then, {} now", show(a.get(k)), show(b.get(k))))
        .collect();
    if !changed.is_empty() {
        return Err(ck_err(
            path,
            format!(
                "made with other training settings ({}); pass the same ones, or start a new run",
                changed.join("; ")
            ),
        ));
    }
    if iteration > iterations {
        return Err(ck_err(
            path,
            format!(
                "at iteration {iteration}, past --iterations {iterations}: pass --iterations {iteration} or more"
            ),
        ));
    }
    Ok(())
}

/// Reads a checkpoint's iteration and checks that a run of `spec` can
/// continue it ([`check_resumable`]).
pub fn read_resume_for(path: &Path, spec: &TrainSpec) -> Result<Resume> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (info, _) = read_checkpoint(path, &bytes)?;
    check_resumable(path, (&info.spec, info.iteration), (spec, spec.iterations))?;
    Ok(Resume {
        checkpoint: path.to_path_buf(),
        iteration: info.iteration,
    })
}

/// Reads where a checkpoint stands (for `--resume` and the queue).
pub fn read_resume(path: &Path) -> Result<Resume> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let (info, _) = read_checkpoint(path, &bytes)?;
    Ok(Resume {
        checkpoint: path.to_path_buf(),
        iteration: info.iteration,
    })
}

fn ck_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Model {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn read_checkpoint(path: &Path, bytes: &[u8]) -> Result<(CheckpointInfo, Vec<(String, Tensor)>)> {
    use safetensors::tensor::SafeTensors;
    let st = SafeTensors::deserialize(bytes).map_err(|e| {
        ck_err(
            path,
            format!("not a readable checkpoint (corrupt or truncated: {e:?})"),
        )
    })?;
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| ck_err(path, format!("unreadable header: {e:?}")))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let arch = meta.get("architecture").map(String::as_str).unwrap_or("");
    if meta.get("format_version").map(String::as_str) != Some(&FORMAT_VERSION.to_string())
        || ![
            Norm::Instance,
            Norm::Conditional { styles: 1 },
            Norm::Inspiration { styles: 1 },
        ]
        .iter()
        .any(|&norm| arch == architecture_of(&Arch { norm, width: 1.0 }))
    {
        return Err(ck_err(
            path,
            "not a checkpoint of this atelier (version or architecture differs)",
        ));
    }
    let info: CheckpointInfo = meta
        .get("checkpoint")
        .ok_or_else(|| ck_err(path, "a model file, not a training checkpoint"))
        .and_then(|j| {
            serde_json::from_str(j).map_err(|e| ck_err(path, format!("bad metadata: {e}")))
        })?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        out.push((
            name,
            Tensor::f_from_data_size(view.data(), &shape, Kind::Float)?,
        ));
    }
    Ok((info, out))
}

/// Batched Gram matrices `F Fᵀ / (C·H·W)`, `[N, C, C]`.
pub fn gram_batch(f: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = f.size4()?;
    let m = f.f_reshape([n, c, h * w])?;
    Ok(m.f_bmm(&m.f_transpose(1, 2)?)?
        .f_div_scalar((c * h * w) as f64)?)
}

/// Adam (Kingma & Ba) with its state in the open, so checkpoints hold it.
struct Adam {
    params: Vec<(String, Tensor)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    lr: f64,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPS: f64 = 1e-8;

impl Adam {
    fn new(model: &Model, lr: f64) -> Result<Self> {
        let mut params: Vec<(String, Tensor)> = model
            .vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let m = params
            .iter()
            .map(|(_, p)| p.f_zeros_like())
            .collect::<Result<Vec<_>, _>>()?;
        let v = params
            .iter()
            .map(|(_, p)| p.f_zeros_like())
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { params, m, v, lr })
    }

    /// One step at step number `t` (1-based), then zeroes the gradients.
    fn step(&mut self, t: u64) -> Result<()> {
        let bc1 = 1.0 - BETA1.powf(t as f64);
        let bc2 = 1.0 - BETA2.powf(t as f64);
        tch::no_grad(|| -> Result<()> {
            for (i, (_, p)) in self.params.iter().enumerate() {
                let g = p.f_grad()?;
                if !g.defined() {
                    continue;
                }
                let _ = self.m[i]
                    .f_mul_scalar_(BETA1)?
                    .f_add_(&g.f_mul_scalar(1.0 - BETA1)?)?;
                let _ = self.v[i]
                    .f_mul_scalar_(BETA2)?
                    .f_add_(&g.f_square()?.f_mul_scalar(1.0 - BETA2)?)?;
                let denom = self.v[i].f_div_scalar(bc2)?.f_sqrt()?.f_add_scalar(EPS)?;
                let upd = self.m[i].f_div(&denom)?.f_mul_scalar(self.lr / bc1)?;
                let _ = p.shallow_clone().f_sub_(&upd)?;
                let _ = g.shallow_clone().f_zero_()?;
            }
            Ok(())
        })
    }
}

/// Trains per `spec`, writing checkpoints to `checkpoint`; continues from
/// `resume` when given. A stop from the sink writes a checkpoint (none when
/// asked at a checkpoint) and returns `Error::Cancelled`.
pub fn train(
    spec: &TrainSpec,
    vgg: &Vgg19,
    checkpoint: &Path,
    resume: Option<&Resume>,
    sink: &mut dyn Sink<TrainProgress>,
) -> Result<TrainOutcome> {
    spec.validate()?;
    let device = vgg.device();
    let dataset = Dataset::scan(&spec.dataset)?;
    let new_styles = spec.new_styles();
    let style_imgs = new_styles
        .iter()
        .map(|p| load_rgb(p, DEFAULT_PIXEL_LIMIT))
        .collect::<Result<Vec<_>>>()?;
    let preview_img = match &spec.preview {
        Some(p) => load_rgb(p, DEFAULT_PIXEL_LIMIT)?,
        None => load_rgb(&dataset.files[0], DEFAULT_PIXEL_LIMIT)?,
    };
    let preview_img = resize_longer_side(&preview_img, spec.size);
    let taps: Vec<Layer> = STYLE_TAPS
        .iter()
        .map(|s| s.parse())
        .collect::<Result<_>>()?;
    let content_tap: Layer = CONTENT_TAP.parse()?;

    // Style targets, once per style; MSG-Net also takes the images (0..255).
    let mut targets: Vec<Vec<Tensor>> = Vec::new();
    let mut style_ts: Vec<Tensor> = Vec::new();
    for img in &style_imgs {
        let style_t = to_tensor(&resize_longer_side(img, spec.style_size), device)?;
        style_ts.push(style_t.f_mul_scalar(255.0)?);
        targets.push(tch::no_grad(|| -> Result<Vec<Tensor>> {
            let f = vgg.features(&style_t, &taps, Padding::Zero)?;
            taps.iter()
                .map(|t| gram_batch(&f[t]))
                .collect::<Result<Vec<_>>>()
        })?);
    }
    let base = match &spec.extend {
        Some(p) => Some(read_base(p, spec)?),
        None => None,
    };
    // The row of the first new style in the γ, β tables.
    let first_new = base.as_ref().map_or(0, |(i, _)| i.styles.len());
    // An extended model has seen its base's iterations too: `models ls`
    // would otherwise list a long-trained network as "2 iterations".
    let base_iterations = base.as_ref().map_or(0, |(i, _)| i.iterations);

    let mut info = blank_info(spec.arch);
    if let Some((b, _)) = &base {
        info.styles = b.styles.clone();
    }
    for (i, p) in new_styles.iter().enumerate() {
        let mut s = StyleSource::new(p.clone(), sha256_file(p)?);
        if let Some(n) = spec.style_names.get(i).filter(|n| !n.is_empty()) {
            s.name = n.clone();
        }
        if info.styles.iter().any(|o| o.name == s.name) {
            return Err(Error::invalid(
                "styles",
                format!(
                    "two styles named '{}': a model's style names are unique",
                    s.name
                ),
            ));
        }
        info.styles.push(s);
    }
    info.training = serde_json::to_value(spec).ok();
    info.dataset = Some(dataset.summary()?);
    info.source = "trained by atelier".into();
    info.device = Some(crate::engine::infra::device::device_name(device));

    tch::manual_seed(spec.seed as i64);
    let model = Model::new(info, device)?;
    let tables = if let Some((_, tensors)) = base {
        start_from_base(
            &model,
            tensors,
            first_new,
            spec.extend.as_deref().unwrap_or(Path::new("")),
        )?
    } else {
        Vec::new()
    };
    let mut adam = Adam::new(&model, spec.lr)?;
    let (mut start, mut prior_seconds, mut last) = (0u64, 0.0f64, BTreeMap::new());
    if let Some(r) = resume {
        let bytes = std::fs::read(&r.checkpoint).map_err(|e| Error::io(&r.checkpoint, e))?;
        let (ci, tensors) = read_checkpoint(&r.checkpoint, &bytes)?;
        check_resumable(
            &r.checkpoint,
            (&ci.spec, ci.iteration),
            (spec, spec.iterations),
        )?;
        let (mut model_t, mut rest) = (Vec::new(), Vec::new());
        for (k, t) in tensors {
            match k.strip_prefix("model.") {
                Some(n) => model_t.push((n.to_string(), t)),
                None => rest.push((k, t)),
            }
        }
        copy_into(&model.vs, model_t, &r.checkpoint)?;
        let rest: std::collections::HashMap<String, Tensor> = rest.into_iter().collect();
        for (i, (name, _)) in adam.params.iter().enumerate() {
            for (prefix, slot) in [("adam.m.", &mut adam.m[i]), ("adam.v.", &mut adam.v[i])] {
                let t = rest.get(&format!("{prefix}{name}")).ok_or_else(|| {
                    ck_err(&r.checkpoint, format!("Adam state of {name} missing"))
                })?;
                *slot = t.f_to_device(device)?;
            }
        }
        start = ci.iteration;
        prior_seconds = ci.seconds;
        last = ci.losses;
    }

    let save_ck = |it: u64, secs: f64, losses: &BTreeMap<String, f64>, adam: &Adam| -> Result<()> {
        let mut blobs: Vec<(String, _)> = named_tensors(&model.vs, Kind::Float)?
            .into_iter()
            .map(|(k, b)| (format!("model.{k}"), b))
            .collect();
        for (i, (name, _)) in adam.params.iter().enumerate() {
            blobs.push((format!("adam.m.{name}"), blob(&adam.m[i], Kind::Float)?));
            blobs.push((format!("adam.v.{name}"), blob(&adam.v[i], Kind::Float)?));
        }
        let ci = CheckpointInfo {
            iteration: it,
            spec: spec.clone(),
            seconds: secs,
            losses: losses.clone(),
        };
        let mut meta = super::model_file::metadata(&model.info)?;
        meta.insert(
            "checkpoint".into(),
            serde_json::to_string(&ci).map_err(|e| Error::invalid("checkpoint", e.to_string()))?,
        );
        write_atomic(checkpoint, &blobs, meta, true)
    };

    let t0 = Instant::now();
    let mut it = start;
    while it < spec.iterations {
        let x = dataset.batch(spec.seed, it, spec.batch, spec.size, device)?;
        let k = draw_style(spec.seed, it, new_styles.len());
        let mix = match spec.arch.norm {
            Norm::Conditional { .. } => Some(
                StyleMix::single(&model.info.styles, first_new + k)?
                    .tensor(spec.batch as i64, device)?,
            ),
            _ => None,
        };
        let y = match model.net.msg() {
            // The siamese encoder trains through the style's target too.
            Some(m) => m.forward_gram(&x, &m.target(&style_ts[k])?)?,
            None => model.net.forward_mix(&x, mix.as_ref(), true)?,
        };
        let targets = &targets[k];
        let fy = vgg.features(&y.f_div_scalar(255.0)?, &taps, Padding::Zero)?;
        let fx =
            tch::no_grad(|| vgg.features(&x.f_div_scalar(255.0)?, &[content_tap], Padding::Zero))?;
        let content = fy[&content_tap]
            .f_mse_loss(&fx[&content_tap], Reduction::Mean)?
            .f_mul_scalar(spec.content_weight)?;
        let mut style = Tensor::f_zeros([], (Kind::Float, device))?;
        for (t, target) in taps.iter().zip(targets) {
            let g = gram_batch(&fy[t])?;
            let tg = target.f_expand_as(&g)?;
            style = style.f_add(&g.f_mse_loss(&tg, Reduction::Mean)?)?;
        }
        let style = style.f_mul_scalar(spec.style_weight)?;
        let tv = if spec.tv_weight > 0.0 {
            tv_loss(&y.f_div_scalar(255.0)?)?.f_mul_scalar(spec.tv_weight)?
        } else {
            Tensor::f_zeros([], (Kind::Float, device))?
        };
        let total = content.f_add(&style)?.f_add(&tv)?;
        let tv_val = tv.f_double_value(&[])?;
        let (c_val, s_val, total_val) = (
            content.f_double_value(&[])?,
            style.f_double_value(&[])?,
            total.f_double_value(&[])?,
        );
        if !total_val.is_finite() {
            return Err(Error::Diverged(format!(
                "at iteration {}: loss {total_val}",
                it + 1
            )));
        }
        total.f_backward()?;
        // Extending: the old styles' rows stay as they are (their gradient is
        // zero for a one-hot batch already; this makes it so by construction).
        tch::no_grad(|| -> Result<()> {
            for t in &tables {
                let g = t.f_grad()?;
                if g.defined() {
                    let _ = g.f_narrow(0, 0, first_new as i64)?.f_zero_()?;
                }
            }
            Ok(())
        })?;
        adam.step(it + 1)?;
        it += 1;
        last = BTreeMap::from([
            ("content".to_string(), c_val),
            ("style".to_string(), s_val),
            ("tv".to_string(), tv_val),
            ("total".to_string(), total_val),
        ]);
        let run_secs = t0.elapsed().as_secs_f64();
        let elapsed = prior_seconds + run_secs;
        let progress = TrainProgress {
            iteration: it,
            of: spec.iterations,
            losses: last.clone(),
            images_per_second: ((it - start) as f64 * spec.batch as f64) / run_secs.max(1e-9),
            elapsed: Duration::from_secs_f64(elapsed),
        };
        let flow = report(sink, &progress, spec.preview_every, || {
            tch::no_grad(|| -> Result<RgbImage> {
                let p = to_tensor(&preview_img, device)?.f_mul_scalar(255.0)?;
                let mix = match spec.arch.norm {
                    Norm::Conditional { .. } => {
                        Some(StyleMix::single(&model.info.styles, first_new)?)
                    }
                    Norm::Inspiration { .. } => {
                        if let Some(m) = model.net.msg() {
                            m.set_targets(&style_ts)?;
                        }
                        Some(StyleMix::single(&model.info.styles, 0)?)
                    }
                    _ => None,
                };
                from_tensor(&forward_padded_mix(&model, &p, mix.as_ref())?.f_div_scalar(255.0)?)
            })
        })?;
        end_iteration(
            sink,
            (it, spec.iterations, spec.checkpoint_every),
            flow,
            checkpoint,
            || save_ck(it, elapsed, &last, &adam),
        )?;
    }
    let seconds = prior_seconds + t0.elapsed().as_secs_f64();
    if let Some(m) = model.net.msg() {
        // The trained styles' targets, through the final encoder.
        m.set_targets(&style_ts)?;
    }
    let mut model = model;
    model.info.iterations = base_iterations + it;
    model.info.final_losses = last.clone();
    model.info.seconds = Some(seconds);
    Ok(TrainOutcome {
        model,
        iterations: it,
        final_losses: last,
        seconds,
    })
}

/// The new style (0-based among the run's new styles) of iteration `it`.
fn draw_style(seed: u64, it: u64, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let mut rng = Rng::new(seed.rotate_left(17) ^ it.wrapping_mul(0xD1B5_4A32_D192_ED03) ^ 0xC1);
    rng.below(n as u64) as usize
}

/// The model to extend: it must be a CIN model of the spec's width whose
/// styles plus the new ones make the spec's network.
fn read_base(path: &Path, spec: &TrainSpec) -> Result<(ModelInfo, Vec<(String, Tensor)>)> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound(path.to_path_buf()),
        _ => Error::io(path, e),
    })?;
    let (info, tensors) = parse_model(path, &bytes)?;
    let err = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    match info.arch.norm {
        Norm::Conditional { .. } => {}
        Norm::Inspiration { .. } => {
            return Err(err(
                "an MSG-Net: --extend adds styles to a multi-style (CIN) model".into(),
            ))
        }
        _ => {
            return Err(err(
                "a single-style network: --extend adds styles to a multi-style (CIN) model".into(),
            ))
        }
    }
    let want = info.styles.len() + spec.new_styles().len();
    if spec.arch.width != info.arch.width || spec.arch.norm.styles() != want {
        return Err(err(format!(
            "width {} with {} styles; the run expects width {} and {} styles in all",
            info.arch.width,
            info.styles.len(),
            spec.arch.width,
            spec.arch.norm.styles()
        )));
    }
    Ok((info, tensors))
}

/// Copies the base model into `model` (its γ, β tables grown by the new
/// rows, which start at the mean of the old ones), freezes every other
/// parameter and returns the tables, which alone train.
fn start_from_base(
    model: &Model,
    tensors: Vec<(String, Tensor)>,
    old: usize,
    path: &Path,
) -> Result<Vec<Tensor>> {
    let vars = model.vs.variables();
    let mut grown = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let target = vars.get(&name).map(|v| v.size());
        match target {
            Some(size) if size.len() == 2 && t.size().len() == 2 && size[0] > t.size()[0] => {
                let extra = size[0] - t.size()[0];
                let rows = t
                    .f_mean_dim(Some(&[0i64][..]), true, Kind::Float)?
                    .f_expand([extra, size[1]], false)?;
                grown.push((name, Tensor::f_cat(&[t, rows], 0)?));
            }
            _ => grown.push((name, t)),
        }
    }
    copy_into(&model.vs, grown, path)?;
    let mut tables = Vec::new();
    for (_, v) in vars {
        if v.size().len() == 2 && v.size()[0] > old as i64 {
            tables.push(v);
        } else {
            let _ = v.set_requires_grad(false);
        }
    }
    Ok(tables)
}

/// Total variation: mean squared difference of neighbouring pixels.
fn tv_loss(y: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = y.size4()?;
    let dx = y.f_narrow(3, 1, w - 1)?.f_sub(&y.f_narrow(3, 0, w - 1)?)?;
    let dy = y.f_narrow(2, 1, h - 1)?.f_sub(&y.f_narrow(2, 0, h - 1)?)?;
    Ok(dx
        .f_square()?
        .f_mean(None)?
        .f_add(&dy.f_square()?.f_mean(None)?)?)
}
