//! `atelier stylize`: one run from the command line, with a progress bar, loss
//! lines, Ctrl-C handling and an atomic PNG at the end.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use image::RgbImage;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::EXIT_CANCELLED;
use crate::config::{resolve, Config};
use crate::engine::gatys::guides::MaskMode;
use crate::engine::gatys::mrf::StyleLoss;
use crate::engine::gatys::spec::{parse_layers, Init, LayerWeight, OptimizerKind, RunSpec};
use crate::engine::gatys::transfer::{Event, Flow, Progress, Sink};
use crate::engine::infra::device::{device_name, parse_device};
use crate::engine::infra::image_io::{
    fit_longer_side, from_tensor, load_rgb, provenance, save_png_with, software, unique_path,
};
use crate::engine::infra::label_map::RegionMap;
use crate::engine::infra::library::{resolve_image, Library};
use crate::engine::infra::memory;
use crate::engine::infra::output::{
    create_folder, image_format, names_folder, os_reason, OutputPolicy,
};
use crate::engine::nets::color::ColorMode;
use crate::engine::nets::vgg::Vgg19;
use crate::engine::nets::vgg::{Padding, Pooling};
use crate::engine::nets::weights::Weights;
use crate::engine::Error;
use crate::jobs::stylize::build;
use crate::jobs::stylize::run as stylize_job;
use crate::queue::run::DeviceDefaults;
use crate::queue::Store;

/// The options `stylize` and `texture` share: where the output goes, its size,
/// the optimisation's length, seed and device, and what it reports.
#[derive(Args, Debug)]
pub struct CommonArgs {
    /// Output PNG (default: a name from the inputs in the output folder, never overwriting).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Overwrite the output file if it exists, and run even if the memory
    /// estimate exceeds the free memory.
    #[arg(long)]
    pub force: bool,
    /// Longer side of the output in px (default: 256 on CPU, 512 on GPU).
    #[arg(long)]
    pub size: Option<u32>,
    /// Optimiser iterations (default: 200 on CPU, 1000 on GPU), over all scales.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Seed of the random parts (noise init, tiling offsets).
    #[arg(long)]
    pub seed: Option<u64>,
    /// auto, cpu, cuda or cuda:N (default: [stylize] device in the config).
    #[arg(long, value_parser = super::choices::device_arg)]
    pub device: Option<String>,
    /// Every N evaluations, write the current image to <output stem>.snapshots/step-NNNNNN.png.
    #[arg(long, value_name = "N")]
    pub save_every: Option<usize>,
    /// Print losses every N evaluations (0: never).
    #[arg(long, value_name = "N")]
    pub log_every: Option<usize>,
}

#[derive(Args, Debug)]
pub struct StylizeArgs {
    /// Content image: a path or a bundled photo's name (see `atelier contents`).
    pub content: Option<String>,
    /// Style image: a path or a bundled painting's name (see `atelier styles`).
    pub style: Option<String>,
    /// A style with its blend weight, e.g. --style irises:0.7 --style the-harvesters:0.3
    /// (repeatable; weights are normalised; instead of the STYLE argument).
    #[arg(long = "style", value_name = "STYLE[:W]")]
    pub style_flags: Vec<String>,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub masks: MaskArgs,
    /// The style image's longer side as a multiple of --size (0.5 to 2; default 1).
    #[arg(long, value_name = "S")]
    pub style_scale: Option<f64>,
    /// Optimise in N-px tiles (overlapping, the grid moving between passes).
    #[arg(long, value_name = "N")]
    pub tile: Option<u32>,
    /// Keep the content's colours: none, luminance (transfer on luminance, content's
    /// chroma) or histogram (style recoloured to the content's colour statistics).
    #[arg(long, value_name = "MODE")]
    pub preserve_colors: Option<ColorMode>,
    /// Coarse-to-fine scales: auto (from 128 px up in √2 steps) or a number (default 1).
    #[arg(long, value_name = "auto|N")]
    pub scales: Option<String>,
    /// Weight of the content loss (default 5, or the config's [run]).
    #[arg(long, value_name = "W")]
    pub content_weight: Option<f64>,
    /// Weight of the style loss (default 100, or the config's [run]).
    #[arg(long, value_name = "W")]
    pub style_weight: Option<f64>,
    /// Weight of the total-variation (smoothness) loss (default 1e-3, or the config's [run]).
    #[arg(long, value_name = "W")]
    pub tv_weight: Option<f64>,
    /// Comma-separated layers with optional weights, e.g. relu4_2 or relu3_1:0.5,relu4_2.
    #[arg(long, value_name = "LAYERS")]
    pub content_layers: Option<String>,
    /// Comma-separated layers with optional weights.
    #[arg(long, value_name = "LAYERS")]
    pub style_layers: Option<String>,
    /// Style loss: gram, mrf (Li & Wand patches) or both.
    #[arg(long, value_name = "KIND")]
    pub style_loss: Option<StyleLoss>,
    /// Weight of the MRF loss (default 1).
    #[arg(long, value_name = "W")]
    pub mrf_weight: Option<f64>,
    /// Layers for the MRF loss, comma-separated with optional weights (default relu3_1,relu4_1).
    #[arg(long, value_name = "LAYERS")]
    pub mrf_layers: Option<String>,
    /// The optimiser (default lbfgs; l-bfgs is taken too).
    #[arg(long)]
    pub optimizer: Option<OptimizerKind>,
    /// Learning rate (default 1 for lbfgs, 10/255 for adam).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Strong-Wolfe line search for L-BFGS.
    #[arg(long)]
    pub line_search: bool,
    /// Where the optimisation starts (default content; random is noise).
    #[arg(long)]
    pub init: Option<Init>,
    /// VGG's pooling (default max).
    #[arg(long)]
    pub pooling: Option<Pooling>,
    /// The convolutions' edge padding: zero (as trained) or replicate (less
    /// of a dark border).
    #[arg(long)]
    pub padding: Option<Padding>,
    /// Stop early once the best loss improves by less than this fraction over
    /// --window evaluations (e.g. 0.001). Off by default.
    #[arg(long, value_name = "REL")]
    pub stop_when_flat: Option<f64>,
    /// Evaluations the plateau test looks back over (default 50).
    #[arg(long, value_name = "N")]
    pub window: Option<usize>,
    /// CPU threads for libtorch (default: libtorch's choice).
    #[arg(long)]
    pub threads: Option<i32>,
    /// Write a JSON summary (evaluations, loop seconds, final losses) to this file.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Check the inputs and print the plan (size, scales and their steps,
    /// memory estimate) without running; --summary-json gets the plan.
    #[arg(long)]
    pub dry_run: bool,
}

/// Where each style acts and where the photo is kept.
#[derive(Args, Debug, Default)]
pub struct MaskArgs {
    /// A greyscale mask per style, in the order of the styles (white: this
    /// style, grey: partly, black: not); where no mask is white only the photo's content acts.
    #[arg(long = "style-mask", value_name = "MASK")]
    pub style_masks: Vec<PathBuf>,
    /// Instead of --style-mask: one colour-coded map (or greyscale label map), a colour per
    /// style; the styles take the colours in reading order (the first colour met from the
    /// top-left corner, row by row, goes to the first style).
    #[arg(long, value_name = "MAP", conflicts_with = "style_masks")]
    pub regions: Option<PathBuf>,
    /// Style only inside this greyscale mask; outside, the output is the photo.
    #[arg(long, value_name = "MASK")]
    pub content_mask: Option<PathBuf>,
    /// How masks reach each layer: simple (resized; the default) or propagate (softened through the network).
    #[arg(long, value_name = "MODE")]
    pub mask_mode: Option<MaskMode>,
}

impl MaskArgs {
    /// Writes the masks into `spec`.
    pub fn apply(&self, spec: &mut RunSpec) {
        if !self.style_masks.is_empty() {
            spec.style_masks = self.style_masks.clone();
        }
        if let Some(map) = &self.regions {
            spec.regions = Some(RegionMap::new(map));
        }
        spec.content_mask = self.content_mask.clone().or(spec.content_mask.take());
        spec.mask_mode = self.mask_mode.unwrap_or(spec.mask_mode);
    }
}

fn layers(s: &Option<String>, default: &[LayerWeight]) -> Result<Vec<LayerWeight>, Error> {
    match s {
        Some(s) => parse_layers(s),
        None => Ok(default.to_vec()),
    }
}

/// The run parameters of the arguments over the config (`[run]`, the
/// device's size and steps); the stylize builder checks them.
fn params_from_args(a: &StylizeArgs, c: &Config, gpu: bool) -> Result<RunSpec, Error> {
    let d = if gpu { c.gpu } else { c.cpu };
    let mut spec = RunSpec {
        size: a.common.size.unwrap_or(d.size),
        steps: a.common.steps.unwrap_or(d.steps),
        ..c.run.clone()
    };
    let set = |v: Option<f64>, field: &mut f64| {
        if let Some(v) = v {
            *field = v;
        }
    };
    set(a.style_scale, &mut spec.style_scale);
    set(a.content_weight, &mut spec.content_weight);
    set(a.style_weight, &mut spec.style_weight);
    set(a.tv_weight, &mut spec.tv_weight);
    spec.content_layers = layers(&a.content_layers, &c.run.content_layers)?;
    spec.style_layers = layers(&a.style_layers, &c.run.style_layers)?;
    spec.mrf_layers = layers(&a.mrf_layers, &c.run.mrf_layers)?;
    set(a.mrf_weight, &mut spec.mrf_weight);
    spec.style_loss = a.style_loss.unwrap_or(spec.style_loss);
    spec.tile = a.tile.or(spec.tile);
    if let Some(s) = &a.scales {
        spec.scales = s.parse()?;
    }
    spec.preserve_colors = a.preserve_colors.unwrap_or(spec.preserve_colors);
    spec.optimizer = a.optimizer.unwrap_or(spec.optimizer);
    spec.learning_rate = a.lr.or(spec.learning_rate);
    spec.line_search |= a.line_search;
    spec.init = a.init.unwrap_or(spec.init);
    spec.pooling = a.pooling.unwrap_or(spec.pooling);
    spec.padding = a.padding.unwrap_or(spec.padding);
    spec.seed = a.common.seed.unwrap_or(spec.seed);
    spec.stop_when_flat = a.stop_when_flat.or(spec.stop_when_flat);
    spec.flat_window = a.window.unwrap_or(spec.flat_window);
    a.masks.apply(&mut spec);
    Ok(spec)
}

/// ` over scales 128, 181, 256 px (33, 17, 150 steps)` for a multi-scale run.
fn describe_scales(spec: &RunSpec) -> Result<String, Error> {
    let sizes = spec.pyramid()?;
    if sizes.len() == 1 {
        return Ok(String::new());
    }
    let steps = crate::engine::gatys::pyramid::split_steps(spec.steps, &sizes);
    let list = |v: Vec<String>| v.join(", ");
    Ok(format!(
        " over scales {} px ({} steps)",
        list(sizes.iter().map(|s| s.to_string()).collect()),
        list(steps.iter().map(|s| s.to_string()).collect())
    ))
}

/// `a.jpg`, or `a.jpg (0.70) + b.jpg (0.30)` for a blend.
/// The paintings by the names the Library gives them (else their files'),
/// with their shares of a blend.
fn describe_styles(spec: &RunSpec, names: &[String]) -> String {
    if let [one] = names {
        return one.clone();
    }
    names
        .iter()
        .zip(spec.style_blend())
        .map(|(n, w)| format!("{n} ({w:.2})"))
        .collect::<Vec<_>>()
        .join(" + ")
}

pub(super) fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into())
}

/// The output path, checked under the run's output policy before the run so
/// no time is spent on a run whose result could not be written: `output` if
/// given (its extension naming a format atelier writes), else a new file
/// `default_name` in the output folder, or in `output` when that names a
/// folder (an existing one, or one with a trailing slash: created).
pub(super) fn check_output(
    output: Option<&Path>,
    policy: &OutputPolicy,
    c: &Config,
    default_name: &str,
) -> Result<PathBuf, Error> {
    let dir = match output {
        Some(p) if names_folder(p) => p.to_path_buf(),
        Some(p) => {
            image_format(p)?;
            policy.check(p)?;
            return Ok(p.to_path_buf());
        }
        None => resolve(&c.paths.output),
    };
    create_folder(&dir)?;
    let path = unique_path(&dir.join(default_name));
    policy.check(&path)?;
    Ok(path)
}

/// Checks every file the run will write besides the image, before it starts:
/// the summary (its folder must exist), and the snapshot folder (refused if
/// it exists, unless forced, so old snapshots are not mixed with new ones).
pub(super) fn check_side_outputs(
    out: &Path,
    summary: Option<&Path>,
    save_every: usize,
    policy: &OutputPolicy,
) -> Result<(), Error> {
    if let Some(p) = summary {
        policy.check(p)?;
        OutputPolicy::check_distinct(&[out, p])?;
    }
    if save_every > 0 {
        let dir = snapshot_dir(out);
        if dir.exists() && !policy.force() {
            return Err(Error::OutputExists(dir));
        }
    }
    Ok(())
}

/// What the stylize builder is asked for: CONTENT and STYLE (paths or
/// library names, the config's `[stylize]` ones when left out) and the run
/// parameters of the arguments.
pub fn request_from_args(a: &StylizeArgs, c: &Config, gpu: bool) -> Result<build::Request, Error> {
    let contents = Library::open(&resolve(&c.paths.contents)).ok();
    let styles = Library::open(&resolve(&c.paths.styles)).ok();
    let content_q = a
        .content
        .clone()
        .unwrap_or_else(|| c.stylize.content.clone());
    let style_qs: Vec<String> = match (&a.style, a.style_flags.is_empty()) {
        (Some(_), false) => {
            return Err(Error::invalid(
                "style",
                "give the style either as the STYLE argument or with --style, not both",
            ))
        }
        (Some(s), true) => vec![s.clone()],
        (None, true) => vec![c.stylize.style.clone()],
        (None, false) => a.style_flags.clone(),
    };
    let content = resolve_image(&content_q, contents.as_ref())?;
    let paintings = style_qs
        .iter()
        .map(|q| build::Painting::find(q, styles.as_ref()))
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(build::Request {
        content_name: Some(stem(&content)),
        content,
        paintings,
        params: params_from_args(a, c, gpu)?,
    })
}

/// Prints which colour of a region map goes to which of the styles
/// `names` and how much of the image it covers.
pub fn say_regions(regions: Option<&RegionMap>, names: &[String]) {
    if let Some(r) = regions {
        println!("{}", crate::jobs::stylize::regions_line(r, names));
    }
}

/// The checked spec of the arguments (no file read) and the styles' short
/// name for output file names.
pub fn spec_from_args(a: &StylizeArgs, c: &Config, gpu: bool) -> Result<(RunSpec, String), Error> {
    let req = request_from_args(a, c, gpu)?;
    Ok((req.spec(&c.limits())?, req.style_names().join("+")))
}

pub fn run(a: StylizeArgs, c: &Config) -> Result<i32> {
    if let Some(n) = a.threads {
        anyhow::ensure!(n >= 1, "invalid threads: {n} (must be at least 1)");
        tch::set_num_threads(n);
    }
    let device = parse_device(a.common.device.as_deref().unwrap_or(&c.stylize.device))?;
    let gpu = device.is_cuda();

    let req = request_from_args(&a, c, gpu)?;
    // Every file checked as a queued run's are (the same sentences); the
    // run itself reads them as the user named them.
    let built = build::build(&req, &c.limits())?;
    say_regions(built.spec.regions.as_ref(), &req.style_names());
    let mut spec = req.spec(&c.limits())?;
    // The colours as checked, so the run splits the map as printed.
    spec.regions = built.spec.regions;
    let style_name = req.style_names().join("+");
    let content_path = spec.content.clone();
    let inputs: Vec<&Path> = std::iter::once(content_path.as_path())
        .chain(spec.styles.iter().map(|s| s.path.as_path()))
        .chain(spec.style_masks.iter().map(PathBuf::as_path))
        .chain(spec.regions.as_ref().map(|r| r.path.as_path()))
        .chain(spec.content_mask.as_deref())
        .collect();
    let policy = OutputPolicy::new(a.common.force, &inputs);
    let out = check_output(
        a.common.output.as_deref(),
        &policy,
        c,
        &format!("{}__{style_name}.png", stem(&content_path)),
    )?;
    let save_every = a.common.save_every.unwrap_or(0);
    check_side_outputs(&out, a.summary_json.as_deref(), save_every, &policy)?;
    let content_img = load_rgb(&content_path, spec.pixel_limit)?;
    let style_imgs = spec
        .styles
        .iter()
        .map(|s| load_rgb(&s.path, spec.pixel_limit))
        .collect::<Result<Vec<_>, Error>>()?;
    let (w, h) = fit_longer_side(content_img.width(), content_img.height(), spec.size);
    let header = format!(
        "{} with {} at {w}x{h} on {}: {} {} steps{}",
        content_path.display(),
        describe_styles(&spec, &req.style_names()),
        device_name(device),
        match spec.optimizer {
            crate::engine::gatys::spec::OptimizerKind::Lbfgs => "L-BFGS",
            crate::engine::gatys::spec::OptimizerKind::Adam => "Adam",
        },
        spec.steps,
        describe_scales(&spec)?
    );
    if a.dry_run {
        return dry_run(&spec, &header, &content_img, device, &out, &a, &policy);
    }
    let weights = Weights::load(&resolve(&c.paths.weights))?;
    let vgg = Vgg19::new(&weights, spec.pooling, device)?;
    drop(weights);
    println!("stylizing {header}");

    let opts = Finish {
        output: out,
        policy,
        log_every: a.common.log_every.unwrap_or(c.stylize.log_every),
        summary_json: a.summary_json.clone(),
        save_every,
    };
    optimise_and_save(&vgg, &spec, &content_img, &style_imgs, device, &opts)
}

/// `--dry-run`: prints what the run would do and writes the plan to the
/// summary file (the multi-scale benchmark reads each scale's steps from it).
/// A run the memory guard would refuse fails here the same way.
fn dry_run(
    spec: &RunSpec,
    header: &str,
    content: &RgbImage,
    device: tch::Device,
    out: &Path,
    a: &StylizeArgs,
    policy: &OutputPolicy,
) -> Result<i32> {
    let sizes = spec.pyramid()?;
    let steps = crate::engine::gatys::pyramid::split_steps(spec.steps, &sizes);
    let (cw, ch) = content.dimensions();
    let e = if a.common.force {
        memory::estimate(spec, cw, ch, device)
    } else {
        memory::check(spec, cw, ch, device)?
    };
    let (w, h) = fit_longer_side(cw, ch, spec.size);
    let mib = memory::mib;
    println!("dry run: would stylize {header}");
    println!(
        "memory: about {} for the run{}",
        mib(e.run),
        e.available
            .map(|a| format!(", {} free", mib(a)))
            .unwrap_or_default()
    );
    println!("output: {}", out.display());
    if let Some(p) = &a.summary_json {
        let plan = serde_json::json!({
            "dry_run": true,
            "size": [w, h],
            "device": device_name(device),
            "scales": sizes,
            "steps": steps,
            "memory": { "estimated_run_bytes": e.run, "available_bytes": e.available },
            "output": out,
        });
        policy.write_bytes(p, serde_json::to_string_pretty(&plan)?.as_bytes())?;
    }
    Ok(0)
}

/// Where and how a run's result is written.
pub(super) struct Finish {
    pub output: PathBuf,
    /// Force and the run's inputs: how every file of the run is written.
    pub policy: OutputPolicy,
    pub log_every: usize,
    pub summary_json: Option<PathBuf>,
    /// Snapshot interval in evaluations (0: none).
    pub save_every: usize,
}

/// Where the snapshots of a run writing `out` go: `<out stem>.snapshots/`
/// beside it.
pub(super) fn snapshot_dir(out: &Path) -> PathBuf {
    out.with_file_name(format!("{}.snapshots", stem(out)))
}

/// Runs the optimisation with the progress bar, loss lines and Ctrl-C, then
/// writes the PNG (with the spec in its text chunk) and the optional summary.
pub(super) fn optimise_and_save(
    vgg: &Vgg19,
    spec: &RunSpec,
    content: &RgbImage,
    styles: &[RgbImage],
    device: tch::Device,
    f: &Finish,
) -> Result<i32> {
    let (w, h) = fit_longer_side(content.width(), content.height(), spec.size);
    let out = &f.output;
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        // A second Ctrl-C exits at once, in case the run is stuck in a long op.
        ctrlc::set_handler(move || {
            if cancel.swap(true, Ordering::SeqCst) {
                std::process::exit(EXIT_CANCELLED);
            }
        })
        .context("cannot install the Ctrl-C handler")?;
    }

    let log_every = f.log_every;
    let budget = spec.eval_budget();
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(budget as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} evals  {per_sec}  eta {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut observer = CliObserver {
        bar: &bar,
        log_every,
        cancel: &cancel,
        save_every: f.save_every,
        snapshots: snapshot_dir(out),
        policy: &f.policy,
        written: 0,
        trace: Vec::new(),
        started: std::time::Instant::now(),
    };
    // The memory guard: refuse before starting a run that cannot fit.
    let estimate = if f.policy.force() {
        memory::estimate(spec, content.width(), content.height(), device)
    } else {
        memory::check(spec, content.width(), content.height(), device)?
    };
    let measured = memory::reset_peak();
    // The job's own run, as a worker runs it (from the beginning: a
    // command-line run has no resume point).
    let start = stylize_job::start(spec, content, styles, device, None)?;
    let result = stylize_job::run(vgg, &start, content, styles, device, &mut observer)
        .map_err(|e| memory::explain_oom(e, spec, device));
    let peak = if measured && !device.is_cuda() {
        memory::peak_resident_bytes()
    } else {
        None
    };
    let outcome = match result {
        Ok(o) => o,
        Err(Error::Cancelled) => {
            bar.abandon();
            // Say what is on disk: snapshots written before the stop stay.
            match observer.written {
                0 => eprintln!("cancelled: nothing written"),
                n => eprintln!(
                    "cancelled: no output written; {n} snapshot{} kept in {}",
                    if n == 1 { "" } else { "s" },
                    observer.snapshots.display()
                ),
            }
            return Ok(EXIT_CANCELLED);
        }
        Err(e) => {
            bar.abandon();
            return Err(e.into());
        }
    };
    bar.finish_and_clear();
    let secs = outcome.elapsed.as_secs_f64();
    let l = outcome.best;
    println!(
        "finished ({}): {} evaluations in {secs:.1} s ({:.3} s/eval); best at step {}: style {:.4e} content {:.4e} tv {:.4e} total {:.4e}{}",
        outcome.stop,
        outcome.evals,
        secs / outcome.evals.max(1) as f64,
        outcome.best_eval,
        l.style,
        l.content,
        l.tv,
        l.total,
        match outcome.rollbacks {
            0 => String::new(),
            n => format!(" ({n} rollbacks)"),
        }
    );

    let img = from_tensor(&outcome.image)?;
    let result = serde_json::json!({
        "stop": outcome.stop,
        "evals": outcome.evals,
        "best_eval": outcome.best_eval,
        "rollbacks": outcome.rollbacks,
        "losses": { "style": l.style, "content": l.content, "tv": l.tv, "total": l.total },
        "device": device_name(device),
    });
    let text = provenance(spec, &result)?;
    save_png_with(out, &img, &text, &f.policy)?;
    if let Some(p) = &f.summary_json {
        let summary = serde_json::json!({
            "evals": outcome.evals,
            "loop_seconds": secs,
            "size": [w, h],
            "device": device_name(device),
            "threads": tch::get_num_threads(),
            "stop": outcome.stop,
            "best_eval": outcome.best_eval,
            "rollbacks": outcome.rollbacks,
            "losses": { "style": l.style, "content": l.content, "tv": l.tv, "total": l.total },
            "last_losses": {
                "style": outcome.last.style, "content": outcome.last.content,
                "tv": outcome.last.tv, "total": outcome.last.total,
            },
            "output": out,
            "trace": {
                "seconds": observer.trace.iter().map(|t| t.0).collect::<Vec<_>>(),
                "total": observer.trace.iter().map(|t| t.1).collect::<Vec<_>>(),
                "scale": observer.trace.iter().map(|t| t.2).collect::<Vec<_>>(),
            },
            // Estimated and measured (CPU: VmHWM, reset just before the run) peaks.
            "memory": {
                "estimated_peak_bytes": estimate.peak,
                "estimated_run_bytes": estimate.run,
                "measured_peak_bytes": peak,
            },
        });
        f.policy
            .write_bytes(p, serde_json::to_string_pretty(&summary)?.as_bytes())?;
    }
    println!("wrote {}", out.display());
    Ok(0)
}

/// Prints loss lines above the progress bar, reports rollbacks, and turns
/// Ctrl-C into a stop.
struct CliObserver<'a> {
    bar: &'a ProgressBar,
    log_every: usize,
    cancel: &'a AtomicBool,
    save_every: usize,
    snapshots: PathBuf,
    policy: &'a OutputPolicy,
    /// Snapshots written so far (for an honest message on Ctrl-C).
    written: usize,
    /// (wall seconds since the run started, total loss, scale) per evaluation, for
    /// the summary: the benchmark takes medians of the gaps, compares losses at
    /// equal steps and measures time to a loss (multi-scale included).
    trace: Vec<(f64, f64, usize)>,
    started: std::time::Instant,
}

impl Sink<Event> for CliObserver<'_> {
    fn progress(&mut self, e: &Event) -> Result<Flow, Error> {
        match e {
            Event::Eval(p) => Ok(self.on_eval(p)),
            Event::Rollback(r) => {
                self.bar.suspend(|| {
                    println!(
                        "rollback {} at step {}: {}; back to the best iterate (step {}), {}",
                        r.count, r.eval, r.reason, r.to_eval, r.remedy
                    )
                });
                Ok(Flow::Continue)
            }
        }
    }

    fn preview_every(&self) -> usize {
        self.save_every
    }

    fn preview(&mut self, eval: usize, image: &tch::Tensor) -> Result<Flow, Error> {
        std::fs::create_dir_all(&self.snapshots).map_err(|e| Error::Write {
            path: self.snapshots.clone(),
            reason: os_reason(&e),
        })?;
        let path = self.snapshots.join(format!("step-{eval:06}.png"));
        let text = [("Software", software())];
        save_png_with(&path, &from_tensor(image)?, &text, self.policy)?;
        self.written += 1;
        Ok(Flow::Continue)
    }
}

impl CliObserver<'_> {
    fn on_eval(&mut self, p: &Progress) -> Flow {
        self.trace.push((
            self.started.elapsed().as_secs_f64(),
            p.losses.total,
            p.scale,
        ));
        self.bar.set_position(p.eval as u64);
        self.bar.set_message(format!("best {:.4e}", p.best_total));
        if self.log_every > 0 && (p.eval % self.log_every == 0 || p.eval == 1) {
            let l = p.losses;
            self.bar.suspend(|| {
                println!(
                    "step {}: style {:.4e} content {:.4e} tv {:.4e} total {:.4e}",
                    p.eval, l.style, l.content, l.tv, l.total
                )
            });
        }
        if self.cancel.load(Ordering::SeqCst) {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }
}

/// `queue add [stylize]`: a stylize run, queued.
#[derive(Args, Debug)]
pub struct StylizeAdd {
    #[command(flatten)]
    pub run: StylizeArgs,
    #[command(flatten)]
    pub place: super::queue::Placement,
}

/// Refuses the options of a one-shot run that a queued run would otherwise
/// silently ignore (`common`'s and the `more` given): the worker writes
/// into the run's folder and has its own settings.
pub(super) fn refuse_unqueued(common: &CommonArgs, more: &[(bool, &str)]) -> Result<()> {
    let ignored: Vec<&str> = [
        (common.output.is_some(), "-o"),
        (common.log_every.is_some(), "--log-every"),
        (common.save_every.is_some(), "--save-every"),
        (common.force, "--force"),
    ]
    .iter()
    .chain(more)
    .filter_map(|&(given, name)| given.then_some(name))
    .collect();
    if !ignored.is_empty() {
        anyhow::bail!(
            "queue add does not take {}: a queued run writes into its own folder (`atelier runs export` copies it out) and the worker sets loss lines and snapshots (`worker --log-every`, `[worker] snapshot_every`); `atelier stylize --dry-run` shows a plan",
            ignored.join(", ")
        );
    }
    Ok(())
}

pub(super) fn add(a: StylizeAdd, store: &mut Store, c: &Config) -> Result<i32> {
    let r = &a.run;
    refuse_unqueued(
        &r.common,
        &[
            (r.summary_json.is_some(), "--summary-json"),
            (r.dry_run, "--dry-run"),
            (r.threads.is_some(), "--threads"),
        ],
    )?;
    let (kind, gpu) = super::queue::device_request(a.run.common.device.as_deref(), c)?;
    // Checked now, so a bad file fails here rather than in the worker; its
    // paths are stored absolute.
    let req = request_from_args(&a.run, c, gpu)?;
    let built = build::build(&req, &c.limits())?;
    if !a.place.json {
        say_regions(built.spec.regions.as_ref(), &req.style_names());
    }
    let (job, inputs) = built.job();
    // What was not given is the worker's device's to choose.
    let defaults = DeviceDefaults {
        size: a.run.common.size.is_none(),
        steps: a.run.common.steps.is_none(),
    };
    let id = store.add_job_on(&job, &inputs, a.place.priority, kind, defaults)?;
    super::queue::report(store, id, a.place.json)
}
