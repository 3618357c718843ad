//! `atelier apply adain|wct`, `atelier train --arch adain|wct` and
//! `atelier models import --arch adain`: arbitrary style from the command
//! line (the engine's `arbitrary` module).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use image::RgbImage;

use super::choices::TrainArch;
use super::fast::{
    library, model_output, output_folder, output_path, progress_line, refuse_input,
    refuse_unfinished, save_trained, stem, stopped, write_applied, ApplyArgs, Printer, TrainArgs,
};
use super::train_lock::TrainLock;
use crate::config::{resolve, Config};
use crate::engine::arbitrary::apply::{styles_at_scale, stylize_regions};
use crate::engine::arbitrary::encoder::EdgePadding;
use crate::engine::arbitrary::import::import_adain;
use crate::engine::arbitrary::model_file::{ArbModel, Method};
use crate::engine::arbitrary::train::{
    prepare, resumable_iteration, train as train_decoder, ArbTrainSpec,
};
use crate::engine::fast::dataset::Dataset;
use crate::engine::fast::models::{ModelEntry, ModelLibrary};
use crate::engine::fast::train::TrainProgress;
use crate::engine::infra::device::{device_name, parse_device};
use crate::engine::infra::image_io::{load_rgb, resize_longer_side};
use crate::engine::infra::label_map::RegionMap;
use crate::engine::infra::library::{resolve_image, Library};
use crate::engine::nets::color::ColorMode;
use crate::engine::nets::weights::Weights;
use crate::engine::Error;
use crate::jobs::apply::run::masks_for;
use crate::jobs::apply::{Built, Spec as ApplySpec};

/// `atelier apply` options of the adain and wct models.
#[derive(Args, Debug, Default)]
pub struct ArbApplyArgs {
    /// adain/wct: style strength in [0, 1] [default: 1 for adain, 0.6 for wct].
    #[arg(long)]
    pub alpha: Option<f64>,
    /// wct: use levels relu{N}_1 … relu1_1, coarse to fine [default: all the model has].
    #[arg(long, value_name = "N")]
    pub levels: Option<usize>,
    /// adain/wct: keep the content's colours: histogram (the styles recoloured
    /// first; the default when no MODE is given) or luminance.
    #[arg(long, value_name = "MODE", num_args = 0..=1, default_missing_value = "histogram")]
    pub preserve_colors: Option<ColorMode>,
    /// adain/wct: a greyscale mask per --style painting, in their order: each
    /// painting on its own region (white), the photo's features elsewhere.
    #[arg(long = "style-mask", value_name = "MASK")]
    pub style_masks: Vec<PathBuf>,
    /// adain/wct: instead of --style-mask, one colour-coded map (or greyscale label map), a
    /// colour per --style painting, taken in reading order (the first colour met from the
    /// top-left corner, row by row, goes to the first painting).
    #[arg(long, value_name = "MAP", conflicts_with = "style_masks")]
    pub regions: Option<PathBuf>,
    /// Any model: style only inside this greyscale mask; outside, the output is the photo.
    #[arg(long, value_name = "MASK")]
    pub content_mask: Option<PathBuf>,
}

impl ArbApplyArgs {
    /// These options with the `--style` entries, for the apply builder.
    pub fn choice(&self, styles: &[String]) -> crate::jobs::apply::StyleChoice {
        crate::jobs::apply::StyleChoice {
            entries: styles.to_vec(),
            alpha: self.alpha,
            levels: self.levels,
            color: self.preserve_colors,
        }
    }

    /// `built` with the masks asked for, checked and recorded as inputs.
    pub fn masked(&self, mut built: Built) -> Result<Built, Error> {
        if self.style_masks.is_empty() && self.regions.is_none() && self.content_mask.is_none() {
            return Ok(built);
        }
        built.spec.style_masks = self.style_masks.clone();
        built.spec.regions = self.regions.as_deref().map(RegionMap::new);
        built.spec.content_mask = self.content_mask.clone();
        built.inputs = built.spec.inputs()?;
        Ok(built)
    }
}

/// Prints which colour of `spec`'s region map goes to which painting.
pub fn say_regions(spec: &ApplySpec) {
    let names: Vec<String> = spec
        .arbitrary
        .iter()
        .flat_map(|a| &a.styles)
        .map(|s| stem(&s.path))
        .collect();
    super::stylize::say_regions(spec.regions.as_ref(), &names);
}

/// Applies the adain or wct model of `spec` (built and checked) per `a`.
pub fn apply(a: &ApplyArgs, spec: &ApplySpec, c: &Config, device: tch::Device) -> Result<i32> {
    let Some(set) = &spec.arbitrary else {
        bail!("'{}' is not an adain or wct model", spec.model_display());
    };
    let opts = set.options();
    let weights = set.weights()?;
    let model = ArbModel::load(&spec.model, &resolve(&c.paths.weights), device)?;
    let mut styles: Vec<(PathBuf, RgbImage, f64)> = Vec::new();
    for (s, w) in set.styles.iter().zip(weights) {
        styles.push((s.path.clone(), load_rgb(&s.path, spec.pixel_limit)?, w));
    }
    let label = spec.label();
    let mut inputs = Vec::new();
    for p in &spec.contents {
        inputs.push((p.clone(), load_rgb(p, spec.pixel_limit)?));
    }
    let into_dir = output_folder(a.output.as_deref(), inputs.len(), c)?;
    let input_paths: Vec<PathBuf> = spec
        .contents
        .iter()
        .chain(set.styles.iter().map(|s| &s.path))
        .cloned()
        .collect();
    for (p, photo) in &inputs {
        let out = output_path(a.output.as_deref(), into_dir.as_deref(), p, &label);
        refuse_input(&out, &input_paths)?;
        let img = match a.size {
            Some(s) => resize_longer_side(photo, s),
            None => photo.clone(),
        };
        let st: Vec<(RgbImage, f64)> = styles.iter().map(|(_, s, w)| (s.clone(), *w)).collect();
        let st = styles_at_scale(&img, &st);
        let masks = masks_for(spec, photo.dimensions(), &img, device)?;
        let t0 = Instant::now();
        let result = stylize_regions(&model, &img, &st, &masks, &opts, device)?;
        let secs = t0.elapsed().as_secs_f64();
        let provenance = serde_json::json!({
            "method": model.info.method,
            "model": spec.model_display(),
            "model_path": spec.model,
            "styles": styles.iter().map(|(p, _, w)| serde_json::json!({"path": p, "weight": w})).collect::<Vec<_>>(),
            "alpha": opts.alpha,
            "levels": opts.levels,
            "preserve_colors": opts.color,
            "content": p,
            "size": [img.width(), img.height()],
            "device": device_name(device),
            "seconds": secs,
        });
        write_applied(&out, &result, &provenance, secs)?;
    }
    Ok(0)
}

/// `atelier train` options of the adain and wct decoders.
#[derive(Args, Debug, Default)]
pub struct ArbTrainArgs {
    /// Train an arbitrary-style decoder: adain (one, with a style loss) or wct
    /// (a reconstruction decoder for --level N); or msg: an MSG-Net (Zhang &
    /// Dana 2017) on the --style styles.
    #[arg(long)]
    pub arch: Option<TrainArch>,
    /// wct: the decoder's level, 1 … 5 (relu1_1 … relu5_1).
    #[arg(long, value_name = "N")]
    pub level: Option<usize>,
    /// adain: a folder of style images [default: the bundled paintings; or
    /// name them with --style, repeated].
    #[arg(long, value_name = "DIR", conflicts_with = "styles")]
    pub style_dir: Option<PathBuf>,
    /// adain/wct: learning-rate decay, lr / (1 + D · iteration).
    #[arg(long, default_value_t = 5e-5, value_name = "D")]
    pub lr_decay: f64,
    /// adain/wct: the encoder's padding, reflect (the papers') or zero.
    #[arg(long, default_value = "reflect")]
    pub padding: EdgePadding,
    /// adain/wct: start the decoder from MODEL's decoder at the same level
    /// (a name or a file), e.g. an adain decoder from a wct model's relu4_1
    /// reconstruction decoder of the same width [default: random weights].
    #[arg(long, value_name = "MODEL")]
    pub init: Option<String>,
}

/// An arbitrary-style training's progress line (its losses by name).
fn arb_line(p: &TrainProgress) -> String {
    let losses: Vec<String> = p
        .losses
        .iter()
        .map(|(k, v)| format!("{k} {v:.4e}"))
        .collect();
    progress_line(p, &losses.join("  "))
}

/// `atelier train --arch adain|wct …`.
pub fn train(a: TrainArgs, c: &Config, data_dir: Option<&Path>) -> Result<i32> {
    let o = &a.arbitrary;
    let Some(TrainArch::Arbitrary(method)) = o.arch else {
        bail!("--arch adain or wct is needed for an arbitrary-style decoder");
    };
    let level = match (method, o.level) {
        (Method::Adain, None | Some(4)) => 4,
        (Method::Adain, Some(l)) => {
            bail!("invalid level: {l} (an adain decoder starts at relu4_1: 4)")
        }
        (Method::Wct, Some(l)) => l,
        (Method::Wct, None) => bail!("--level N is needed for wct (1 … 5: one decoder per level)"),
    };
    let device = parse_device(a.device.as_deref().unwrap_or(&c.stylize.device))?;
    let mut styles = Vec::new();
    if method == Method::Adain {
        let lib = Library::open(&resolve(&c.paths.styles)).ok();
        // `--style` is shared with multi-style training: here it names the
        // paintings the decoder learns from.
        for q in a.styles.style.iter().chain(&a.styles.styles) {
            let p = resolve_image(q, lib.as_ref())?;
            styles.push(std::fs::canonicalize(&p).unwrap_or(p));
        }
        if styles.is_empty() {
            let dir = o
                .style_dir
                .clone()
                .unwrap_or_else(|| resolve(&c.paths.styles));
            styles = Dataset::scan(&dir)?.files;
        }
    } else if a.styles.style.is_some() || !a.styles.styles.is_empty() || o.style_dir.is_some() {
        bail!("wct decoders are trained for reconstruction only: they take no style");
    }
    let t = &a.options;
    let lib = library(c, data_dir)?;
    let init = match &o.init {
        Some(q) if Path::new(q).is_file() => Some(PathBuf::from(q)),
        Some(q) => Some(lib.find(q)?.path),
        None => None,
    };
    let spec = ArbTrainSpec {
        method,
        level,
        dataset: resolve(&t.dataset),
        styles,
        size: t.size,
        batch: t.batch,
        iterations: t.iterations,
        content_weight: t.content_weight,
        style_weight: t.style_weight.unwrap_or(match method {
            Method::Adain => 10.0,
            Method::Wct => 1.0,
        }),
        lr: t.lr.unwrap_or(1e-4),
        lr_decay: o.lr_decay,
        width: t.width,
        padding: o.padding,
        seed: t.seed,
        checkpoint_every: t.checkpoint_every,
        preview_every: t.preview_every,
        preview: t.preview.clone(),
        init,
    };
    spec.validate()?;
    let name = a
        .output
        .clone()
        .unwrap_or_else(|| method.architecture().to_string());
    let out = model_output(&lib, &name)?;
    let work = c.data_dir(data_dir)?.join("training");
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    // One lock per model file: two levels trained into one -o at once would
    // each save the file without the other's decoder.
    let lock = TrainLock::take(&work, &stem(&out))?;
    lock.clean_partials(&work);
    let weights = Weights::load(&resolve(&c.paths.weights))?;
    // A wct model gains levels one run at a time; anything else is never replaced.
    let base = if out.exists() {
        if method == Method::Adain {
            bail!("{}: already exists; pick another -o", out.display());
        }
        let m = ArbModel::load(&out, &resolve(&c.paths.weights), device)?;
        if m.info.decoders.contains_key(&level) {
            bail!(
                "{}: has a level-{level} decoder already; pick another -o (or `atelier models rm`)",
                out.display()
            );
        }
        Some(m)
    } else {
        None
    };
    let replace = base.is_some();
    let tag = format!("{}.{method}{level}", stem(&out));
    let checkpoint = work.join(format!("{tag}.checkpoint.safetensors"));
    let resumed_at = if a.resume {
        Some(resumable_iteration(&checkpoint, &spec)?)
    } else {
        refuse_unfinished(&checkpoint)?;
        None
    };
    let model = prepare(&spec, base, &weights, device)?;
    let preview = work.join(format!("{tag}.preview.png"));
    println!(
        "training the {method} level-{level} decoder of {} on {} ({}), {} iterations of {} x {} px, width {}, {} style images; preview {}",
        out.display(),
        spec.dataset.display(),
        device_name(device),
        spec.iterations,
        spec.batch,
        spec.size,
        spec.width,
        spec.styles.len(),
        preview.display()
    );
    if let Some(at) = resumed_at {
        println!("resuming at iteration {at}");
    }
    let mut obs = Printer {
        stop: super::stop_flag()?,
        log_every: a.log_every,
        preview,
        line: arb_line,
    };
    let trained = train_decoder(&spec, model, &checkpoint, a.resume, &mut obs);
    let o = match stopped(trained)? {
        Ok(o) => o,
        Err(code) => return Ok(code),
    };
    let saved = save_trained(&out, &checkpoint, |p| o.model.save(p, replace && p == out))?;
    let _ = std::fs::remove_file(&checkpoint);
    drop(lock);
    println!(
        "saved {} (levels {:?}; {} iterations, {:.0} s, total loss {:.4e})",
        saved.display(),
        o.model.info.levels(),
        o.iterations,
        o.seconds,
        o.final_losses.get("total").copied().unwrap_or(0.0)
    );
    Ok(0)
}

/// `atelier models import --arch adain DECODER --encoder ENCODER [--name N]`.
pub fn import(
    lib: &ModelLibrary,
    file: &Path,
    name: Option<String>,
    arch: &str,
    encoder: Option<&Path>,
) -> Result<i32> {
    match arch.parse::<Method>()? {
        Method::Adain => {}
        Method::Wct => bail!("--arch wct: there is no published WCT decoder format to import; train them with `atelier train --arch wct --level N`"),
    }
    let Some(encoder) = encoder else {
        bail!("--encoder vgg_normalised.pth is needed: pytorch-AdaIN's decoder works only with its own encoder");
    };
    let name = name.unwrap_or_else(|| "adain-published".to_string());
    let name = super::fast::import_name(&name);
    let out = lib.new_user_path(name)?;
    let model = import_adain(file, encoder, tch::Device::Cpu)?;
    model.save(&out, false)?;
    println!(
        "imported {} with encoder {} as {name} (adain, width {}): {}",
        file.display(),
        encoder.display(),
        model.info.width,
        out.display()
    );
    Ok(0)
}

/// One line for `models ls`.
pub fn describe(e: &ModelEntry) -> String {
    let Some(i) = &e.arbitrary else {
        return String::new();
    };
    format!(
        "{} decoders at levels {:?}, width {}, encoder {:?}, {} iterations{}",
        i.method,
        i.levels(),
        i.width,
        i.encoder,
        i.iterations(),
        if i.styles.is_empty() {
            String::new()
        } else {
            format!(", trained on {} paintings", i.styles.len())
        }
    )
}
