//! `atelier analogy A B'`: Deep Image Analogy from the command line, with
//! progress per layer on stderr, Ctrl-C and atomic outputs.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::{Context, Result};
use clap::Args;

use super::stylize::check_output;
use super::{stop_flag, EXIT_CANCELLED};
use crate::config::{resolve, Config};
use crate::engine::analogy::{self, AnalogyProgress, AnalogySpec, Phase};
use crate::engine::infra::device::{device_name, parse_device};
use crate::engine::infra::flow::Flow;
use crate::engine::infra::image_io::{load_rgb, save_png};
use crate::engine::infra::library::Library;
use crate::engine::infra::output::OutputPolicy;
use crate::engine::infra::sink::Each;
use crate::engine::nets::vgg::{Pooling, Vgg19};
use crate::engine::nets::weights::Weights;
use crate::engine::Error;
use crate::jobs::analogy::build::{build, resolve_pair, Built, Defaults, Options, Request};
use crate::jobs::analogy::run::run as analogy_job;

/// What an analogy is of, and how it is made: the same for `atelier analogy`
/// and `queue add analogy`.
#[derive(Args, Debug)]
pub struct AnalogyChoice {
    /// A: the image whose structure A′ keeps (a path, or a bundled photo's or
    /// painting's name).
    pub a: String,
    /// B′: the image whose appearance A′ takes (a path or a bundled name).
    pub b_prime: String,
    /// Longer side of both working images in px (default 224; 448 for
    /// `atelier analogy` on a GPU).
    #[arg(long)]
    pub size: Option<u32>,
    /// How much of its own structure each side keeps: 1 (least) to 3 (most; default 2).
    #[arg(long, value_name = "1|2|3")]
    pub weight_level: Option<u8>,
    /// L-BFGS iterations of each reconstruction (default 100).
    #[arg(long, value_name = "N")]
    pub iterations: Option<usize>,
    /// Skip the reconstruction optimisation: warp the next layer's features
    /// directly (several times faster on a CPU, less faithful matches).
    #[arg(long)]
    pub fast: bool,
    /// Seed of PatchMatch's random search (default: the config's [run] seed).
    #[arg(long)]
    pub seed: Option<u64>,
}

impl AnalogyChoice {
    /// The choice built by the analogy kind's builder, with A's and B′'s names.
    fn build(&self, gpu: bool, c: &Config) -> Result<(Built, [String; 2]), Error> {
        let options = Options {
            size: self.size,
            weight_level: self.weight_level,
            iterations: self.iterations,
            fast: self.fast,
            seed: self.seed,
        };
        build_typed(&self.a, &self.b_prime, options, gpu, c)
    }
}

#[derive(Args, Debug)]
pub struct AnalogyArgs {
    #[command(flatten)]
    pub choice: AnalogyChoice,
    /// Output PNG for A′ (default: a new name in the output folder); B, the
    /// fields (.flo) and their pictures are written beside it. Never overwrites.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// auto, cpu, cuda or cuda:N (default: [stylize] device in the config).
    #[arg(long, value_parser = super::choices::device_arg)]
    pub device: Option<String>,
    /// CPU threads for libtorch (default: libtorch's choice).
    #[arg(long)]
    pub threads: Option<i32>,
    /// Also write a contact sheet (A, B′, A′, B, A→B′ field) to this PNG.
    #[arg(long, value_name = "FILE")]
    pub sheet: Option<PathBuf>,
    /// Write the timings (PatchMatch, reconstruction, rest) and outputs as JSON.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
}

/// The analogy of A and B′ as typed (paths, or names in the libraries of
/// the config), built by the analogy kind's builder; with A's and B′'s names.
pub(super) fn build_typed(
    a: &str,
    b_prime: &str,
    options: Options,
    gpu: bool,
    c: &Config,
) -> Result<(Built, [String; 2]), Error> {
    let contents = Library::open(&resolve(&c.paths.contents)).ok();
    let paintings = Library::open(&resolve(&c.paths.styles)).ok();
    let [(a, na), (b_prime, nb)] = resolve_pair(a, b_prime, contents.as_ref(), paintings.as_ref())?;
    let req = Request {
        a,
        b_prime,
        options,
    };
    let defaults = Defaults {
        seed: c.run.seed,
        gpu,
    };
    let names = [Some(na.clone()), Some(nb.clone())];
    Ok((build(req, names, defaults, &c.limits())?, [na, nb]))
}

/// The checked spec and the output's default name (`A__B′.png`).
fn build_spec(a: &AnalogyArgs, c: &Config, gpu: bool) -> Result<(AnalogySpec, String), Error> {
    let (built, [na, nb]) = a.choice.build(gpu, c)?;
    Ok((built.spec, format!("{na}__{nb}.png")))
}

pub fn run(a: AnalogyArgs, c: &Config) -> Result<i32> {
    if let Some(n) = a.threads {
        anyhow::ensure!(n >= 1, "invalid threads: {n} (must be at least 1)");
        tch::set_num_threads(n);
    }
    let device = parse_device(a.device.as_deref().unwrap_or(&c.stylize.device))?;
    let (spec, name) = build_spec(&a, c, device.is_cuda())?;
    // Never over A or B′, never over an existing file.
    let policy = OutputPolicy::new(false, &[spec.a.as_path(), spec.b_prime.as_path()]);
    let out = check_output(a.output.as_deref(), &policy, c, &name)?;
    if let Some(s) = &a.sheet {
        if s.exists() {
            return Err(Error::OutputExists(s.clone()).into());
        }
    }
    let img_a = load_rgb(&spec.a, spec.pixel_limit)?;
    let img_bp = load_rgb(&spec.b_prime, spec.pixel_limit)?;
    let (wa, wb) = analogy::working_images(&spec, &img_a, &img_bp)?;
    let weights = Weights::load(&resolve(&c.paths.weights))?;
    // Max pooling, as the network was trained and the official code runs it.
    let vgg = Vgg19::new(&weights, Pooling::Max, device)?;
    drop(weights);
    // Before the first line: a Ctrl-C from then on stops the run cleanly.
    let stop = stop_flag()?;
    eprintln!(
        "analogy of {} ({}x{}) and {} ({}x{}) on {}{}",
        spec.a.display(),
        wa.width(),
        wa.height(),
        spec.b_prime.display(),
        wb.width(),
        wb.height(),
        device_name(device),
        if spec.fast {
            ", fast (no reconstruction)".to_string()
        } else {
            format!(", {} L-BFGS iterations per reconstruction", spec.iterations)
        }
    );

    let mut last: Option<(usize, Phase)> = None;
    let started = std::time::Instant::now();
    let mut observer = Each(|p: &AnalogyProgress| {
        if last != Some((p.level, p.phase)) {
            last = Some((p.level, p.phase));
            eprintln!(
                "[{:6.1} s] {} ({}/5): {}",
                started.elapsed().as_secs_f64(),
                p.layer,
                p.level,
                p.phase
            );
        }
        if stop.load(Ordering::SeqCst) {
            Flow::Stop
        } else {
            Flow::Continue
        }
    });
    let (result, outcome) = match analogy_job(&spec, &vgg, (&img_a, &img_bp), &out, &mut observer) {
        Ok(r) => r,
        Err(Error::Cancelled) => {
            eprintln!("cancelled: nothing written");
            return Ok(EXIT_CANCELLED);
        }
        Err(e) => return Err(e.into()),
    };
    let t = result.timings;
    eprintln!(
        "done in {:.1} s: PatchMatch {:.1} s, reconstruction {:.1} s, rest {:.1} s",
        t.total,
        t.patchmatch,
        t.reconstruction,
        t.rest()
    );
    println!("wrote {} (A')", outcome.a_prime.display());
    println!("wrote {} (B)", outcome.b.display());
    println!(
        "wrote {} and {} (A->B' field and its picture)",
        outcome.flow_ab.display(),
        outcome.flow_ab_picture.display()
    );
    println!(
        "wrote {} and {} (B'->A field and its picture)",
        outcome.flow_ba.display(),
        outcome.flow_ba_picture.display()
    );
    if let Some(s) = &a.sheet {
        let flow = result.nnf_ab.to_picture();
        let sheet = analogy::contact_sheet(
            &[
                &result.a,
                &result.b_prime,
                &result.a_prime,
                &result.b,
                &flow,
            ],
            result.a.height().max(result.b_prime.height()),
        );
        let text = [("Software", format!("atelier {}", env!("CARGO_PKG_VERSION")))];
        save_png(s, &sheet, &text, false)?;
        println!("wrote {} (contact sheet)", s.display());
    }
    if let Some(p) = &a.summary_json {
        let summary = serde_json::json!({
            "spec": spec,
            "device": device_name(device),
            "size_a": [result.a.width(), result.a.height()],
            "size_b_prime": [result.b_prime.width(), result.b_prime.height()],
            "seconds": {
                "patchmatch": t.patchmatch,
                "reconstruction": t.reconstruction,
                "rest": t.rest(),
                "total": t.total,
            },
            "outcome": outcome,
        });
        std::fs::write(p, serde_json::to_string_pretty(&summary)?)
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    Ok(0)
}

/// `queue add analogy`: an analogy, queued.
#[derive(Args, Debug)]
pub struct AnalogyAdd {
    #[command(flatten)]
    pub choice: AnalogyChoice,
    #[command(flatten)]
    pub place: super::queue::Placement,
}

pub(super) fn add(a: AnalogyAdd, store: &mut crate::queue::Store, c: &Config) -> Result<i32> {
    let (built, _) = a.choice.build(false, c)?;
    let id = store.add_job(
        &crate::jobs::Job::Analogy(built.spec),
        &built.inputs,
        a.place.priority,
    )?;
    super::queue::report(store, id, a.place.json)
}
