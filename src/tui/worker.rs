//! The TUI's own worker thread. A panic in it must not vanish: the run it was
//! executing is marked failed with the panic's message, and the UI is told
//! (the status bar keeps saying so), instead of a run left "running" and a
//! worker silently gone.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::event::Event;
use crate::queue::worker::{Worker, WorkerConfig, WorkerEvent};
use crate::queue::Store;

/// The name of the worker thread (the panic hook keeps its panics off the screen).
pub const THREAD: &str = "worker";

/// Runs the queue on `data_dir` in a thread until `stop` is set.
pub fn spawn(
    config: WorkerConfig,
    data_dir: &Path,
    stop: Arc<AtomicBool>,
    tx: Sender<Event>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let data_dir = data_dir.to_path_buf();
    std::thread::Builder::new()
        .name(THREAD.into())
        .spawn(move || {
            let dir = data_dir.clone();
            supervise(&data_dir, tx.clone(), move |events| {
                let store = Store::open(&dir).map_err(|e| e.to_string())?;
                let mut worker = Worker::new(store, config);
                // With `auto`, the device is chosen as the worker registers.
                let device = worker.register().map_err(|e| e.to_string())?;
                tracing::info!(
                    "worker {} on {}",
                    worker.id(),
                    crate::engine::infra::device::device_name(device)
                );
                worker
                    .run(&stop, events)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            });
        })
}

/// Runs `body` (the worker loop) forwarding its events to the UI, at most a
/// few progress events per second. An error or a panic in `body` is sent as
/// [`Event::WorkerStopped`]; after a panic the run it had started is failed
/// in the store.
pub fn supervise<F>(data_dir: &Path, tx: Sender<Event>, body: F)
where
    F: FnOnce(&mut dyn FnMut(&WorkerEvent)) -> Result<(), String>,
{
    // The run the worker has started, and the worker id it was claimed under.
    let mut current: Option<(i64, String)> = None;
    let mut last_progress: Option<Instant> = None;
    let result = catch_unwind(AssertUnwindSafe(|| {
        body(&mut |e: &WorkerEvent| {
            match e {
                WorkerEvent::Started(r) => {
                    current = Some((r.id, r.worker.clone().unwrap_or_default()))
                }
                WorkerEvent::Finished { .. } => current = None,
                // Progress comes every evaluation; a few per second is enough.
                WorkerEvent::Progress { .. } => {
                    if last_progress.is_some_and(|t| t.elapsed() < Duration::from_millis(200)) {
                        return;
                    }
                    last_progress = Some(Instant::now());
                }
                _ => {}
            }
            let _ = tx.send(Event::Worker(Box::new(e.clone())));
        })
    }));
    let stopped = match result {
        Ok(Ok(())) => return,
        Ok(Err(e)) => format!("worker stopped: {e}"),
        Err(payload) => {
            let msg = panic_message(payload.as_ref());
            let mut text = format!("worker crashed: {msg}");
            if let Some((id, worker)) = current {
                match fail_run(data_dir, id, &worker, &msg) {
                    Ok(()) => text.push_str(&format!(" (run {id} marked failed)")),
                    Err(e) => text.push_str(&format!(" (run {id} not marked failed: {e})")),
                }
            }
            text
        }
    };
    tracing::error!("{stopped}");
    let _ = tx.send(Event::WorkerStopped(stopped));
}

fn fail_run(data_dir: &Path, id: i64, worker: &str, msg: &str) -> Result<(), String> {
    let store = Store::open(&PathBuf::from(data_dir)).map_err(|e| e.to_string())?;
    store
        .finish_failed(id, worker, &format!("the worker panicked: {msg}"))
        .map_err(|e| e.to_string())
}

/// The text of a panic payload (`panic!` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
