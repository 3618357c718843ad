//! `atelier queue …`: add runs, list the queue, cancel and reorder.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};

use super::table::Table;
use crate::config::Config;
use crate::engine::infra::device::{parse_device, DeviceKind};
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
    pub kind: Option<super::AddKind>,
    #[command(flatten)]
    pub stylize: super::stylize::StylizeAdd,
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

pub fn run(cmd: QueueCmd, store: &mut Store, c: &Config) -> Result<i32> {
    match cmd {
        QueueCmd::Add(a) => match a.kind {
            None => super::stylize::add(a.stylize, store, c),
            Some(k) => k.add(store, c),
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

/// The kind of device a queued run asks for (`--device`; none when not
/// given or `auto`), and whether its spec starts from the GPU's defaults.
/// A GPU need not be here: the run waits for a worker on one.
pub(super) fn device_request(
    asked: Option<&str>,
    c: &Config,
) -> Result<(Option<DeviceKind>, bool)> {
    let kind = asked.map(DeviceKind::of_name).transpose()?.flatten();
    let gpu = match kind {
        Some(k) => k == DeviceKind::Cuda,
        None => parse_device(asked.unwrap_or(&c.stylize.device))?.is_cuda(),
    };
    Ok((kind, gpu))
}

pub(super) fn report(store: &Store, id: i64, json: bool) -> Result<i32> {
    if json {
        println!("{}", serde_json::to_string_pretty(&store.get(id)?)?);
    } else {
        println!("queued run {id}");
    }
    Ok(0)
}
