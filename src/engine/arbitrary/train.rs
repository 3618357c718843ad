//! Training the decoders.
//!
//! AdaIN (naoto0804's `train.py`): content photos and style paintings in
//! random crops, `t = AdaIN(f(c), f(s))` at relu4_1, loss
//! `w_c·MSE(f(g(t)), t) + w_s·Σ_{relu1_1..4_1} MSE(μ) + MSE(σ)`, Adam with
//! `lr / (1 + decay·iteration)`.
//!
//! WCT (eridgd/WCT-TF's `train.py`): a decoder per level trained to invert
//! the encoder: `w_p·MSE(g(f(x)), x) + w_f·MSE(f(g(f(x))), f(x)) / mean(f(x)²)`.
//! The feature term is divided by the features' mean square because our
//! Caffe VGG19's activations are in the hundreds, not about 1 as in the
//! normalised VGG the reference trains on; so both terms are of order 1.
//!
//! Checkpoints hold the decoder being trained and Adam's state; a resumed
//! run draws the same batches (the dataset's generator is seeded by
//! seed and iteration) and continues on the same trajectory.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use image::RgbImage;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Reduction, Tensor};

use super::adain::{adain, mean_std};
use super::apply::forward;
use super::decoder::{mirror, Decoder, VGG19_INPUT_SCALE};
use super::encoder::{EdgePadding, LEVELS};
use super::model_file::{
    decoder_tensors, metadata, ArbInfo, ArbModel, EncoderSource, Method, TrainRecord,
};
use crate::engine::fast::dataset::Dataset;
use crate::engine::fast::model_file::StyleSource;
use crate::engine::fast::safetensors_file::{blob, model_err, Blob, Metadata};
use crate::engine::fast::train::TrainProgress;
use crate::engine::fast::train_loop::{
    self, check_loop, preview_photo, Adam, CheckpointKind, Schedule, Trainee,
};
use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::image_io::{
    load_rgb, resize_longer_side, to_tensor, DEFAULT_PIXEL_LIMIT,
};
use crate::engine::infra::sink::Sink;
use crate::engine::nets::weights::{sha256_file, Weights};

/// Everything that determines a training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArbTrainSpec {
    pub method: Method,
    /// The decoder's level (4 for AdaIN).
    pub level: usize,
    pub dataset: PathBuf,
    /// Style images (AdaIN); none for WCT.
    pub styles: Vec<PathBuf>,
    /// Side of the square crops.
    pub size: u32,
    pub batch: usize,
    pub iterations: u64,
    /// AdaIN: content loss; WCT: pixel loss.
    pub content_weight: f64,
    /// AdaIN: style loss; WCT: feature loss.
    pub style_weight: f64,
    pub lr: f64,
    /// `lr / (1 + lr_decay · iteration)` (naoto0804: 5e-5).
    pub lr_decay: f64,
    /// Decoder width multiplier.
    pub width: f64,
    pub padding: EdgePadding,
    pub seed: u64,
    pub checkpoint_every: u64,
    /// 0: no previews.
    pub preview_every: u64,
    /// The photo previews show (default: the dataset's first image).
    #[serde(default)]
    pub preview: Option<PathBuf>,
    /// A model file whose decoder at `level` the run starts from instead of
    /// random weights (an AdaIN decoder warm-started from a WCT
    /// reconstruction decoder of relu4_1 learns the photo's structure first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<PathBuf>,
}

impl ArbTrainSpec {
    pub fn validate(&self) -> Result<()> {
        let want = match self.method {
            Method::Adain => 4..=4,
            Method::Wct => 1..=LEVELS,
        };
        if !want.contains(&self.level) {
            return Err(Error::invalid(
                "level",
                format!("{} ({} decoders: {want:?})", self.level, self.method),
            ));
        }
        if self.method == Method::Adain && self.styles.is_empty() {
            return Err(Error::invalid(
                "styles",
                "AdaIN training needs style images",
            ));
        }
        check_loop(
            (self.size, 16),
            [self.batch as u64, self.iterations, self.checkpoint_every],
            &[
                ("content-weight", self.content_weight),
                ("style-weight", self.style_weight),
                ("lr-decay", self.lr_decay),
            ],
            self.lr,
        )?;
        if !(self.width.is_finite() && self.width > 0.0 && self.width <= 4.0) {
            return Err(Error::invalid(
                "width",
                format!("{} (in (0, 4])", self.width),
            ));
        }
        Ok(())
    }
}

/// A finished run.
pub struct ArbOutcome {
    pub model: ArbModel,
    pub iterations: u64,
    pub final_losses: BTreeMap<String, f64>,
    pub seconds: f64,
}

/// How an adain/wct checkpoint is told from other files: its record under
/// `arbitrary_checkpoint`.
const CHECKPOINT: CheckpointKind = CheckpointKind {
    key: "arbitrary_checkpoint",
    missing: "not an adain/wct training checkpoint",
    header: |_| Ok(()),
};

/// The model a run trains: `base` (a WCT model gaining a level) or a new one
/// over our VGG19, with a fresh decoder at `spec.level` drawn from the seed.
pub fn prepare(
    spec: &ArbTrainSpec,
    base: Option<ArbModel>,
    weights: &Weights,
    device: Device,
) -> Result<ArbModel> {
    spec.validate()?;
    let mut model = match base {
        Some(m) => {
            if m.info.method != spec.method || m.info.encoder != EncoderSource::Vgg19 {
                return Err(Error::invalid(
                    "model",
                    format!(
                        "a {} model over {:?} cannot take a {} decoder trained here",
                        m.info.method, m.info.encoder, spec.method
                    ),
                ));
            }
            if m.info.padding != spec.padding || m.info.width != spec.width {
                return Err(Error::invalid(
                    "model",
                    format!(
                        "its decoders are width {} with {} padding; train with the same",
                        m.info.width, m.info.padding
                    ),
                ));
            }
            m
        }
        None => {
            let info = ArbInfo {
                method: spec.method,
                encoder: EncoderSource::Vgg19,
                padding: spec.padding,
                width: spec.width,
                decoders: BTreeMap::new(),
                input_scale: BTreeMap::new(),
                styles: Vec::new(),
                records: Vec::new(),
            };
            ArbModel::new(info, weights, device)?
        }
    };
    let ops = mirror(&model.encoder.conv_channels(), spec.level, spec.width)?;
    let init = match &spec.init {
        Some(p) => Some(decoder_tensors(p, spec.level, &ops, spec.padding)?),
        None => None,
    };
    tch::manual_seed(spec.seed as i64);
    model.add_decoder(spec.level, ops, VGG19_INPUT_SCALE[spec.level - 1])?;
    if let (Some(tensors), Some(path)) = (init, &spec.init) {
        let vars = model.vs.variables();
        let prefix = format!("decoder{}.", spec.level);
        let mut copied = 0;
        for (name, t) in &tensors {
            let var = vars
                .get(name)
                .filter(|v| v.size() == t.size())
                .ok_or_else(|| {
                    model_err(path, format!("tensor {name} does not fit the decoder"))
                })?;
            tch::no_grad(|| var.shallow_clone().f_copy_(t))?;
            copied += 1;
        }
        let want = vars.keys().filter(|k| k.starts_with(&prefix)).count();
        if copied != want {
            return Err(model_err(
                path,
                format!("its decoder has {copied} of the {want} tensors this one needs"),
            ));
        }
    }
    Ok(model)
}

/// Reads a checkpoint's iteration (for `--resume`).
pub fn checkpoint_iteration(path: &Path) -> Result<u64> {
    Ok(
        train_loop::read_checkpoint::<ArbTrainSpec>(path, &CHECKPOINT)?
            .0
            .iteration,
    )
}

/// The iteration of the checkpoint at `path`, once a run of `spec` is known
/// to be able to continue it (before anything says "resuming").
pub fn resumable_iteration(path: &Path, spec: &ArbTrainSpec) -> Result<u64> {
    Ok(train_loop::resumable(path, &CHECKPOINT, (spec, spec.iterations))?.iteration)
}

/// MSE of channel means and of stds, summed.
fn mean_std_loss(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (am, asd) = mean_std(a)?;
    let (bm, bsd) = mean_std(b)?;
    Ok(am
        .f_mse_loss(&bm, Reduction::Mean)?
        .f_add(&asd.f_mse_loss(&bsd, Reduction::Mean)?)?)
}

/// Trains the decoder at `spec.level` of `model` (from [`prepare`]), writing
/// checkpoints to `checkpoint`, continuing from it when `resume`. A stop
/// from the sink writes a checkpoint and returns `Error::Cancelled`.
pub fn train(
    spec: &ArbTrainSpec,
    mut model: ArbModel,
    checkpoint: &Path,
    resume: bool,
    sink: &mut dyn Sink<TrainProgress>,
) -> Result<ArbOutcome> {
    spec.validate()?;
    let device = model.vs.device();
    let dataset = Dataset::scan(&spec.dataset)?;
    let styles = if spec.method == Method::Adain {
        for s in &spec.styles {
            load_rgb(s, DEFAULT_PIXEL_LIMIT)?;
        }
        Some(Dataset {
            root: spec.styles[0]
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default(),
            files: spec.styles.clone(),
            skipped: 0,
            unfit: 0,
        })
    } else {
        None
    };
    let preview_img = preview_photo(spec.preview.as_deref(), &dataset, spec.size)?;
    let preview_style = match spec.styles.first() {
        Some(p) => Some(resize_longer_side(
            &load_rgb(p, DEFAULT_PIXEL_LIMIT)?,
            spec.size,
        )),
        None => None,
    };
    let level = spec.level;
    let prefix = format!("decoder{level}.");
    let adam = Adam::new(
        model
            .vs
            .variables()
            .into_iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .collect(),
    )?;
    let dec = model
        .decoders
        .get(&level)
        .ok_or_else(|| Error::invalid("level", format!("no level-{level} decoder")))?;
    let mut net = DecoderTrainee {
        spec,
        model: &model,
        dec,
        dataset: &dataset,
        styles,
        preview_img,
        preview_style,
    };
    let done = train_loop::run(
        &mut net,
        spec,
        &Schedule::new(
            (spec.iterations, spec.checkpoint_every, spec.preview_every),
            spec.batch,
            (spec.lr, spec.lr_decay),
        ),
        adam,
        (checkpoint, &CHECKPOINT),
        resume.then_some(checkpoint),
        sink,
    )?;
    let mut sources = Vec::new();
    for s in &spec.styles {
        sources.push(StyleSource {
            name: s
                .file_stem()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            path: s.clone(),
            sha256: sha256_file(s)?,
        });
    }
    if spec.method == Method::Adain {
        model.info.styles = sources;
    }
    model.info.records.retain(|r| r.level != level);
    model.info.records.push(TrainRecord {
        level,
        training: serde_json::to_value(spec).ok(),
        iterations: done.iterations,
        final_losses: done.losses.clone(),
        dataset: Some(dataset.summary()?),
        source: "trained by atelier".into(),
        device: Some(crate::engine::infra::device::device_name(device)),
        seconds: Some(done.seconds),
    });
    model.info.records.sort_by_key(|r| r.level);
    Ok(ArbOutcome {
        model,
        iterations: done.iterations,
        final_losses: done.losses,
        seconds: done.seconds,
    })
}

/// A decoder in training: AdaIN's content and style losses, or WCT's pixel
/// and feature reconstruction losses.
struct DecoderTrainee<'a> {
    spec: &'a ArbTrainSpec,
    model: &'a ArbModel,
    dec: &'a Decoder,
    dataset: &'a Dataset,
    /// The style images as a dataset (AdaIN).
    styles: Option<Dataset>,
    preview_img: RgbImage,
    preview_style: Option<RgbImage>,
}

impl Trainee for DecoderTrainee<'_> {
    type Spec = ArbTrainSpec;

    fn losses(&mut self, it: u64) -> Result<Vec<(&'static str, Tensor)>> {
        let (spec, model, dec) = (self.spec, self.model, self.dec);
        let device = model.vs.device();
        let x = self
            .dataset
            .batch(spec.seed, it, spec.batch, spec.size, device)?
            .f_div_scalar(255.0)?;
        Ok(match &self.styles {
            Some(sd) => {
                let s = sd
                    .batch(
                        spec.seed.wrapping_add(0x5EED),
                        it,
                        spec.batch,
                        spec.size,
                        device,
                    )?
                    .f_div_scalar(255.0)?;
                let (t, fs) = tch::no_grad(|| -> Result<(Tensor, Vec<Tensor>)> {
                    let fc = model.encoder.encode_level(&x, 4)?;
                    let fs = model.encoder.encode(&s, 4)?;
                    Ok((adain(&fc, &fs[3])?, fs))
                })?;
                let g = dec.forward(&t)?;
                let fg = model.encoder.encode(&g, 4)?;
                let content = fg[3]
                    .f_mse_loss(&t, Reduction::Mean)?
                    .f_mul_scalar(spec.content_weight)?;
                let mut style = Tensor::f_zeros([], (Kind::Float, device))?;
                for (a, b) in fg.iter().zip(&fs) {
                    style = style.f_add(&mean_std_loss(a, b)?)?;
                }
                let style = style.f_mul_scalar(spec.style_weight)?;
                vec![("content", content), ("style", style)]
            }
            None => {
                let level = spec.level;
                let f = tch::no_grad(|| model.encoder.encode_level(&x, level))?;
                let scale = f
                    .f_square()?
                    .f_mean(Kind::Float)?
                    .f_double_value(&[])?
                    .max(1e-12);
                let g = dec.forward(&f)?;
                let pixel = g
                    .f_mse_loss(&x, Reduction::Mean)?
                    .f_mul_scalar(spec.content_weight)?;
                let feature = model
                    .encoder
                    .encode_level(&g, level)?
                    .f_mse_loss(&f, Reduction::Mean)?
                    .f_mul_scalar(spec.style_weight / scale)?;
                vec![("pixel", pixel), ("feature", feature)]
            }
        })
    }

    fn preview(&self) -> Result<RgbImage> {
        preview(
            self.model,
            self.spec.level,
            &self.preview_img,
            self.preview_style.as_ref(),
            self.model.vs.device(),
        )
    }

    fn metadata(&self) -> Result<Metadata> {
        metadata(&self.model.info)
    }

    /// Only the decoder being trained: the rest of the model is the run's
    /// starting point, rebuilt by [`prepare`].
    fn checkpoint_tensors(&self, params: &[(String, Tensor)]) -> Result<Vec<(String, Blob)>> {
        params
            .iter()
            .map(|(name, p)| Ok((name.clone(), blob(p, Kind::Float)?)))
            .collect()
    }

    fn restore(
        &self,
        tensors: Vec<(String, Tensor)>,
        params: &[(String, Tensor)],
        path: &Path,
    ) -> Result<()> {
        let tensors: HashMap<String, Tensor> = tensors.into_iter().collect();
        tch::no_grad(|| -> Result<()> {
            for (name, p) in params {
                let t = tensors
                    .get(name)
                    .filter(|t| t.size() == p.size())
                    .ok_or_else(|| {
                        model_err(path, format!("tensor {name} missing or misshapen"))
                    })?;
                p.shallow_clone().f_copy_(t)?;
            }
            Ok(())
        })
    }
}

/// The preview photo through the model: stylized with the first style
/// (AdaIN) or reconstructed (WCT).
fn preview(
    model: &ArbModel,
    level: usize,
    photo: &RgbImage,
    style: Option<&RgbImage>,
    device: Device,
) -> Result<RgbImage> {
    tch::no_grad(|| {
        let c = to_tensor(photo, device)?;
        let styles = match style {
            Some(s) => vec![(to_tensor(s, device)?, 1.0)],
            None => vec![(c.shallow_clone(), 1.0)],
        };
        let alpha = if style.is_some() { 1.0 } else { 0.0 };
        let out = forward(model, &c, &styles, alpha, &[level])?;
        crate::engine::infra::image_io::from_tensor(&out)
    })
}
