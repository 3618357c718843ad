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

use image::RgbImage;
use serde::{Deserialize, Serialize};
use tch::{Kind, Reduction, Tensor};

use super::apply::forward_padded_mix;
use super::dataset::{Dataset, Rng};
use super::layers::gram_batch;
use super::mix::StyleMix;
use super::model_file::parse as parse_model;
use super::model_file::{
    blank_info, Model, ModelInfo, StyleSource, ARCHITECTURE, CIN_ARCHITECTURE, FORMAT_VERSION,
    MSG_ARCHITECTURE,
};
use super::safetensors_file::{copy_into, named_tensors, Blob, Metadata};
pub use super::train_loop::TrainProgress;
use super::train_loop::{self, check_loop, preview_photo, Adam, CheckpointKind, Schedule, Trainee};
use super::transformer::{Arch, Norm};
use crate::engine::infra::error::{Error, Result};
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

/// How a fast-style checkpoint is told from other files: this atelier's
/// format, a fast-style architecture, and its record under `checkpoint`.
const CHECKPOINT: CheckpointKind = CheckpointKind {
    key: "checkpoint",
    missing: "a model file, not a training checkpoint",
    header: fast_checkpoint_header,
};

fn fast_checkpoint_header(meta: &Metadata) -> std::result::Result<(), &'static str> {
    let arch = meta.get("architecture").map(String::as_str).unwrap_or("");
    if meta.get("format_version").map(String::as_str) != Some(&FORMAT_VERSION.to_string())
        || ![ARCHITECTURE, CIN_ARCHITECTURE, MSG_ARCHITECTURE].contains(&arch)
    {
        return Err("not a checkpoint of this atelier (version or architecture differs)");
    }
    Ok(())
}

/// Reads a checkpoint's iteration and checks that a run of `spec` can
/// continue it.
pub fn read_resume_for(path: &Path, spec: &TrainSpec) -> Result<Resume> {
    let record = train_loop::resumable(path, &CHECKPOINT, (spec, spec.iterations))?;
    Ok(Resume {
        checkpoint: path.to_path_buf(),
        iteration: record.iteration,
    })
}

/// Reads where a checkpoint stands (for `--resume` and the queue).
pub fn read_resume(path: &Path) -> Result<Resume> {
    let (record, _) = train_loop::read_checkpoint::<TrainSpec>(path, &CHECKPOINT)?;
    Ok(Resume {
        checkpoint: path.to_path_buf(),
        iteration: record.iteration,
    })
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
    let preview_img = preview_photo(spec.preview.as_deref(), &dataset, spec.size)?;
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
    let adam = Adam::new(
        model
            .vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect(),
    )?;
    let mut net = Perceptual {
        spec,
        vgg,
        model: &model,
        dataset: &dataset,
        taps,
        content_tap,
        targets,
        style_ts,
        tables,
        first_new,
        preview_img,
    };
    let done = train_loop::run(
        &mut net,
        spec,
        &Schedule::new(
            (spec.iterations, spec.checkpoint_every, spec.preview_every),
            spec.batch,
            (spec.lr, 0.0),
        ),
        adam,
        (checkpoint, &CHECKPOINT),
        resume.map(|r| r.checkpoint.as_path()),
        sink,
    )?;
    if let Some(m) = model.net.msg() {
        // The trained styles' targets, through the final encoder.
        m.set_targets(&net.style_ts)?;
    }
    let mut model = model;
    model.info.iterations = base_iterations + done.iterations;
    model.info.final_losses = done.losses.clone();
    model.info.seconds = Some(done.seconds);
    Ok(TrainOutcome {
        model,
        iterations: done.iterations,
        final_losses: done.losses,
        seconds: done.seconds,
    })
}

/// A TransformerNet, CIN or MSG-Net in training: Johnson's perceptual
/// losses through our VGG19.
struct Perceptual<'a> {
    spec: &'a TrainSpec,
    vgg: &'a Vgg19,
    model: &'a Model,
    dataset: &'a Dataset,
    taps: Vec<Layer>,
    content_tap: Layer,
    /// The Gram matrices of each new style at `taps`.
    targets: Vec<Vec<Tensor>>,
    /// The new styles' images (0..255), which MSG-Net takes.
    style_ts: Vec<Tensor>,
    /// The γ, β tables when extending (they alone train).
    tables: Vec<Tensor>,
    /// The row of the first new style in the γ, β tables.
    first_new: usize,
    preview_img: RgbImage,
}

impl Trainee for Perceptual<'_> {
    type Spec = TrainSpec;

    fn losses(&mut self, it: u64) -> Result<Vec<(&'static str, Tensor)>> {
        let (spec, vgg, model) = (self.spec, self.vgg, self.model);
        let device = vgg.device();
        let x = self
            .dataset
            .batch(spec.seed, it, spec.batch, spec.size, device)?;
        let k = draw_style(spec.seed, it, self.targets.len());
        let mix = match spec.arch.norm {
            Norm::Conditional { .. } => Some(
                StyleMix::single(&model.info.styles, self.first_new + k)?
                    .tensor(spec.batch as i64, device)?,
            ),
            _ => None,
        };
        let y = match model.net.msg() {
            // The siamese encoder trains through the style's target too.
            Some(m) => m.forward_gram(&x, &m.target(&self.style_ts[k])?)?,
            None => model.net.forward_mix(&x, mix.as_ref(), true)?,
        };
        let (taps, content_tap) = (&self.taps, self.content_tap);
        let fy = vgg.features(&y.f_div_scalar(255.0)?, taps, Padding::Zero)?;
        let fx =
            tch::no_grad(|| vgg.features(&x.f_div_scalar(255.0)?, &[content_tap], Padding::Zero))?;
        let content = fy[&content_tap]
            .f_mse_loss(&fx[&content_tap], Reduction::Mean)?
            .f_mul_scalar(spec.content_weight)?;
        let mut style = Tensor::f_zeros([], (Kind::Float, device))?;
        for (t, target) in taps.iter().zip(&self.targets[k]) {
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
        Ok(vec![("content", content), ("style", style), ("tv", tv)])
    }

    /// Extending: the old styles' rows stay as they are (their gradient is
    /// zero for a one-hot batch already; this makes it so by construction).
    fn after_backward(&self) -> Result<()> {
        tch::no_grad(|| -> Result<()> {
            for t in &self.tables {
                let g = t.f_grad()?;
                if g.defined() {
                    let _ = g.f_narrow(0, 0, self.first_new as i64)?.f_zero_()?;
                }
            }
            Ok(())
        })
    }

    fn preview(&self) -> Result<RgbImage> {
        let model = self.model;
        tch::no_grad(|| -> Result<RgbImage> {
            let p = to_tensor(&self.preview_img, self.vgg.device())?.f_mul_scalar(255.0)?;
            let mix = match self.spec.arch.norm {
                Norm::Conditional { .. } => {
                    Some(StyleMix::single(&model.info.styles, self.first_new)?)
                }
                Norm::Inspiration { .. } => {
                    if let Some(m) = model.net.msg() {
                        m.set_targets(&self.style_ts)?;
                    }
                    Some(StyleMix::single(&model.info.styles, 0)?)
                }
                _ => None,
            };
            from_tensor(&forward_padded_mix(model, &p, mix.as_ref())?.f_div_scalar(255.0)?)
        })
    }

    fn metadata(&self) -> Result<Metadata> {
        super::model_file::metadata(&self.model.info)
    }

    /// The whole network (frozen parts included, so a resume is exact).
    fn checkpoint_tensors(&self, _params: &[(String, Tensor)]) -> Result<Vec<(String, Blob)>> {
        named_tensors(&self.model.vs, Kind::Float)
    }

    fn restore(
        &self,
        tensors: Vec<(String, Tensor)>,
        _params: &[(String, Tensor)],
        path: &Path,
    ) -> Result<()> {
        copy_into(&self.model.vs, tensors, path)
    }
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
