//! `atelier apply`, `atelier train` and `atelier models`: fast style (a
//! trained feed-forward network) from the command line.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use super::choices::TrainArch;
use super::train_lock::TrainLock;
use crate::config::{resolve, Config};
use crate::engine::fast::apply::{apply_gram, apply_mix, check_tile, DEFAULT_TILE};
use crate::engine::fast::import::import_state_dict;
use crate::engine::fast::mix::style_list;
use crate::engine::fast::model_file::{architecture_of, read_info, Model, ModelInfo};
use crate::engine::fast::models::{ModelKind, ModelLibrary};
use crate::engine::fast::msg_style::{target_of, MsgSource};
use crate::engine::fast::train::{read_resume_for, TrainProgress, TrainSpec};
use crate::engine::fast::transformer::{Arch, Norm};
use crate::engine::infra::device::{device_name, parse_device};
use crate::engine::infra::flow::Flow;
use crate::engine::infra::image_io::{from_tensor, load_rgb, save_png, unique_path};
use crate::engine::infra::library::{resolve_image, Library};
use crate::engine::infra::output::{create_folder, image_format, names_folder};
use crate::engine::infra::sink::Sink;
use crate::engine::nets::vgg::{Pooling, Vgg19};
use crate::engine::nets::weights::Weights;
use crate::engine::Error;
use crate::jobs::apply::run::{keep_photo_outside, masks_for};
use crate::jobs::apply::{from_queries, Built, Libraries, StyleChoice};
use crate::jobs::stylize::build::Painting;
use crate::jobs::train::build::{self as train_build, Network};
use crate::jobs::train::run::run as train_job;
use crate::queue::Status;

/// The model library: `models/` of the checkout plus `<data dir>/models`.
pub fn library(c: &Config, data_dir: Option<&Path>) -> Result<ModelLibrary> {
    let dir = c.data_dir(data_dir)?;
    Ok(
        ModelLibrary::new(resolve(Path::new("models")), dir.join("models"))
            .with_styles_dir(resolve(&c.paths.styles)),
    )
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// A model name (`atelier models ls`) or a model file.
    pub model: String,
    /// Content photos (paths or names of bundled contents).
    #[arg(required = true)]
    pub contents: Vec<String>,
    /// Output file (one content) or folder (default: the output folder).
    #[arg(short, long, value_name = "OUT|DIR")]
    pub output: Option<PathBuf>,
    /// Resize each photo so its longer side is N px first (default: as it is).
    #[arg(long, value_name = "N")]
    pub size: Option<u32>,
    /// Images larger than this many px a side go in overlapping tiles.
    #[arg(long, default_value_t = DEFAULT_TILE)]
    pub tile: u32,
    /// auto, cpu, cuda or cuda:N (default: [stylize] device in the config).
    #[arg(long, value_parser = super::choices::device_arg)]
    pub device: Option<String>,
    /// A multi-style model's style by name or 0-based index, or (adain, wct)
    /// a painting by path or bundled name; `:W` its weight; repeat to mix
    /// (weights normalised as stylize's --style).
    #[arg(long = "style", value_name = "STYLE|INDEX[:W]")]
    pub styles: Vec<String>,
    /// Options of the arbitrary-style models (adain, wct).
    #[command(flatten)]
    pub arbitrary: super::arbitrary::ArbApplyArgs,
}

/// An apply built from what the user typed, with the config's libraries
/// and limits: what `atelier apply` runs and `queue add apply` queues.
pub fn build_apply(
    model: &str,
    contents: &[String],
    size: Option<u32>,
    choice: StyleChoice,
    models: &ModelLibrary,
    c: &Config,
) -> Result<Built> {
    let paintings = Library::open(&resolve(&c.paths.styles)).ok();
    let photos = Library::open(&resolve(&c.paths.contents)).ok();
    let libs = Libraries {
        models,
        paintings: paintings.as_ref(),
        contents: photos.as_ref(),
    };
    Ok(from_queries(
        model,
        contents,
        size,
        &choice,
        libs,
        &c.limits(),
    )?)
}

pub fn apply(a: ApplyArgs, c: &Config, data_dir: Option<&Path>) -> Result<i32> {
    let device = parse_device(a.device.as_deref().unwrap_or(&c.stylize.device))?;
    check_tile(a.tile)?;
    let lib = library(c, data_dir)?;
    let choice = a.arbitrary.choice(&a.styles);
    // Every input is read and checked before anything is written.
    let built = build_apply(&a.model, &a.contents, a.size, choice, &lib, c)?;
    let Built { spec, .. } = a.arbitrary.masked(built)?;
    super::arbitrary::say_regions(&spec);
    if spec.arbitrary.is_some() {
        return super::arbitrary::apply(&a, &spec, c, device);
    }
    let model = Model::load(&spec.model, device)?;
    // The style images it was trained on, where this machine has them.
    let trained_on = lib.find(&a.model).map(|e| e.styles).unwrap_or_default();
    let gram = match spec.msg.is_empty() {
        true => None,
        false => Some(target_of(&model, &spec.msg, spec.pixel_limit, device)?),
    };
    let label = spec.label();
    let mut inputs = Vec::new();
    for p in &spec.contents {
        inputs.push((p.clone(), load_rgb(p, spec.pixel_limit)?));
    }
    let into_dir = output_folder(a.output.as_deref(), inputs.len(), c)?;
    let sum: f64 = spec.msg.iter().map(|p| p.weight).sum();
    let style_images: Vec<(&PathBuf, f64)> = spec
        .msg
        .iter()
        .filter_map(|p| match &p.source {
            MsgSource::Painting(path) => Some((path, p.weight / sum)),
            MsgSource::Trained(_) => None,
        })
        .collect();
    for (p, photo) in &inputs {
        let out = output_path(a.output.as_deref(), into_dir.as_deref(), p, &label);
        refuse_input(&out, &spec.contents)?;
        let img = match a.size {
            Some(s) => crate::engine::infra::image_io::resize_longer_side(photo, s),
            None => photo.clone(),
        };
        let masks = masks_for(&spec, photo.dimensions(), &img, device)?;
        let t0 = Instant::now();
        let result = match &gram {
            Some(g) => apply_gram(&model, &img, g, device, a.tile)?,
            None => apply_mix(&model, &img, spec.mix.as_ref(), device, a.tile)?,
        };
        let result = keep_photo_outside(result, &img, &masks)?;
        let secs = t0.elapsed().as_secs_f64();
        let provenance = serde_json::json!({
            "method": "fast",
            "model": spec.model_display(),
            "model_path": spec.model,
            "styles": trained_on,
            "mix": spec.mix,
            "style_images": gram.as_ref().map(|_| &style_images),
            "arch": model.info.arch,
            "content": p,
            "size": [img.width(), img.height()],
            "device": device_name(device),
            "seconds": secs,
        });
        write_applied(&out, &result, &provenance, secs)?;
    }
    Ok(0)
}

/// Writes an applied image with its provenance (PNG text `atelier:apply`)
/// and says where, how large and how long it took.
pub(super) fn write_applied(
    out: &Path,
    result: &image::RgbImage,
    provenance: &serde_json::Value,
    secs: f64,
) -> Result<()> {
    let text = [
        ("Software", format!("atelier {}", env!("CARGO_PKG_VERSION"))),
        ("atelier:apply", provenance.to_string()),
    ];
    save_png(out, result, &text, false)?;
    println!(
        "{} ({}x{}, {secs:.2} s)",
        out.display(),
        result.width(),
        result.height()
    );
    Ok(())
}

/// Refuses to write `out` over one of `inputs` (absolute paths).
pub(super) fn refuse_input(out: &Path, inputs: &[PathBuf]) -> Result<()> {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    if inputs.contains(&canon(out)) {
        bail!("{}: is an input; refusing to write over it", out.display());
    }
    Ok(())
}

/// Where `apply` writes: `None` for the file `-o` names (its extension
/// naming a format atelier writes); else the folder, created: `-o` when it
/// names one (existing, or with a trailing slash), or the output folder.
pub(super) fn output_folder(
    output: Option<&Path>,
    photos: usize,
    c: &Config,
) -> Result<Option<PathBuf>> {
    let dir = match output {
        Some(o) if names_folder(o) => o.to_path_buf(),
        Some(_) if photos > 1 => {
            bail!("-o names a file but {photos} photos were given: pass a folder")
        }
        Some(o) => {
            image_format(o)?;
            return Ok(None);
        }
        None => resolve(&c.paths.output),
    };
    create_folder(&dir)?;
    Ok(Some(dir))
}

/// The output of `photo`: a new `<stem>__<label>.png` in `dir`, else the
/// file `-o` names.
pub(super) fn output_path(
    output: Option<&Path>,
    dir: Option<&Path>,
    photo: &Path,
    label: &str,
) -> PathBuf {
    match dir {
        Some(d) => unique_path(&d.join(format!("{}__{label}.png", stem(photo)))),
        None => output.map(Path::to_path_buf).unwrap_or_default(),
    }
}

pub(super) fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into())
}

/// The training settings `atelier train` and `atelier queue add train` share.
#[derive(Args, Debug)]
pub struct TrainOptions {
    /// Folder of training photos, searched recursively (default: the
    /// checkout's datasets/photos, or $ATELIER_HOME's).
    #[arg(long, value_parser = crate::config::cli_path,
          default_value_os_t = crate::config::home().join("datasets/photos"),
          hide_default_value = true)]
    pub dataset: PathBuf,
    /// Side of the square training crops.
    #[arg(long, default_value_t = TrainSpec::default().size)]
    pub size: u32,
    /// Longer side of the style image (default: the crop size).
    #[arg(long)]
    pub style_size: Option<u32>,
    /// Training photos per step.
    #[arg(long, default_value_t = TrainSpec::default().batch)]
    pub batch: usize,
    /// Training steps (each one batch of photos).
    #[arg(long, default_value_t = TrainSpec::default().iterations)]
    pub iterations: u64,
    /// Weight of the content (feature) loss.
    #[arg(long, default_value_t = TrainSpec::default().content_weight)]
    pub content_weight: f64,
    /// Style weight [default: 0.1 for fast style (see docs/methods.md, "Fast style",
    /// for how it was chosen), 10 for adain, 1 (feature loss) for wct].
    #[arg(long)]
    pub style_weight: Option<f64>,
    /// Weight of the total-variation (smoothness) loss.
    #[arg(long, default_value_t = TrainSpec::default().tv_weight)]
    pub tv_weight: f64,
    /// Learning rate [default: 1e-3 for fast style, 1e-4 for adain and wct].
    #[arg(long)]
    pub lr: Option<f64>,
    /// The network's normalisation of a single-style network (a multi-style
    /// one uses conditional instance norm).
    #[arg(long, default_value = "instance")]
    pub norm: Norm,
    /// Channel multiplier (1 = pytorch/examples' 32/64/128).
    #[arg(long, default_value_t = TrainSpec::default().arch.width)]
    pub width: f64,
    /// Seed of the initial weights and the photos' order and crops.
    #[arg(long, default_value_t = TrainSpec::default().seed)]
    pub seed: u64,
    /// A checkpoint (what a stopped or killed run resumes from) every N iterations.
    #[arg(long, default_value_t = TrainSpec::default().checkpoint_every)]
    pub checkpoint_every: u64,
    /// Preview of a fixed photo every N iterations (0: none).
    #[arg(long, default_value_t = TrainSpec::default().preview_every)]
    pub preview_every: u64,
    /// The photo previews show (default: the dataset's first).
    #[arg(long)]
    pub preview: Option<PathBuf>,
}

/// The style(s) of a training run: one STYLE (a single-style network), or
/// `--style` flags (a multi-style CIN network), or `--extend MODEL` with the
/// `--style` flags to add to it.
#[derive(Args, Debug)]
pub struct TrainStyles {
    /// The style image (path or bundled style name) of a single-style network.
    #[arg(required_unless_present_any = ["styles", "arch"])]
    pub style: Option<String>,
    /// A style of a multi-style (conditional instance norm) network; repeat
    /// for each style (instead of STYLE).
    #[arg(long = "style", value_name = "STYLE", conflicts_with = "style")]
    pub styles: Vec<String>,
    /// Add the --style styles to this multi-style model (a model name or
    /// file), training only their γ, β; the result is a new model.
    #[arg(long, value_name = "MODEL", requires = "styles")]
    pub extend: Option<String>,
}

/// What [`TrainStyles`] resolved to.
pub struct ChosenStyles {
    /// The paintings, named by the library (else their stems).
    pub paintings: Vec<Painting>,
    pub multi: bool,
    /// The model extended: its path and what it says of itself.
    pub extend: Option<(PathBuf, ModelInfo)>,
    /// The default name of the trained model.
    pub default_name: String,
}

impl TrainStyles {
    /// An MSG-Net (`msg`) needs its paintings named; `--arch` alone lets
    /// clap accept none.
    pub fn check_msg(&self, msg: bool) -> Result<()> {
        if msg && self.style.is_none() && self.styles.is_empty() {
            bail!("--arch msg: name the styles to train on with --style, repeated");
        }
        Ok(())
    }

    pub fn resolve(&self, c: &Config, models: &ModelLibrary) -> Result<ChosenStyles> {
        let lib = Library::open(&resolve(&c.paths.styles)).ok();
        let queries: Vec<&String> = match &self.style {
            Some(s) => vec![s],
            None => self.styles.iter().collect(),
        };
        let mut paintings = Vec::new();
        for q in queries {
            let p = resolve_image(q, lib.as_ref())?;
            let p = std::fs::canonicalize(&p).unwrap_or(p);
            let name = lib
                .as_ref()
                .and_then(|l| {
                    l.entries()
                        .iter()
                        .find(|e| std::fs::canonicalize(l.path_of(e)).is_ok_and(|x| x == p))
                        .map(|e| e.name.clone())
                })
                .unwrap_or_else(|| stem(&p));
            paintings.push(Painting {
                path: p,
                weight: 1.0,
                name,
            });
        }
        let extend = match &self.extend {
            Some(m) => {
                let e = models.find(m)?;
                let path = std::fs::canonicalize(&e.path).unwrap_or(e.path.clone());
                Some((path, read_info(&e.path)?))
            }
            None => None,
        };
        let default_name =
            train_build::default_name(&paintings, extend.as_ref().map(|(p, _)| p.as_path()));
        Ok(ChosenStyles {
            paintings,
            multi: self.style.is_none(),
            extend,
            default_name,
        })
    }
}

impl TrainOptions {
    /// What the train builder is asked for: `chosen` trained into `network`
    /// named `name` with these settings.
    pub fn request(
        &self,
        chosen: &ChosenStyles,
        name: String,
        network: Network,
        sample_every: u64,
    ) -> train_build::Request {
        train_build::Request {
            paintings: chosen.paintings.clone(),
            multi: chosen.multi,
            network,
            extend: chosen.extend.as_ref().map(|(p, _)| p.clone()),
            name,
            options: self.spec(chosen.paintings[0].path.clone()),
            sample_every,
        }
    }

    /// The training settings, for `style` (checked by the caller).
    pub fn spec(&self, style: PathBuf) -> TrainSpec {
        let norm = self.norm;
        TrainSpec {
            more_styles: Vec::new(),
            extend: None,
            style_names: Vec::new(),
            style,
            dataset: resolve(&self.dataset),
            size: self.size,
            style_size: self.style_size.unwrap_or(self.size),
            batch: self.batch,
            iterations: self.iterations,
            content_weight: self.content_weight,
            style_weight: self
                .style_weight
                .unwrap_or(TrainSpec::default().style_weight),
            tv_weight: self.tv_weight,
            lr: self.lr.unwrap_or(TrainSpec::default().lr),
            arch: Arch {
                norm,
                width: self.width,
            },
            seed: self.seed,
            checkpoint_every: self.checkpoint_every,
            preview_every: self.preview_every,
            preview: self.preview.clone(),
        }
    }
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub styles: TrainStyles,
    #[command(flatten)]
    pub options: TrainOptions,
    /// auto, cpu, cuda or cuda:N (default: [stylize] device in the config).
    #[arg(long, value_parser = super::choices::device_arg)]
    pub device: Option<String>,
    /// Continue from this model's checkpoint (same settings).
    #[arg(long)]
    pub resume: bool,
    /// Print a progress line every N iterations.
    #[arg(long, default_value_t = 10)]
    pub log_every: u64,
    /// Model name (saved to the user's models) or a .safetensors path.
    #[arg(short, long, value_name = "MODEL")]
    pub output: Option<String>,
    /// Arbitrary-style decoders (--arch adain|wct) instead of a fast-style network.
    #[command(flatten)]
    pub arbitrary: super::arbitrary::ArbTrainArgs,
}

/// A command-line training's sink: a progress line every `log_every`
/// iterations (`line` writes it; the kinds print their own losses), the
/// preview image, the checkpoints, Ctrl-C as a stop.
pub(super) struct Printer {
    pub stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub log_every: u64,
    pub preview: PathBuf,
    pub line: fn(&TrainProgress) -> String,
}

impl Sink<TrainProgress> for Printer {
    fn progress(&mut self, p: &TrainProgress) -> Result<Flow, Error> {
        if p.iteration % self.log_every.max(1) == 0 || p.iteration == p.of {
            println!("{}", (self.line)(p));
        }
        Ok(if self.stop.load(Ordering::SeqCst) {
            Flow::Stop
        } else {
            Flow::Continue
        })
    }

    fn preview(&mut self, _step: usize, image: &tch::Tensor) -> Result<Flow, Error> {
        save_png(&self.preview, &from_tensor(image)?, &[], true)?;
        Ok(Flow::Continue)
    }

    fn checkpoint(&mut self, step: usize, path: &Path) -> Result<Flow, Error> {
        println!("checkpoint at {step}: {}", path.display());
        Ok(Flow::Continue)
    }
}

/// A fast-style training's progress line.
fn fast_line(p: &TrainProgress) -> String {
    let l = |k: &str| p.losses.get(k).copied().unwrap_or(0.0);
    let losses = format!(
        "content {:.4e}  style {:.4e}  tv {:.3e}  total {:.4e}",
        l("content"),
        l("style"),
        l("tv"),
        l("total")
    );
    progress_line(p, &losses)
}

/// A training's progress line around its `losses`: iteration, speed, time.
pub(super) fn progress_line(p: &TrainProgress, losses: &str) -> String {
    let per_it = p.elapsed.as_secs_f64() / p.iteration.max(1) as f64;
    format!(
        "iter {}/{}  {losses}  {:.2} img/s  elapsed {:.0} s  eta {:.0} s",
        p.iteration,
        p.of,
        p.images_per_second,
        p.elapsed.as_secs_f64(),
        (p.of - p.iteration) as f64 * per_it
    )
}

pub fn train(a: TrainArgs, c: &Config, data_dir: Option<&Path>) -> Result<i32> {
    let msg = a.arbitrary.arch == Some(TrainArch::Msg);
    if a.arbitrary.arch.is_some() && !msg {
        return super::arbitrary::train(a, c, data_dir);
    }
    a.styles.check_msg(msg)?;
    let device = parse_device(a.device.as_deref().unwrap_or(&c.stylize.device))?;
    let lib = library(c, data_dir)?;
    let chosen = a.styles.resolve(c, &lib)?;
    let name = match &a.output {
        Some(o) => o.clone(),
        None => train_build::model_name(&lib, None, &chosen.default_name)?,
    };
    let out = model_output(&lib, &name)?;
    if out.exists() && !a.resume {
        bail!("{}: already exists; pick another -o", out.display());
    }
    let work = c.data_dir(data_dir)?.join("training");
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let tag = stem(&out);
    let lock = TrainLock::take(&work, &tag)?;
    lock.clean_partials(&work);
    let network = if msg {
        Network::Msg
    } else {
        Network::Transformer
    };
    let req = a.options.request(&chosen, tag.clone(), network, 1);
    // Every file checked as a queued training's are (the same sentences);
    // the training itself reads them as the user named them.
    train_build::build(&req, &c.limits())?;
    let spec = req.spec()?.train;
    let mut checkpoint = work.join(format!("{tag}.checkpoint.safetensors"));
    let resume = if a.resume {
        if !checkpoint.exists() {
            // Saved under another -o: the checkpoint whose settings are these.
            checkpoint = find_checkpoint(&work, &spec).ok_or_else(|| {
                anyhow::anyhow!(
                    "{}: no checkpoint, and none in {} was made with these settings",
                    checkpoint.display(),
                    work.display()
                )
            })?;
        }
        Some(read_resume_for(&checkpoint, &spec)?)
    } else {
        refuse_unfinished(&checkpoint)?;
        None
    };
    let weights = Weights::load(&resolve(&c.paths.weights))?;
    let vgg = Vgg19::new(&weights, Pooling::Max, device)?;
    let preview = work.join(format!("{tag}.preview.png"));
    println!(
        "training {} on {} ({}), {} iterations of {} x {} px, width {}, {} norm; preview {}",
        out.display(),
        spec.dataset.display(),
        device_name(device),
        spec.iterations,
        spec.batch,
        spec.size,
        spec.arch.width,
        spec.arch.norm,
        preview.display()
    );
    if chosen.multi {
        println!(
            "styles: {}{}",
            chosen
                .paintings
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            match &chosen.extend {
                Some((p, i)) => format!(
                    " (added to the {} of {}, which stay as they are)",
                    i.styles.len(),
                    p.display()
                ),
                None => String::new(),
            }
        );
    }
    if let Some(r) = &resume {
        println!(
            "resuming at iteration {} from {}",
            r.iteration,
            r.checkpoint.display()
        );
    }
    let mut obs = Printer {
        stop: super::stop_flag()?,
        log_every: a.log_every,
        preview,
        line: fast_line,
    };
    let o = match stopped(train_job(
        &spec,
        &vgg,
        &checkpoint,
        resume.as_ref(),
        &mut obs,
    ))? {
        Ok(o) => o,
        Err(code) => return Ok(code),
    };
    let saved = save_trained(&out, &checkpoint, |p| o.model.save(p))?;
    let _ = std::fs::remove_file(&checkpoint);
    drop(lock);
    println!(
        "saved {} ({} iterations, {:.0} s, total loss {:.4e})",
        saved.display(),
        o.iterations,
        o.seconds,
        o.final_losses.get("total").copied().unwrap_or(0.0)
    );
    Ok(0)
}

/// Refuses to start a training over the checkpoint of an unfinished one.
pub(super) fn refuse_unfinished(checkpoint: &Path) -> Result<()> {
    if checkpoint.exists() {
        bail!("{}: a checkpoint of an unfinished run exists; pass --resume to continue it (or delete it)", checkpoint.display());
    }
    Ok(())
}

/// A training's result, or (stopped by Ctrl-C, its checkpoint kept) the
/// exit code after saying how to continue.
pub(super) fn stopped<T>(r: Result<T, Error>) -> Result<Result<T, i32>> {
    match r {
        Ok(t) => Ok(Ok(t)),
        Err(Error::Cancelled) => {
            eprintln!("stopped; continue with the same command and --resume");
            Ok(Err(super::EXIT_CANCELLED))
        }
        Err(e) => Err(e.into()),
    }
}

/// The file `-o NAME` names: a `.safetensors` path as given, else NAME in
/// the user's models — never the name of a bundled model, which the user's
/// file would hide.
pub(super) fn model_output(lib: &ModelLibrary, name: &str) -> Result<PathBuf> {
    if name.ends_with(".safetensors") {
        return Ok(PathBuf::from(name));
    }
    if lib
        .entries()
        .iter()
        .any(|e| e.name == name && e.kind == ModelKind::Bundled)
    {
        bail!("-o {name}: a bundled model has that name, and yours would hide it; pick another -o");
    }
    Ok(lib.user.join(format!("{name}.safetensors")))
}

/// A checkpoint in `work` made with `spec`'s settings (another -o).
fn find_checkpoint(work: &Path, spec: &TrainSpec) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(work)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(".checkpoint.safetensors"))
        })
        .filter(|p| read_resume_for(p, spec).is_ok())
        .collect();
    found.sort();
    found.pop()
}

/// Saves a trained model at `out`, or (the name was taken while it trained)
/// at the first free `<stem>-N`; a save that fails says where the trained
/// weights are kept, so nothing is lost.
pub(super) fn save_trained(
    out: &Path,
    checkpoint: &Path,
    save: impl Fn(&Path) -> Result<(), Error>,
) -> Result<PathBuf> {
    let kept = |e: Error| {
        anyhow::anyhow!(
            "{e}; the trained weights are kept in {}: fix that and run the same command with --resume",
            checkpoint.display()
        )
    };
    let mut path = out.to_path_buf();
    for n in 2..1000 {
        match save(&path) {
            Ok(()) => {
                if path != out {
                    println!(
                        "{} was taken while this run trained: saved as {}",
                        out.display(),
                        path.display()
                    );
                }
                return Ok(path);
            }
            Err(Error::OutputExists(_)) => {
                path = out.with_file_name(format!("{}-{n}.safetensors", stem(out)));
            }
            Err(e) => return Err(kept(e)),
        }
    }
    Err(kept(Error::OutputExists(path)))
}

#[derive(Subcommand, Debug)]
pub enum ModelsCmd {
    /// List the bundled and your own models.
    Ls {
        /// Print the list as JSON (name, kind, path, what each file says of itself).
        #[arg(long)]
        json: bool,
    },
    /// Show a model's metadata.
    Show {
        /// A model name (`atelier models ls`) or a model file.
        name: String,
    },
    /// Delete one of your own models (refused while queued runs or watch
    /// rules use it, unless --force).
    Rm {
        /// The name of one of your own models (bundled ones are never removed).
        name: String,
        /// Remove it even if queued or interrupted runs or watch rules use it.
        #[arg(long)]
        force: bool,
    },
    /// Import a pytorch/examples fast_neural_style state dict (.pth), or with
    /// --arch adain naoto0804/pytorch-AdaIN's decoder.pth and --encoder vgg_normalised.pth.
    Import {
        /// The .pth file: a TransformerNet state dict, or with --arch adain a decoder.
        file: PathBuf,
        /// Model name [default for --arch adain: adain].
        #[arg(long)]
        name: Option<String>,
        /// adain: a pytorch-AdaIN decoder (needs --encoder).
        #[arg(long)]
        arch: Option<String>,
        /// The encoder of --arch adain (vgg_normalised.pth).
        #[arg(long)]
        encoder: Option<PathBuf>,
    },
}

pub fn models(cmd: ModelsCmd, c: &Config, data_dir: Option<&Path>) -> Result<i32> {
    let lib = library(c, data_dir)?;
    match cmd {
        ModelsCmd::Ls { json } => {
            let entries = lib.entries();
            if json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else {
                for e in &entries {
                    let kind = if e.kind == ModelKind::Bundled {
                        "bundled"
                    } else {
                        "user"
                    };
                    let what = match (&e.info, &e.error) {
                        _ if e.arbitrary.is_some() => super::arbitrary::describe(e),
                        (Some(i), _) if i.arch.norm.is_conditional() => format!(
                            "{}, width {}, {} iterations, {} styles: {}",
                            architecture_of(&i.arch),
                            i.arch.width,
                            i.iterations,
                            i.styles.len(),
                            style_list(&i.styles)
                        ),
                        (Some(i), _) => format!(
                            "width {} {} norm, {} iterations, styles: {}",
                            i.arch.width,
                            i.arch.norm,
                            i.iterations,
                            i.styles
                                .iter()
                                .map(|s| stem(&s.path))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        (None, Some(err)) => format!("unreadable: {err}"),
                        _ => String::new(),
                    };
                    println!("{:<28} {kind:<8} {what}", e.name);
                }
                if entries.is_empty() {
                    println!(
                        "no models in {} or {}",
                        lib.bundled.display(),
                        lib.user.display()
                    );
                }
            }
        }
        ModelsCmd::Show { name } => {
            let e = lib.find(&name)?;
            if let Some(err) = &e.error {
                bail!("{err}");
            }
            println!("{}", serde_json::to_string_pretty(&e)?);
        }
        ModelsCmd::Rm { name, force } => {
            let e = lib.find(&name)?;
            if !force && e.kind == ModelKind::User {
                refuse_if_used(&name, &e.path, &lib, c, data_dir)?;
            }
            let p = lib.remove(&name)?;
            println!("removed {}", p.display());
        }
        ModelsCmd::Import {
            file,
            name,
            arch: Some(arch),
            encoder,
        } => {
            return super::arbitrary::import(&lib, &file, name, &arch, encoder.as_deref());
        }
        ModelsCmd::Import { file, name, .. } => {
            let Some(name) = name else {
                bail!("--name is needed to import a fast-style model");
            };
            let name = import_name(&name);
            let out = lib.new_user_path(name)?;
            let model = import_state_dict(&file, tch::Device::Cpu)?;
            model.save(&out)?;
            println!(
                "imported {} as {name} (width {}): {}",
                file.display(),
                model.info.arch.width,
                out.display()
            );
        }
    }
    Ok(0)
}

/// The model a `--name` names: `x.safetensors` is `x` (the library adds
/// the extension).
pub(super) fn import_name(name: &str) -> &str {
    name.strip_suffix(".safetensors").unwrap_or(name)
}

/// Refuses to remove the model at `path` while unfinished runs or watch
/// rules use it, naming them.
fn refuse_if_used(
    name: &str,
    path: &Path,
    lib: &ModelLibrary,
    c: &Config,
    data_dir: Option<&Path>,
) -> Result<()> {
    let runs = runs_using(path, c, data_dir)?;
    let rules = rules_using(path, lib, c);
    let mut uses = Vec::new();
    if !runs.is_empty() {
        let ids: Vec<String> = runs.iter().map(i64::to_string).collect();
        uses.push(format!(
            "{} {} (queued, running or interrupted)",
            if runs.len() == 1 { "run" } else { "runs" },
            ids.join(", ")
        ));
    }
    if !rules.is_empty() {
        uses.push(format!(
            "watch {} {}",
            if rules.len() == 1 { "rule" } else { "rules" },
            rules.join(", ")
        ));
    }
    if !uses.is_empty() {
        bail!(
            "model '{name}' is used by {}; pass --force to remove it anyway",
            uses.join(" and ")
        );
    }
    Ok(())
}

/// Whether `a` and `b` are the same file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The ids of the runs not yet finished (queued, running, interrupted)
/// that take the model at `path` as an input, oldest first.
fn runs_using(path: &Path, c: &Config, data_dir: Option<&Path>) -> Result<Vec<i64>> {
    let store = crate::queue::Store::open(&c.data_dir(data_dir)?)?;
    let filter = crate::queue::Filter {
        statuses: vec![Status::Queued, Status::Running, Status::Interrupted],
        ..Default::default()
    };
    let mut ids: Vec<i64> = store
        .list(&filter)?
        .into_iter()
        .filter(|r| {
            r.inputs
                .iter()
                .any(|i| i.role == crate::jobs::Role::Model && same_file(&i.path, path))
        })
        .map(|r| r.id)
        .collect();
    ids.sort();
    Ok(ids)
}

/// The names of the watch rules of the config whose `model` is the one at `path`.
fn rules_using(path: &Path, lib: &ModelLibrary, c: &Config) -> Vec<String> {
    c.watch
        .iter()
        .filter(|w| {
            w.model
                .as_deref()
                .and_then(|m| lib.find(m).ok())
                .is_some_and(|e| same_file(&e.path, path))
        })
        .map(|w| w.name())
        .collect()
}

/// The model library a worker on this data directory sees.
pub fn model_library(store: &crate::queue::Store) -> ModelLibrary {
    ModelLibrary::new(
        resolve(Path::new("models")),
        store.data_dir().join("models"),
    )
}

/// `queue add train`: a training, queued.
#[derive(Args, Debug)]
pub struct TrainAdd {
    #[command(flatten)]
    pub styles: TrainStyles,
    /// The trained model's name in your models (default: the style's name,
    /// numbered when a model has it); a name given that is taken is refused.
    #[arg(long)]
    pub name: Option<String>,
    /// msg: an MSG-Net (Zhang & Dana 2017) on the --style styles, which
    /// takes any painting when applied [default: a fast-style network].
    #[arg(long, value_name = "msg")]
    pub arch: Option<TrainArch>,
    #[command(flatten)]
    pub options: TrainOptions,
    /// Record the losses and images/s every N iterations.
    #[arg(long, default_value_t = 1)]
    pub sample_every: u64,
    #[command(flatten)]
    pub place: super::queue::Placement,
}

/// `queue add apply`: an apply, queued.
#[derive(Args, Debug)]
pub struct ApplyAdd {
    /// A model name (`atelier models ls`) or a model file.
    pub model: String,
    /// Content photos (paths or names of bundled contents).
    #[arg(required = true)]
    pub contents: Vec<String>,
    /// Resize each photo so its longer side is N px first (default: as it is).
    #[arg(long, value_name = "N")]
    pub size: Option<u32>,
    /// A multi-style model's style by name or index, or an adain/wct model's
    /// painting (a path or a library name), with an optional weight; repeat
    /// to mix (as `atelier apply --style`).
    #[arg(long = "style", value_name = "STYLE[:W]")]
    pub styles: Vec<String>,
    #[command(flatten)]
    pub arbitrary: super::arbitrary::ArbApplyArgs,
    #[command(flatten)]
    pub place: super::queue::Placement,
}

pub(super) fn add_train(a: TrainAdd, store: &mut crate::queue::Store, c: &Config) -> Result<i32> {
    let network = match a.arch {
        None => Network::Transformer,
        Some(TrainArch::Msg) => Network::Msg,
        Some(TrainArch::Arbitrary(m)) => bail!(
            "--arch {}: adain and wct decoders are trained with `atelier train --arch {}`, not queued",
            m.architecture(),
            m.architecture()
        ),
    };
    a.styles.check_msg(network == Network::Msg)?;
    let models = model_library(store);
    let chosen = a.styles.resolve(c, &models)?;
    let name = train_build::model_name(&models, a.name.as_deref(), &chosen.default_name)?;
    let req = a.options.request(&chosen, name, network, a.sample_every);
    let (job, inputs) = train_build::build(&req, &c.limits())?.job();
    let id = store.add_job(&job, &inputs, a.place.priority)?;
    super::queue::report(store, id, a.place.json)
}

pub(super) fn add_apply(a: ApplyAdd, store: &mut crate::queue::Store, c: &Config) -> Result<i32> {
    let models = model_library(store);
    let built = build_apply(
        &a.model,
        &a.contents,
        a.size,
        a.arbitrary.choice(&a.styles),
        &models,
        c,
    )?;
    let built = a.arbitrary.masked(built)?;
    if !a.place.json {
        super::arbitrary::say_regions(&built.spec);
    }
    let (job, inputs) = built.job();
    let id = store.add_job(&job, &inputs, a.place.priority)?;
    super::queue::report(store, id, a.place.json)
}
