//! `atelier queue …`: add runs, list the queue, cancel and reorder.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};

use super::stylize::{spec_from_args, stem, StylizeArgs};
use super::table::Table;
use crate::config::{resolve, Config};
use crate::engine::gatys::spec::StyleRef;
use crate::engine::infra::device::{parse_device, DeviceKind};
use crate::engine::infra::library::{resolve_image, Library};
use crate::jobs::{stylize, texture, Job};
use crate::queue::run::DeviceDefaults;
use crate::queue::{Status, Store};

#[derive(Subcommand, Debug)]
pub enum QueueCmd {
    /// Queue a run of any kind: `queue add [stylize] CONTENT STYLE …` (the
    /// options of `stylize` that shape the run), or `queue add texture|train|apply|analogy …`.
    Add(Box<AddArgs>),
    /// The running and queued runs, in the order they will be taken.
    Ls {
        /// Print the runs as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a queued run, or stop a running one within one evaluation.
    Cancel {
        /// The run's id (`queue ls`).
        id: i64,
    },
    /// Move a queued run to place N (1 = next).
    Move {
        /// The run's id (`queue ls`).
        id: i64,
        /// The new place, 1 = next.
        #[arg(long, value_name = "N")]
        to: usize,
    },
    /// Set a run's priority (higher runs first; default 0).
    Priority {
        /// The run's id (`queue ls`).
        id: i64,
        /// The new priority (higher runs first; may be negative).
        #[arg(allow_negative_numbers = true)]
        priority: i64,
    },
}

/// `queue add`: a kind's subcommand, or without one a stylize run.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct AddArgs {
    #[command(subcommand)]
    pub kind: Option<AddKind>,
    #[command(flatten)]
    pub stylize: StylizeAdd,
}

/// The job kinds `queue add` takes.
#[derive(Subcommand, Debug)]
pub enum AddKind {
    /// A style transfer (the default kind).
    Stylize(Box<StylizeAdd>),
    /// A texture synthesised from a style image alone.
    Texture(TextureAdd),
    /// Training a fast-style model for a style (saved to your models).
    Train(Box<super::queue_kinds::TrainAdd>),
    /// A fast-style model applied to one or many photos.
    Apply(super::queue_kinds::ApplyAdd),
    /// A Deep Image Analogy of A (structure) and B′ (appearance).
    Analogy(super::queue_kinds::AnalogyAdd),
    /// A video (or a folder of frames) stylized frame by frame: its frames
    /// and video.mp4 go into the run's folder.
    #[command(
        mut_arg("content", |a| a.hide(true)),
        mut_arg("style", |a| a.hide(true))
    )]
    Video(Box<super::queue_kinds::VideoAdd>),
}

/// Where a queued run goes and what is printed, for every kind.
#[derive(Args, Debug)]
pub struct Placement {
    /// Higher priorities run first.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub priority: i64,
    /// Print the new run as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct StylizeAdd {
    #[command(flatten)]
    pub run: StylizeArgs,
    #[command(flatten)]
    pub place: Placement,
}

#[derive(Args, Debug)]
pub struct TextureAdd {
    /// Style image: a path or a bundled painting's name.
    pub style: String,
    /// Longer side of the texture in px (default: the device's size).
    #[arg(long)]
    pub size: Option<u32>,
    /// Optimiser iterations (default: the device's steps).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Seed of the starting noise.
    #[arg(long)]
    pub seed: Option<u64>,
    /// A square SIZE×SIZE texture instead of the style's aspect.
    #[arg(long)]
    pub square: bool,
    /// A `[presets.NAME]` table for the other parameters.
    #[arg(long)]
    pub preset: Option<String>,
    /// cpu or cuda: only a worker on that kind of device takes the run
    /// (auto, the default: any worker).
    #[arg(long, value_parser = super::choices::device_arg)]
    pub device: Option<String>,
    #[command(flatten)]
    pub place: Placement,
}

pub fn run(cmd: QueueCmd, store: &mut Store, c: &Config) -> Result<i32> {
    match cmd {
        QueueCmd::Add(a) => match a.kind {
            None => add(a.stylize, store, c),
            Some(AddKind::Stylize(s)) => add(*s, store, c),
            Some(AddKind::Texture(t)) => add_texture(t, store, c),
            Some(AddKind::Train(t)) => super::queue_kinds::add_train(*t, store, c),
            Some(AddKind::Apply(t)) => super::queue_kinds::add_apply(t, store, c),
            Some(AddKind::Analogy(t)) => super::queue_kinds::add_analogy(t, store, c),
            Some(AddKind::Video(t)) => super::queue_kinds::add_video(*t, store, c),
        },
        QueueCmd::Ls { json } => {
            store.recover(c.worker.stale_after)?;
            let runs = store.queue()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
                return Ok(0);
            }
            let mut t = Table::new(&[
                "#", "ID", "STATUS", "PRIO", "KIND", "CONTENT", "STYLE", "SIZE", "STEPS", "WORKER",
            ]);
            let mut place = 0;
            for r in &runs {
                let pos = if r.status == Status::Queued {
                    place += 1;
                    place.to_string()
                } else {
                    "-".into()
                };
                t.row(vec![
                    pos,
                    r.id.to_string(),
                    r.status.to_string(),
                    r.priority.to_string(),
                    r.kind().to_string(),
                    r.input_name(crate::jobs::Role::Content),
                    r.input_name(crate::jobs::Role::Style),
                    r.spec().map(|s| s.size.to_string()).unwrap_or_default(),
                    r.spec().map(|s| s.steps.to_string()).unwrap_or_default(),
                    r.worker.clone().unwrap_or_default(),
                ]);
            }
            t.print();
            if runs.is_empty() {
                eprintln!("the queue is empty");
            }
            Ok(0)
        }
        QueueCmd::Cancel { id } => {
            match store.cancel(id)? {
                Status::Running => println!(
                    "run {id}: cancel requested; its worker stops it within one evaluation"
                ),
                s => println!("run {id}: {s}"),
            }
            Ok(0)
        }
        QueueCmd::Move { id, to } => {
            if to == 0 {
                bail!("invalid place 0: places start at 1");
            }
            store.move_to(id, to)?;
            println!("run {id}: moved to place {to}");
            Ok(0)
        }
        QueueCmd::Priority { id, priority } => {
            store.set_priority(id, priority)?;
            println!("run {id}: priority {priority}");
            Ok(0)
        }
    }
}

fn add(a: StylizeAdd, store: &mut Store, c: &Config) -> Result<i32> {
    // Options of `stylize` that a queued run would otherwise silently ignore:
    // the worker writes into the run's folder and has its own settings.
    let r = &a.run;
    let ignored: Vec<&str> = [
        (r.common.output.is_some(), "-o"),
        (r.summary_json.is_some(), "--summary-json"),
        (r.dry_run, "--dry-run"),
        (r.threads.is_some(), "--threads"),
        (r.common.log_every.is_some(), "--log-every"),
        (r.common.save_every.is_some(), "--save-every"),
        (r.common.force, "--force"),
    ]
    .into_iter()
    .filter_map(|(given, name)| given.then_some(name))
    .collect();
    if !ignored.is_empty() {
        bail!(
            "queue add does not take {}: a queued run writes into its own folder (`atelier runs export` copies it out) and the worker sets loss lines and snapshots (`worker --log-every`, `[worker] snapshot_every`); `atelier stylize --dry-run` shows a plan",
            ignored.join(", ")
        );
    }
    let (kind, gpu) = device_request(a.run.common.device.as_deref(), c)?;
    let (mut spec, style_name) = spec_from_args(&a.run, c, gpu)?;
    // Check the inputs now, so a bad file fails here rather than in the
    // worker; their paths are stored absolute.
    let style_names: Vec<String> = style_name.split('+').map(str::to_string).collect();
    let content_name = stem(&spec.content);
    let inputs = stylize::inputs(&mut spec, Some(content_name), &style_names)?;
    // What was not given is the worker's device's to choose.
    let defaults = DeviceDefaults {
        size: a.run.common.size.is_none(),
        steps: a.run.common.steps.is_none(),
    };
    let job = Job::Stylize(spec);
    let id = store.add_job_on(&job, &inputs, a.place.priority, kind, defaults)?;
    report(store, id, a.place.json)
}

/// The kind of device a queued run asks for (`--device`; none when not
/// given or `auto`), and whether its spec starts from the GPU's defaults.
/// A GPU need not be here: the run waits for a worker on one.
fn device_request(asked: Option<&str>, c: &Config) -> Result<(Option<DeviceKind>, bool)> {
    let kind = asked.map(DeviceKind::of_name).transpose()?.flatten();
    let gpu = match kind {
        Some(k) => k == DeviceKind::Cuda,
        None => parse_device(asked.unwrap_or(&c.stylize.device))?.is_cuda(),
    };
    Ok((kind, gpu))
}

fn add_texture(a: TextureAdd, store: &mut Store, c: &Config) -> Result<i32> {
    let (kind, gpu) = device_request(a.device.as_deref(), c)?;
    let base = c.kind_spec(texture::KIND, a.preset.as_deref(), gpu)?;
    // A preset's size or steps are given values too.
    let preset_sets = |key: &str| {
        a.preset
            .as_ref()
            .and_then(|p| c.presets.get(p))
            .is_some_and(|t| t.contains_key(key))
    };
    let defaults = DeviceDefaults {
        size: a.size.is_none() && !preset_sets("size"),
        steps: a.steps.is_none() && !preset_sets("steps"),
    };
    let styles = Library::open(&resolve(&c.paths.styles)).ok();
    let path = resolve_image(&a.style, styles.as_ref())?;
    let name = styles
        .as_ref()
        .and_then(|l| l.entries().iter().find(|e| l.path_of(e) == path))
        .map(|e| e.name.clone())
        .unwrap_or_else(|| stem(&path));
    let mut spec = texture::Spec::new(&base, StyleRef { path, weight: 1.0 }, a.square);
    if let Some(n) = a.size {
        spec.gatys.size = n;
    }
    if let Some(n) = a.steps {
        spec.gatys.steps = n;
    }
    if let Some(n) = a.seed {
        spec.gatys.seed = n;
    }
    spec.validate()?;
    let inputs = spec.inputs(Some(name))?;
    let id = store.add_job_on(
        &Job::Texture(spec),
        &inputs,
        a.place.priority,
        kind,
        defaults,
    )?;
    report(store, id, a.place.json)
}

pub(super) fn report(store: &Store, id: i64, json: bool) -> Result<i32> {
    if json {
        println!("{}", serde_json::to_string_pretty(&store.get(id)?)?);
    } else {
        println!("queued run {id}");
    }
    Ok(0)
}
