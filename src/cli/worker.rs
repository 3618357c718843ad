//! `atelier worker`: run queued runs on one device until stopped.

use std::sync::atomic::Ordering;

use anyhow::Result;
use clap::Args;

use crate::config::Config;
use crate::engine::device::{device_name, parse_device};
use crate::jobs::Summary;
use crate::queue::worker::{Worker, WorkerEvent};
use crate::queue::Store;

#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// auto, cpu, cuda or cuda:N (default: [worker] device in the config).
    #[arg(long)]
    pub device: Option<String>,
    /// Stop once the queue is empty.
    #[arg(long)]
    pub exit_when_idle: bool,
    /// Print a loss line every N evaluations (0: never).
    #[arg(long, default_value_t = 50)]
    pub log_every: usize,
}

pub fn run(a: WorkerArgs, store: Store, c: &Config) -> Result<i32> {
    let device = parse_device(a.device.as_deref().unwrap_or(&c.worker.device))?;
    // First Ctrl-C/SIGTERM: stop cleanly (a running run goes back to the
    // queue); a second one exits at once.
    let stop = super::stop_flag()?;
    let mut worker = Worker::new(store, c.worker_config(device, a.exit_when_idle));
    println!("worker {} on {}", worker.id(), device_name(device));
    let mut idle_said = false;
    let mut last_printed = None::<(i64, u64)>;
    let log_every = a.log_every;
    let taken = worker.run(&stop, &mut |e| match e {
        WorkerEvent::Recovered(ids) => println!("interrupted (worker gone): runs {ids:?}"),
        WorkerEvent::Started(r) => {
            idle_said = false;
            println!("{}", r.started_line());
        }
        WorkerEvent::Progress { run, progress } => {
            let s = Summary::from(progress);
            // Kinds that report many times per step (an analogy's phases)
            // print a step once.
            let fresh = last_printed != Some((*run, s.done));
            if fresh && log_every > 0 && s.done % log_every as u64 == 0 {
                last_printed = Some((*run, s.done));
                match s.headline {
                    Some(h) => println!("run {run}: step {}: {} {:.4e}", s.done, h.label, h.value),
                    None => println!("run {run}: step {}", s.done),
                }
            }
        }
        WorkerEvent::Lost { run, reason } => println!("run {run}: {reason}"),
        WorkerEvent::Resumed { run, step } => println!("run {run}: resumed at step {step}"),
        WorkerEvent::Finished {
            run,
            status,
            detail,
        } => println!("run {run}: {status} ({detail})"),
        WorkerEvent::Idle => {
            if !idle_said {
                println!("queue empty; waiting (Ctrl-C to stop)");
                idle_said = true;
            }
        }
    })?;
    println!("worker stopped after {taken} runs");
    Ok(if stop.load(Ordering::SeqCst) { 130 } else { 0 })
}
