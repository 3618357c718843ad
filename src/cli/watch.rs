//! `atelier watch`: run the drop-folder rules headless, with a worker for the
//! local device unless told not to; `atelier watch status`: rules, counts and
//! failures with their reasons.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};

use super::table::Table;
use crate::config::{resolve, Config};
use crate::engine::infra::device::{device_name, parse_device};
use crate::queue::run::format_time;
use crate::queue::worker::{Worker, WorkerEvent};
use crate::queue::Store;
use crate::watch::{rule_states, Rule, RuleConfig, WatchEvent, Watcher};

#[derive(Args, Debug)]
pub struct WatchArgs {
    #[command(subcommand)]
    pub cmd: Option<WatchCmd>,
    /// Only queue runs; leave them to workers started elsewhere.
    #[arg(long)]
    pub no_worker: bool,
    /// Device of the built-in worker: auto, cpu, cuda or cuda:N (default: [worker] device).
    #[arg(long, value_parser = super::choices::device_arg)]
    pub device: Option<String>,
    /// Only the rules with these names (repeatable; default: all enabled rules).
    #[arg(long = "rule", value_name = "NAME")]
    pub rules: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub enum WatchCmd {
    /// The rules with their counts and failures (with reasons).
    Status {
        /// Print the rules' states as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The rules of the config with relative paths resolved as config paths are.
fn rule_configs(c: &Config) -> Vec<RuleConfig> {
    c.watch
        .iter()
        .map(|r| RuleConfig {
            inbox: resolve(&r.inbox),
            output: resolve(&r.output),
            style_masks: r.style_masks.iter().map(|p| resolve(p)).collect(),
            regions: r.regions.as_deref().map(resolve),
            content_mask: r.content_mask.as_deref().map(resolve),
            ..r.clone()
        })
        .collect()
}

pub fn run(a: WatchArgs, c: &Config, data_dir: Option<PathBuf>) -> Result<i32> {
    let dir = c.data_dir(data_dir.as_deref())?;
    if let Some(WatchCmd::Status { json }) = a.cmd {
        return status(&Store::open(&dir)?, c, json);
    }
    let mut configs = rule_configs(c);
    if configs.is_empty() {
        bail!(
            "no drop-folder rules: add a [[watch]] table to your config (see docs/drop-folders.md)"
        );
    }
    if !a.rules.is_empty() {
        for name in &a.rules {
            if !configs.iter().any(|r| &r.name() == name) {
                bail!("no watch rule named '{name}'");
            }
        }
        configs.retain(|r| a.rules.contains(&r.name()));
        for r in &mut configs {
            r.enabled = true;
        }
    }
    let device_arg = a.device.as_deref().unwrap_or(&c.worker.device);
    let device = parse_device(device_arg)?;
    let styles = resolve(&c.paths.styles);
    let models = super::fast::library(c, data_dir.as_deref())?;
    let mut rules = Vec::new();
    for r in &configs {
        let spec = c.kind_spec(r.kind.as_str(), r.preset.as_deref(), device.is_cuda())?;
        match Rule::resolve(r, spec, &styles, &models) {
            Ok(rule) => rules.push(rule),
            // A switched-off rule must not stop the others.
            Err(e) if !r.enabled => eprintln!("warning: {e} (rule disabled, skipped)"),
            Err(e) => return Err(e.into()),
        }
    }
    // First Ctrl-C/SIGTERM: stop cleanly (a running run goes back to the
    // queue); a second one exits at once.
    let stop = super::stop_flag()?;
    let worker = if a.no_worker {
        None
    } else {
        let config = c.worker_config_for(device_arg, false)?;
        let store = Store::open(&dir)?;
        let stop = stop.clone();
        Some(std::thread::spawn(move || -> Result<()> {
            let mut worker = Worker::new(store, config);
            // With `auto`, the device is chosen as the worker registers.
            let device = worker.register()?;
            println!("worker {} on {}", worker.id(), device_name(device));
            worker.run(&stop, &mut |e| match e {
                WorkerEvent::Recovered(ids) => println!("interrupted (worker gone): runs {ids:?}"),
                WorkerEvent::Started(r) => println!("{}", r.started_line()),
                WorkerEvent::Finished {
                    run,
                    status,
                    detail,
                } => println!("run {run}: {status} ({detail})"),
                WorkerEvent::Lost { run, reason } => println!("run {run}: {reason}"),
                WorkerEvent::Resumed { run, step } => {
                    println!("run {run}: resumed at step {step}")
                }
                WorkerEvent::Progress { .. } | WorkerEvent::Idle => {}
            })?;
            Ok(())
        }))
    };
    let mut watcher = Watcher::new(Store::open(&dir)?, rules, &c.watcher);
    let result = watcher.run(&stop, &mut |e| match e {
        WatchEvent::Failed { .. } | WatchEvent::OutputFailed { .. } | WatchEvent::Error { .. } => {
            eprintln!("{e}")
        }
        _ => println!("{e}"),
    });
    // The watcher only returns on stop (or a fatal error): stop the worker too.
    stop.store(true, Ordering::SeqCst);
    if let Some(w) = worker {
        match w.join() {
            Ok(r) => r?,
            Err(_) => bail!("the worker thread panicked"),
        }
    }
    result?;
    Ok(130)
}

fn status(store: &Store, c: &Config, json: bool) -> Result<i32> {
    let states = rule_states(store, &rule_configs(c))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&states)?);
        return Ok(0);
    }
    if states.is_empty() {
        eprintln!("no drop-folder rules in the config (see docs/drop-folders.md)");
        return Ok(0);
    }
    let mut t = Table::new(&[
        "RULE", "ON", "INBOX", "STYLES", "QUEUED", "DONE", "FAILED", "OUTPUTS",
    ]);
    for s in &states {
        t.row(vec![
            s.name.clone(),
            match (s.enabled, s.paused) {
                (false, _) => "no",
                (true, true) => "paused",
                (true, false) => "yes",
            }
            .into(),
            s.inbox.display().to_string(),
            s.styles.join(","),
            s.counts.queued.to_string(),
            s.counts.done.to_string(),
            s.counts.failed.to_string(),
            s.counts.delivered.to_string(),
        ]);
    }
    t.print();
    for s in &states {
        if s.failures.is_empty() {
            continue;
        }
        println!("\nfailures of {} (newest first):", s.name);
        for f in &s.failures {
            println!(
                "  {}  {}: {}",
                format_time(f.time),
                super::table::escape(&f.path.display().to_string()),
                super::table::escape(&f.reason)
            );
        }
    }
    Ok(0)
}
