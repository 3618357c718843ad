//! `atelier video`: a clip stylized frame by frame (Gatys or a model), kept
//! steady between frames, written as a video (audio kept) or a folder of
//! frames; progress on stderr; nothing written unless it all succeeds.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use anyhow::{bail, Result};
use clap::Args;

use super::stylize::{spec_from_args, StylizeArgs};
use super::EXIT_CANCELLED;
use crate::config::{resolve, Config};
use crate::engine::arbitrary::model_file::ArbModel;
use crate::engine::fast::model_file::Model as FastModel;
use crate::engine::gatys::pyramid::Scales;
use crate::engine::infra::device::{device_name, parse_device};
use crate::engine::infra::flow::Flow;
use crate::engine::infra::library::Library;
use crate::engine::infra::memory;
use crate::engine::infra::output::{names_folder, OutputPolicy};
use crate::engine::infra::sink::Each;
use crate::engine::nets::vgg::Vgg19;
use crate::engine::nets::weights::Weights;
use crate::engine::video::encode::{is_video_name, DEFAULT_CRF};
use crate::engine::video::estimate::{clip_time, human, REFUSE_ABOVE};
use crate::engine::video::{Clip, Encoding};
use crate::engine::Error;
use crate::jobs::apply::run::Network;
use crate::jobs::apply::{Libraries, StyleChoice};
use crate::jobs::video::build::{build, Built, Choice};
use crate::jobs::video::run::{encode, run as video_run, Stylizer};
use crate::jobs::video::{Method, Progress, Spec};

#[derive(Args, Debug)]
pub struct VideoArgs {
    /// The clip: a video file (mp4, webm, mov, mkv, gif: what ffmpeg reads)
    /// or a folder of frames (images, in name order).
    pub input: PathBuf,
    /// Stylize with this model (`atelier models ls`, or a model file) instead
    /// of Gatys; --style then names its styles or paintings.
    #[arg(long)]
    pub model: Option<String>,
    /// Steadiness between frames: 0 stylizes each frame on its own [default:
    /// 1000 with Gatys (the temporal loss), 1 with a model (the blend)].
    #[arg(long, value_name = "W")]
    pub temporal_weight: Option<f64>,
    /// The ffmpeg video encoder [default: libx264; libvpx-vp9 for .webm].
    #[arg(long)]
    pub codec: Option<String>,
    /// The encoder's constant rate factor: lower is better and larger.
    #[arg(long, default_value_t = DEFAULT_CRF)]
    pub crf: u32,
    /// adain/wct models: style strength in [0, 1].
    #[arg(long)]
    pub alpha: Option<f64>,
    /// wct models: use levels relu{N}_1 … relu1_1.
    #[arg(long, value_name = "N")]
    pub levels: Option<usize>,
    /// The stylize options (Gatys): -o is the output video (.mp4, .mkv,
    /// .mov, .webm, .gif) or a folder for the frames.
    #[command(flatten)]
    pub gatys: StylizeArgs,
}

pub fn run(mut a: VideoArgs, c: &Config, data_dir: Option<&Path>) -> Result<i32> {
    if let Some(n) = a.gatys.threads {
        anyhow::ensure!(n >= 1, "invalid threads: {n} (must be at least 1)");
        tch::set_num_threads(n);
    }
    let device = parse_device(
        a.gatys
            .common
            .device
            .as_deref()
            .unwrap_or(&c.stylize.device),
    )?;
    let force = a.gatys.common.force;
    let out = output_path(&a, c)?;
    let folder_out = names_folder(&out);
    let policy = OutputPolicy::new(force, &[&a.input]);
    check_output(&out, folder_out, &policy)?;
    let container = (!folder_out).then(|| extension(&out));
    let (built, clip) = build_video(&mut a, container, device.is_cuda(), c, data_dir)?;
    let spec = built.spec;
    let info = clip.info();
    let (w, h) = spec.frame_size(info);
    let time = clip_time(
        info.frames,
        w,
        h,
        spec.per_frame(info.frames),
        device.is_cuda(),
    );
    eprintln!(
        "{}: {} frames at {}x{} ({} fps{}) → {w}x{h} with {} on {}: about {}",
        a.input.display(),
        info.frames,
        info.width,
        info.height,
        round(info.rate.fps()),
        if info.audio { ", audio" } else { "" },
        describe(&spec),
        device_name(device),
        human(time)
    );
    if time > REFUSE_ABOVE && !force {
        bail!(
            "{}: {} frames at {w}x{h} would take about {} here; shorten the clip, lower --size, use a model, or pass --force",
            a.input.display(),
            info.frames,
            human(time)
        );
    }
    if let Method::Gatys(g) = &spec.method {
        if !force {
            memory::check(g, w, h, device)?;
        }
    }
    if a.gatys.dry_run {
        println!("dry run: would write {}", out.display());
        return Ok(0);
    }
    stylize_clip(&spec, &clip, c, device, &out, folder_out, force)
}

/// The video job `a` asks for (written as `container`, or frames only),
/// every input checked: what `atelier video` runs and `queue add video` queues.
pub fn build_video(
    a: &mut VideoArgs,
    container: Option<String>,
    gpu: bool,
    c: &Config,
    data_dir: Option<&Path>,
) -> Result<(Built, Clip)> {
    if a.gatys.content.is_some() || a.gatys.style.is_some() {
        bail!("video takes one INPUT: give paintings or a model's styles with --style");
    }
    let encoding = Encoding {
        codec: a.codec.clone(),
        crf: a.crf,
    };
    let models = super::fast::library(c, data_dir)?;
    let paintings = Library::open(&resolve(&c.paths.styles)).ok();
    let choice_styles = StyleChoice {
        entries: a.gatys.style_flags.clone(),
        alpha: a.alpha,
        levels: a.levels,
        color: a.gatys.preserve_colors,
    };
    let choice = match &a.model {
        Some(m) => Choice::Model {
            model: m,
            size: a.gatys.common.size,
            styles: &choice_styles,
            libs: Libraries {
                models: &models,
                paintings: paintings.as_ref(),
                contents: None,
            },
        },
        None => {
            // The clip stands for the content; frames go at one scale.
            a.gatys.content = Some(a.input.display().to_string());
            let (mut g, _) = spec_from_args(&a.gatys, c, gpu)?;
            a.gatys.content = None;
            if a.gatys.scales.is_none() {
                g.scales = Scales::Count(1);
            }
            if a.gatys.tile.is_none() {
                g.tile = None;
            }
            Choice::Gatys(Box::new(g))
        }
    };
    Ok(build(
        &a.input,
        choice,
        a.temporal_weight,
        encoding,
        container,
        &c.limits(),
    )?)
}

/// Loads what stylizes the frames, runs them into a temporary folder beside
/// the output, then encodes or moves them into place.
fn stylize_clip(
    spec: &Spec,
    clip: &Clip,
    c: &Config,
    device: tch::Device,
    out: &Path,
    folder_out: bool,
    force: bool,
) -> Result<i32> {
    let parent = parent(out);
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    let work = tempfile::Builder::new()
        .prefix(".atelier-")
        .suffix(".frames")
        .tempdir_in(&parent)
        .map_err(|e| Error::io(&parent, e))?;
    let stop = super::stop_flag()?;
    let terminal = std::io::stderr().is_terminal();
    let mut last_frame = 0;
    let mut report = Each(|p: &Progress| {
        if p.frame != last_frame || terminal {
            last_frame = p.frame;
            progress_line(p, terminal);
        }
        if stop.load(Ordering::SeqCst) {
            Flow::Stop
        } else {
            Flow::Continue
        }
    });
    let weights_path = resolve(&c.paths.weights);
    let result = match &spec.method {
        Method::Gatys(g) => {
            let weights = Weights::load(&weights_path)?;
            let vgg = Vgg19::new(&weights, g.pooling, device)?;
            drop(weights);
            let s = Stylizer::gatys(&vgg, g)?;
            video_run(spec, clip, &s, work.path(), device, &mut report)
        }
        Method::Model(m) if m.arbitrary.is_some() => {
            let model = ArbModel::load(&m.model, &weights_path, device)?;
            let s = Stylizer::model(Network::Arbitrary(&model), m, device)?;
            video_run(spec, clip, &s, work.path(), device, &mut report)
        }
        Method::Model(m) => {
            let model = FastModel::load(&m.model, device)?;
            let s = Stylizer::model(Network::Fast(&model), m, device)?;
            video_run(spec, clip, &s, work.path(), device, &mut report)
        }
    };
    if terminal {
        eprintln!();
    }
    let outcome = match result {
        Ok((o, _)) => o,
        Err(Error::Cancelled) => {
            eprintln!("cancelled: nothing written");
            return Ok(EXIT_CANCELLED);
        }
        Err(e) => return Err(e.into()),
    };
    if folder_out {
        move_frames(work, out)?;
    } else {
        encode(spec, clip, work.path(), out, force)?;
    }
    println!(
        "wrote {} ({} frames, {}x{}, {:.1} s)",
        out.display(),
        outcome.frames,
        outcome.width,
        outcome.height,
        outcome.seconds
    );
    Ok(0)
}

/// `frame 3 of 48 · 1.2 fps · eta 38 s`, in place on a terminal.
fn progress_line(p: &Progress, terminal: bool) {
    let fps = p
        .fps()
        .map(|f| format!(" · {} fps", round(f)))
        .unwrap_or_default();
    let eta = p
        .eta()
        .map(|d| format!(" · eta {}", human(d)))
        .unwrap_or_default();
    let eval = match (terminal, p.evals > 1) {
        (true, true) => format!(" · step {}/{}", p.eval.min(p.evals), p.evals),
        _ => String::new(),
    };
    let line = format!("frame {} of {}{fps}{eta}{eval}", p.frame, p.of);
    if terminal {
        eprint!("\r\x1b[2K{line}");
        let _ = std::io::stderr().flush();
    } else {
        eprintln!("{line}");
    }
}

fn round(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

fn describe(spec: &Spec) -> String {
    match &spec.method {
        Method::Gatys(g) => format!("{} (Gatys, {} steps)", spec.label(), g.steps),
        Method::Model(m) => format!("model {}", m.label()),
    }
}

fn extension(p: &Path) -> String {
    p.extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

fn parent(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `-o`, else `<clip>__stylized.mp4` in the output folder (never an existing one).
fn output_path(a: &VideoArgs, c: &Config) -> Result<PathBuf> {
    match &a.gatys.common.output {
        Some(o) => Ok(o.clone()),
        None => {
            let dir = resolve(&c.paths.output);
            crate::engine::infra::output::create_folder(&dir)?;
            let stem = crate::jobs::stylize::stem(&a.input);
            Ok(crate::engine::infra::image_io::unique_path(
                &dir.join(format!("{stem}__stylized.mp4")),
            ))
        }
    }
}

/// Before any work: a video name atelier writes, allowed by the policy; a
/// folder of frames that is new or empty (or forced).
fn check_output(out: &Path, folder: bool, policy: &OutputPolicy) -> Result<(), Error> {
    if folder {
        let taken = std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_some());
        if taken && !policy.force() {
            return Err(Error::OutputExists(out.to_path_buf()));
        }
        return Ok(());
    }
    if !is_video_name(out) {
        return Err(Error::invalid(
            "output",
            format!(
                "{}: name a video (.mp4, .mkv, .mov, .webm, .gif) or a folder (ending in /) for the frames",
                out.display()
            ),
        ));
    }
    policy.check(out)
}

/// The finished frames into the output folder: the temporary folder renamed
/// when the output is new (or empty), else each frame moved in.
fn move_frames(work: tempfile::TempDir, out: &Path) -> Result<(), Error> {
    if std::fs::remove_dir(out).is_ok() || !out.exists() {
        // tempfile makes folders 0700; the frames are the user's, as any output.
        let perms = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(work.path(), perms).map_err(|e| Error::io(work.path(), e))?;
        let kept = work.keep();
        return std::fs::rename(&kept, out).map_err(|e| Error::io(out, e));
    }
    for e in std::fs::read_dir(work.path()).map_err(|e| Error::io(work.path(), e))? {
        let from = e.map_err(|e| Error::io(work.path(), e))?.path();
        if let Some(name) = from.file_name() {
            std::fs::rename(&from, out.join(name)).map_err(|e| Error::io(out, e))?;
        }
    }
    Ok(())
}

/// `queue add video`: a video, queued.
#[derive(Args, Debug)]
pub struct VideoAdd {
    #[command(flatten)]
    pub video: VideoArgs,
    #[command(flatten)]
    pub place: super::queue::Placement,
}

pub(super) fn add(mut a: VideoAdd, store: &mut crate::queue::Store, c: &Config) -> Result<i32> {
    anyhow::ensure!(
        a.video.gatys.common.output.is_none(),
        "a queued video is written into its run folder (video.mp4): drop -o"
    );
    let data_dir = store.data_dir().to_path_buf();
    let (built, _) = build_video(
        &mut a.video,
        Some(crate::jobs::video::build::QUEUED_CONTAINER.into()),
        false,
        c,
        Some(&data_dir),
    )?;
    let (job, inputs) = built.job();
    let id = store.add_job(&job, &inputs, a.place.priority)?;
    super::queue::report(store, id, a.place.json)
}
