//! The store thread: the only part of the TUI that touches the database. It
//! refreshes a snapshot of the queue, history and the focused run's losses
//! about twice a second, and carries out the user's commands, so a frame never
//! waits on SQLite.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use crate::engine::image_io::load_rgb;
use crate::engine::spec::RunSpec;
use crate::engine::weights::sha256_file;
use crate::queue::{Filter, Input, Run, Sample, Store, WorkerInfo};
use crate::watch::{rule_states, RuleConfig, RuleState};

use super::event::Event;

/// What the UI sees of the store.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub queue: Vec<Run>,
    pub history: Vec<Run>,
    pub workers: Vec<WorkerInfo>,
    /// Samples of the focused run.
    pub focus: Option<(i64, Vec<Sample>)>,
    pub data_dir: PathBuf,
    /// The configured drop-folder rules with their counts and failures, from
    /// the ledger (kept by whichever `atelier watch` runs them).
    pub watch: Vec<RuleState>,
}

/// What the UI asks the store to do.
#[derive(Clone, Debug)]
pub enum Command {
    /// Which run's samples to keep fresh.
    Focus(Option<i64>),
    /// Queue runs: (spec, content name, style name) each.
    Enqueue(Vec<(RunSpec, String, String)>),
    Cancel(i64),
    Move(i64, usize),
    Priority(i64, i64),
    Delete(i64),
    Rerun(i64),
    Refresh,
}

pub fn spawn(
    data_dir: PathBuf,
    stale_after: f64,
    rules: Vec<RuleConfig>,
    commands: Receiver<Command>,
    events: Sender<Event>,
) {
    std::thread::Builder::new()
        .name("store".into())
        .spawn(move || {
            let mut store = match Store::open(&data_dir) {
                Ok(s) => s,
                Err(e) => {
                    let _ = events.send(Event::Notice(format!("error: {e}")));
                    return;
                }
            };
            let mut focus: Option<i64> = None;
            loop {
                match commands.recv_timeout(Duration::from_millis(500)) {
                    Ok(cmd) => {
                        if let Command::Focus(f) = cmd {
                            focus = f;
                        } else if let Some(msg) = execute(&mut store, cmd) {
                            tracing::info!("{msg}");
                            if events.send(Event::Notice(msg)).is_err() {
                                return;
                            }
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                let _ = store.recover(stale_after);
                let snap = snapshot(&store, focus, &rules);
                match snap {
                    Ok(s) => {
                        if events.send(Event::Data(Box::new(s))).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!("snapshot: {e}");
                        let _ = events.send(Event::Notice(format!("error: {e}")));
                    }
                }
            }
        })
        .expect("spawning a thread only fails when the OS is out of resources");
}

fn snapshot(
    store: &Store,
    focus: Option<i64>,
    rules: &[RuleConfig],
) -> crate::queue::StoreResult<Snapshot> {
    Ok(Snapshot {
        queue: store.queue()?,
        history: store.list(&Filter {
            limit: Some(500),
            ..Filter::default()
        })?,
        workers: store.workers()?,
        focus: match focus {
            Some(id) => Some((id, store.samples(id)?)),
            None => None,
        },
        data_dir: store.data_dir().to_path_buf(),
        watch: rule_states(store, rules)?,
    })
}

/// Runs a command; returns the message to show.
fn execute(store: &mut Store, cmd: Command) -> Option<String> {
    let result = match cmd {
        Command::Focus(_) | Command::Refresh => return None,
        Command::Enqueue(items) => enqueue(store, items),
        Command::Cancel(id) => store
            .cancel(id)
            .map(|s| format!("run {id}: {s}"))
            .map_err(|e| e.to_string()),
        Command::Move(id, to) => store
            .move_to(id, to)
            .map(|_| format!("run {id}: now place {to}"))
            .map_err(|e| e.to_string()),
        Command::Priority(id, p) => store
            .set_priority(id, p)
            .map(|_| format!("run {id}: priority {p}"))
            .map_err(|e| e.to_string()),
        Command::Delete(id) => store
            .delete(id)
            .map(|_| format!("deleted run {id}"))
            .map_err(|e| e.to_string()),
        Command::Rerun(id) => store
            .get(id)
            .and_then(|r| store.add(&r.spec, &r.inputs, r.priority))
            .map(|n| format!("queued run {n} (a re-run of {id})"))
            .map_err(|e| e.to_string()),
    };
    Some(match result {
        Ok(m) => m,
        Err(e) => format!("error: {e}"),
    })
}

fn enqueue(store: &mut Store, items: Vec<(RunSpec, String, String)>) -> Result<String, String> {
    let mut ids = Vec::new();
    for (spec, content_name, style_name) in items {
        let mut inputs = Vec::new();
        let mut files = vec![("content", &content_name, &spec.content)];
        files.extend(spec.styles.iter().map(|s| ("style", &style_name, &s.path)));
        for (role, name, path) in files {
            load_rgb(path, spec.pixel_limit).map_err(|e| e.to_string())?;
            inputs.push(Input {
                role: role.into(),
                name: Some(name.clone()),
                path: path.clone(),
                sha256: sha256_file(path).map_err(|e| e.to_string())?,
            });
        }
        ids.push(store.add(&spec, &inputs, 0).map_err(|e| e.to_string())?);
    }
    Ok(match ids.as_slice() {
        [one] => format!("queued run {one}"),
        many => format!(
            "queued runs {}",
            many.iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}
