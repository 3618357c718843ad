//! `atelier queue …`: add runs, list the queue, cancel and reorder.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};

use super::stylize::{spec_from_args, StylizeArgs};
use super::table::Table;
use crate::config::Config;
use crate::engine::device::parse_device;
use crate::engine::image_io::load_rgb;
use crate::engine::weights::sha256_file;
use crate::queue::{Input, Status, Store};

#[derive(Subcommand, Debug)]
pub enum QueueCmd {
    /// Queue a run; takes the options of `stylize` that shape the run.
    Add(Box<AddArgs>),
    /// The running and queued runs, in the order they will be taken.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Cancel a queued run, or stop a running one within one evaluation.
    Cancel { id: i64 },
    /// Move a queued run to place N (1 = next).
    Move {
        id: i64,
        #[arg(long, value_name = "N")]
        to: usize,
    },
    /// Set a run's priority (higher runs first; default 0).
    Priority { id: i64, priority: i64 },
}

#[derive(Args, Debug)]
pub struct AddArgs {
    #[command(flatten)]
    pub run: StylizeArgs,
    /// Higher priorities run first.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub priority: i64,
    /// Print the new run as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: QueueCmd, store: &mut Store, c: &Config) -> Result<i32> {
    match cmd {
        QueueCmd::Add(a) => add(*a, store, c),
        QueueCmd::Ls { json } => {
            store.recover(c.worker.stale_after)?;
            let runs = store.queue()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
                return Ok(0);
            }
            let mut t = Table::new(&[
                "#", "ID", "STATUS", "PRIO", "CONTENT", "STYLE", "SIZE", "STEPS", "WORKER",
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
                    r.input_name("content"),
                    r.input_name("style"),
                    r.spec.size.to_string(),
                    r.spec.steps.to_string(),
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

fn add(a: AddArgs, store: &mut Store, c: &Config) -> Result<i32> {
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
    let device = parse_device(a.run.common.device.as_deref().unwrap_or(&c.stylize.device))?;
    let (mut spec, style_name) = spec_from_args(&a.run, c, device.is_cuda())?;
    let pixel_limit = spec.pixel_limit;
    // Check the inputs now, so a bad file fails here rather than in the worker,
    // and store absolute paths: the worker may run from another folder.
    let style_names: Vec<String> = style_name.split('+').map(str::to_string).collect();
    let mut inputs = Vec::new();
    let content_name = super::runs::file_stem(&spec.content);
    let mut targets: Vec<(&str, Option<String>, &mut PathBuf)> =
        vec![("content", Some(content_name), &mut spec.content)];
    for (i, s) in spec.styles.iter_mut().enumerate() {
        targets.push(("style", style_names.get(i).cloned(), &mut s.path));
    }
    for (role, name, path) in targets {
        load_rgb(path, pixel_limit)?;
        let abs = std::fs::canonicalize(&*path)?;
        inputs.push(Input {
            role: role.into(),
            name,
            sha256: sha256_file(&abs)?,
            path: abs.clone(),
        });
        *path = abs;
    }
    let id = store.add(&spec, &inputs, a.priority)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&store.get(id)?)?);
    } else {
        println!("queued run {id}");
    }
    Ok(0)
}
