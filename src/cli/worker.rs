//! `atelier worker`: run queued runs on one device until stopped; with
//! `--all-gpus`, one worker process per GPU.

use std::ffi::OsString;
use std::io::BufRead;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use crate::config::Config;
use crate::engine::infra::device::{device_name, list_gpus};
use crate::jobs::Summary;
use crate::queue::worker::{Worker, WorkerConfig, WorkerEvent};
use crate::queue::Store;

#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// auto, cpu, cuda or cuda:N (default: [worker] device in the config).
    /// `auto` takes the freest GPU no other live worker on this machine holds
    /// (the CPU when none is left).
    #[arg(long, value_parser = super::choices::device_arg)]
    pub device: Option<String>,
    /// One worker per GPU, each a process of its own on its device; on a
    /// machine without a GPU, says so and runs one CPU worker.
    #[arg(long, conflicts_with = "device")]
    pub all_gpus: bool,
    /// Stop once the queue is empty.
    #[arg(long)]
    pub exit_when_idle: bool,
    /// Print a loss line every N evaluations (0: never).
    #[arg(long, default_value_t = 50)]
    pub log_every: usize,
}

pub fn run(a: WorkerArgs, store: Store, c: &Config) -> Result<i32> {
    // First Ctrl-C/SIGTERM: stop cleanly (a running run goes back to the
    // queue); a second one exits at once.
    let stop = super::stop_flag()?;
    let config = if a.all_gpus {
        let gpus = list_gpus();
        if !gpus.is_empty() {
            return all_gpus(gpus.len(), &stop);
        }
        println!("no CUDA device found: --all-gpus runs one worker on the CPU");
        c.worker_config(tch::Device::Cpu, a.exit_when_idle)
    } else {
        c.worker_config_for(
            a.device.as_deref().unwrap_or(&c.worker.device),
            a.exit_when_idle,
        )?
    };
    serve(store, config, a.log_every, &stop)
}

/// One worker in this process until `stop` (or an empty queue with
/// `exit_when_idle`).
fn serve(store: Store, config: WorkerConfig, log_every: usize, stop: &AtomicBool) -> Result<i32> {
    let mut worker = Worker::new(store, config);
    // With `auto`, the device is chosen as the worker registers.
    let device = worker.register()?;
    println!("worker {} on {}", worker.id(), device_name(device));
    let mut idle_said = false;
    let mut last_printed = None::<(i64, u64)>;
    let taken = worker.run(stop, &mut |e| match e {
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
                    Some(h) => {
                        println!("run {run}: step {}: {}", s.done, super::table::headline(&h))
                    }
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

/// `--all-gpus`: this command again once per GPU with `--device cuda:N`,
/// each child a process of its own. Processes, not threads: a CUDA error is
/// sticky for the whole process and a crash (an abort in libtorch, the
/// kernel's OOM killer) takes the process, so each GPU's worker fails
/// alone; and the store tells live workers by their process id. Their
/// lines are printed prefixed with their device. A stop (Ctrl-C, SIGTERM)
/// is passed on to every child once, which puts its run back in the queue.
fn all_gpus(count: usize, stop: &AtomicBool) -> Result<i32> {
    let exe = std::env::current_exe().context("cannot find the atelier executable")?;
    let args: Vec<OsString> = std::env::args_os()
        .skip(1)
        .filter(|a| a != "--all-gpus")
        .collect();
    let mut children: Vec<(String, Child)> = Vec::new();
    let mut printers = Vec::new();
    for i in 0..count {
        let device = format!("cuda:{i}");
        let mut child = Command::new(&exe)
            .args(&args)
            .args(["--device", &device])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: a Ctrl-C at the terminal reaches this
            // process only, which passes on one stop (two would make the
            // child exit at once, without putting its run back).
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start the worker for {device}"))?;
        if let Some(out) = child.stdout.take() {
            printers.push(prefix_lines(device.clone(), out, false));
        }
        if let Some(err) = child.stderr.take() {
            printers.push(prefix_lines(device.clone(), err, true));
        }
        children.push((device, child));
    }
    println!("{count} workers, one per GPU");
    let mut codes: Vec<Option<i32>> = vec![None; children.len()];
    let mut stopping = false;
    while codes.iter().any(Option::is_none) {
        if stop.load(Ordering::SeqCst) && !stopping {
            stopping = true;
            for ((_, child), code) in children.iter().zip(&codes) {
                if code.is_none() {
                    if let Ok(pid) = i32::try_from(child.id()) {
                        // SAFETY: kill(2) on our own child's pid.
                        unsafe {
                            libc::kill(pid, libc::SIGTERM);
                        }
                    }
                }
            }
        }
        for ((device, child), code) in children.iter_mut().zip(codes.iter_mut()) {
            if code.is_none() {
                if let Some(status) = child.try_wait()? {
                    // A child killed by a signal has no code: 128 + signal.
                    use std::os::unix::process::ExitStatusExt;
                    let c = status
                        .code()
                        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
                    if c != 0 && c != 130 {
                        eprintln!("[{device}] worker exited with status {c}");
                    }
                    *code = Some(c);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for p in printers {
        let _ = p.join();
    }
    let codes: Vec<i32> = codes.into_iter().flatten().collect();
    Ok(codes
        .iter()
        .copied()
        .find(|&c| c != 0 && c != 130)
        .unwrap_or(if stopping { 130 } else { 0 }))
}

/// Prints each line of `from` prefixed with `[device]` (on stderr when `err`).
fn prefix_lines(
    device: String,
    from: impl std::io::Read + Send + 'static,
    err: bool,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if err {
                eprintln!("[{device}] {line}");
            } else {
                println!("[{device}] {line}");
            }
        }
    })
}
