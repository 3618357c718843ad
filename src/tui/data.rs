//! The store thread: the only part of the TUI that touches the database. It
//! refreshes a snapshot of the queue, history and the focused run's losses
//! about twice a second, and carries out the user's commands, so a frame never
//! waits on SQLite. It also reads what the memory estimate needs from disk and
//! the device (the content's dimensions, free memory), for the same reason.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use tch::Device;

use crate::engine::fast::models::ModelLibrary;
use crate::engine::infra::memory;
use crate::jobs::Job;
use crate::queue::{Filter, LossCache, Point, RollbackRecord, Run, Sample, Store, WorkerInfo};
use crate::watch::{rule_states, RuleConfig, RuleState};

use super::event::Event;

/// What the UI sees of the store.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub queue: Vec<Run>,
    /// The page of History asked for by [`Command::History`].
    pub history: Vec<Run>,
    /// Where that page starts among the runs that match, and how many do.
    pub history_offset: usize,
    pub history_total: usize,
    /// The runs asked for by [`Command::Pin`] (opened, marked, compared),
    /// wherever they are in History.
    pub pinned: Vec<Run>,
    pub workers: Vec<WorkerInfo>,
    /// Samples and rollbacks of the focused run.
    pub focus: Option<Focus>,
    pub data_dir: PathBuf,
    /// The configured drop-folder rules with their counts and failures, from
    /// the ledger (kept by whichever `atelier watch` runs them).
    pub watch: Vec<RuleState>,
    /// Whether an `atelier watch` runs on this data folder now (without one,
    /// files dropped in an inbox wait).
    pub watcher_running: bool,
    /// The worker device's memory, for Compose's estimate.
    pub memory: Option<DeviceMemory>,
    /// Width and height of the content Compose has (as asked by [`Command::Content`]).
    pub content_size: Option<(PathBuf, u32, u32)>,
}

/// What the loss chart of one run needs.
#[derive(Clone, Debug, Default)]
pub struct Focus {
    pub run: i64,
    pub samples: Vec<Sample>,
    /// Every series the run records, by name (a kind's view picks its own).
    pub points: Vec<Point>,
    pub rollbacks: Vec<RollbackRecord>,
}

/// Every series of the focused run, read incrementally like [`LossCache`]:
/// only steps not yet seen, all again when the run was taken up again.
#[derive(Debug, Default)]
struct PointCache {
    key: Option<(i64, i64)>,
    points: Vec<Point>,
}

impl PointCache {
    fn refresh(
        &mut self,
        store: &Store,
        run: i64,
        attempts: i64,
    ) -> crate::queue::StoreResult<&[Point]> {
        if self.key != Some((run, attempts)) {
            self.key = Some((run, attempts));
            self.points = store.samples_since(run, i64::MIN)?;
        } else {
            let after = self.points.last().map_or(i64::MIN, |p| p.step);
            self.points.extend(store.samples_since(run, after)?);
        }
        Ok(&self.points)
    }
}

/// Memory on the worker's device, refreshed every few seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceMemory {
    /// What the process holds before a run (CPU: resident memory; CUDA: 0,
    /// the free memory already excludes the network).
    pub base: u64,
    /// Free memory, if it can be told.
    pub available: Option<u64>,
}

/// A job to queue, with the names its inputs are shown by.
#[derive(Clone, Debug)]
pub struct NewRun {
    pub job: Job,
    /// The content's name, for the kinds that take one.
    pub content_name: Option<String>,
    /// One per style of the job, in order.
    pub style_names: Vec<String>,
}

/// What the UI asks the store to do.
#[derive(Clone, Debug)]
pub enum Command {
    /// Which run's samples to keep fresh.
    Focus(Option<i64>),
    /// Which content image to measure for the memory estimate.
    Content(Option<PathBuf>),
    /// Which page of History to read: its filter, order, offset and size.
    History(Filter),
    /// Which runs to read besides, by id, wherever they are in History.
    Pin(Vec<i64>),
    Enqueue(Vec<NewRun>),
    /// Pause (true) or resume a drop-folder rule, by name.
    PauseRule(String, bool),
    Cancel(i64),
    Move(i64, usize),
    Priority(i64, i64),
    Delete(i64),
    Rerun(i64),
    Refresh,
}

/// How often free memory is looked up (on CUDA that runs nvidia-smi).
const MEMORY_EVERY: Duration = Duration::from_secs(5);

pub fn spawn(
    data_dir: PathBuf,
    stale_after: f64,
    rules: Vec<RuleConfig>,
    device: Device,
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
            let mut view = Reads::default();
            let mut losses = LossCache::default();
            let mut points = PointCache::default();
            let mut content_size = None;
            let mut memory = None;
            let mut memory_at: Option<Instant> = None;
            loop {
                match commands.recv_timeout(Duration::from_millis(500)) {
                    Ok(Command::Focus(f)) => focus = f,
                    Ok(Command::History(f)) => (view.history, view.stale) = (f, true),
                    Ok(Command::Pin(ids)) => (view.pinned, view.stale) = (ids, true),
                    Ok(Command::Content(p)) => content_size = p.and_then(measure),
                    Ok(cmd) => {
                        view.stale = true;
                        if let Some(msg) = execute(&mut store, cmd) {
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
                if memory_at.is_none_or(|t| t.elapsed() >= MEMORY_EVERY) {
                    memory = Some(device_memory(device));
                    memory_at = Some(Instant::now());
                }
                let snap = snapshot(&store, focus, &mut view, (&mut losses, &mut points), &rules);
                match snap {
                    Ok(mut s) => {
                        s.memory = memory;
                        s.content_size.clone_from(&content_size);
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

/// How often History is read again when nothing says it changed (another
/// front end may have deleted runs).
const HISTORY_EVERY: Duration = Duration::from_secs(5);

/// What the UI asked to read besides the queue (a page of History, the runs
/// it holds on to by id) and what was read last. A search of 20,000 runs
/// takes a tenth of a second here, so History is read again only when the
/// view changed, a command ran, the queue changed (runs start and end
/// there), or [`HISTORY_EVERY`] passed.
struct Reads {
    history: Filter,
    pinned: Vec<i64>,
    stale: bool,
    queue_key: Vec<(i64, crate::queue::Status)>,
    read_at: Option<Instant>,
    page: Vec<Run>,
    total: usize,
    pinned_runs: Vec<Run>,
}

impl Default for Reads {
    fn default() -> Self {
        Self {
            history: Filter {
                limit: Some(super::panes::history::PAGE),
                ..Filter::default()
            },
            pinned: Vec::new(),
            stale: true,
            queue_key: Vec::new(),
            read_at: None,
            page: Vec::new(),
            total: 0,
            pinned_runs: Vec::new(),
        }
    }
}

impl Reads {
    fn refresh(&mut self, store: &Store, queue: &[Run]) -> crate::queue::StoreResult<()> {
        let key: Vec<_> = queue.iter().map(|r| (r.id, r.status)).collect();
        let old = self.read_at.is_none_or(|t| t.elapsed() >= HISTORY_EVERY);
        if self.stale || old || key != self.queue_key {
            self.page = store.list(&self.history)?;
            self.total = store.count(&self.history)?;
            self.pinned_runs = self
                .pinned
                .iter()
                .filter_map(|&id| store.get(id).ok())
                .collect();
            (self.stale, self.queue_key, self.read_at) = (false, key, Some(Instant::now()));
        }
        Ok(())
    }
}

fn snapshot(
    store: &Store,
    focus: Option<i64>,
    reads: &mut Reads,
    (losses, points): (&mut LossCache, &mut PointCache),
    rules: &[RuleConfig],
) -> crate::queue::StoreResult<Snapshot> {
    let watcher_running = crate::watch::presence::watcher_running(store.data_dir());
    let queue = store.queue()?;
    reads.refresh(store, &queue)?;
    Ok(Snapshot {
        queue,
        history: reads.page.clone(),
        history_offset: reads.history.offset,
        history_total: reads.total,
        pinned: reads.pinned_runs.clone(),
        workers: store.workers()?,
        focus: match focus {
            Some(run) => Some({
                let attempts = store.get(run).map_or(0, |r| r.attempts);
                Focus {
                    run,
                    samples: losses.refresh(store, run, attempts)?.to_vec(),
                    points: points.refresh(store, run, attempts)?.to_vec(),
                    rollbacks: store.rollbacks(run)?,
                }
            }),
            None => None,
        },
        data_dir: store.data_dir().to_path_buf(),
        watch: with_arriving(
            rule_states(store, rules)?,
            store.data_dir(),
            watcher_running,
        ),
        watcher_running,
        memory: None,
        content_size: None,
    })
}

/// The rules' states with the files a running watcher sees arriving (the
/// ledger knows only what was taken).
fn with_arriving(
    mut rules: Vec<RuleState>,
    data_dir: &std::path::Path,
    watcher_running: bool,
) -> Vec<RuleState> {
    // A report left by a watcher that is gone says nothing.
    let report = watcher_running.then(|| crate::watch::presence::last_report(data_dir));
    if let Some(state) = report.flatten() {
        for r in &mut rules {
            r.arriving = state.arriving.get(&r.name).copied().unwrap_or(0);
        }
    }
    rules
}

/// The image's dimensions from its header, without decoding it.
fn measure(path: PathBuf) -> Option<(PathBuf, u32, u32)> {
    let (w, h) = image::image_dimensions(&path).ok()?;
    Some((path, w, h))
}

fn device_memory(device: Device) -> DeviceMemory {
    DeviceMemory {
        base: if device.is_cuda() {
            0
        } else {
            memory::resident_bytes().unwrap_or(0)
        },
        available: memory::available_bytes(device),
    }
}

/// Runs a command; returns the message to show.
fn execute(store: &mut Store, cmd: Command) -> Option<String> {
    let result = match cmd {
        Command::Focus(_)
        | Command::Content(_)
        | Command::History(_)
        | Command::Pin(_)
        | Command::Refresh => return None,
        Command::Enqueue(items) => enqueue(store, items),
        Command::PauseRule(rule, paused) => store
            .set_rule_paused(&rule, paused)
            .map(|_| {
                format!(
                    "rule {rule}: {}",
                    if paused {
                        "paused (new files wait until it is resumed)"
                    } else {
                        "resumed"
                    }
                )
            })
            .map_err(|e| e.to_string()),
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
        Command::Rerun(id) => rerun(store, id),
    };
    Some(match result {
        Ok(m) => m,
        Err(e) => format!("error: {e}"),
    })
}

/// A re-run of run `id`, its inputs checked and hashed again by its kind
/// (a file may have changed since), as `atelier runs rerun` does.
fn rerun(store: &mut Store, id: i64) -> Result<String, String> {
    let r = store.get(id).map_err(|e| e.to_string())?;
    let Some(job) = r.job() else {
        return Err(format!(
            "run spec: run {id} is of kind '{}', which this atelier cannot run",
            r.kind()
        ));
    };
    let mut job = job.clone();
    let inputs = job.inputs_again(&r.inputs).map_err(|e| e.to_string())?;
    let n = store
        .add_job(&job, &inputs, r.priority)
        .map_err(|e| e.to_string())?;
    Ok(format!("queued run {n} (a re-run of {id})"))
}

/// The models a training queued here must not take the name of.
fn model_library(data_dir: &Path) -> ModelLibrary {
    ModelLibrary::new(
        crate::config::resolve(Path::new("models")),
        data_dir.join("models"),
    )
}

/// Queues Compose's runs, each checked by its kind (files read, hashed),
/// as `Command::Enqueue` does; the message to show, or why not.
pub fn enqueue(store: &mut Store, items: Vec<NewRun>) -> Result<String, String> {
    let mut ids = Vec::new();
    for NewRun {
        mut job,
        content_name,
        style_names,
    } in items
    {
        // Compose names a training for its painting, which a model (a
        // bundled one, say) may have already: the next free name, as the CLI.
        if let Job::Train(spec) = &mut job {
            let models = model_library(store.data_dir());
            spec.name = crate::jobs::train::build::model_name(&models, None, &spec.name)
                .map_err(|e| e.to_string())?;
        }
        // The kind's own checks (decoded, hashed, absolute paths), as the CLI.
        let inputs = job
            .inputs_named(content_name, &style_names)
            .map_err(|e| e.to_string())?;
        ids.push(store.add_job(&job, &inputs, 0).map_err(|e| e.to_string())?);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fast::train::TrainSpec;

    /// A training run Compose names for a painting a model is already named
    /// for gets the next free name when it is queued.
    #[test]
    fn a_compose_training_run_is_queued_under_a_free_model_name() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let photos = tmp.path().join("photos");
        std::fs::create_dir_all(data.join("models")).unwrap();
        std::fs::create_dir_all(&photos).unwrap();
        let img =
            image::RgbImage::from_fn(40, 40, |x, y| image::Rgb([x as u8 * 6, y as u8 * 6, 90]));
        img.save(photos.join("a.png")).unwrap();
        let style = tmp.path().join("irises.png");
        img.save(&style).unwrap();
        // A model of the user's already has the painting's name.
        std::fs::write(data.join("models/irises.safetensors"), b"x").unwrap();
        let mut store = Store::open(&data).unwrap();
        let train = NewRun {
            job: Job::Train(crate::jobs::train::Spec {
                name: "irises".into(),
                train: TrainSpec {
                    style: style.clone(),
                    dataset: photos.clone(),
                    ..TrainSpec::default()
                },
                sample_every: 1,
                pixel_limit: 1 << 24,
            }),
            content_name: None,
            style_names: vec!["irises".into()],
        };
        let msg = enqueue(&mut store, vec![train]).unwrap();
        assert!(msg.starts_with("queued run"), "{msg}");
        let runs = store.list(&Filter::default()).unwrap();
        match runs.iter().find_map(|r| r.job()) {
            Some(Job::Train(s)) => assert_eq!(s.name, "irises-2"),
            other => panic!("{other:?}"),
        }
    }

    /// Compose's video kind queues a video job of the typed clip (here a
    /// folder of frames) with the marked painting: the clip is probed when
    /// it is queued, so the stored job counts its frames.
    #[test]
    fn a_compose_video_is_queued_with_its_clip_s_frames_counted() {
        use crate::tui::lib_item::LibItem;
        use crate::tui::panes::compose::{ComposeState, Field, Kind};
        let tmp = tempfile::tempdir().unwrap();
        let clip = tmp.path().join("pan");
        std::fs::create_dir_all(&clip).unwrap();
        for i in 0..3u32 {
            let img = image::RgbImage::from_fn(32, 24, |x, y| {
                image::Rgb([(x + i) as u8 * 6, y as u8 * 8, 90])
            });
            img.save(clip.join(format!("{i:03}.png"))).unwrap();
        }
        let style = tmp.path().join("irises.png");
        image::RgbImage::from_pixel(32, 32, image::Rgb([200, 120, 40]))
            .save(&style)
            .unwrap();
        let mut c = ComposeState::new(crate::engine::gatys::spec::RunSpec::default());
        c.kind = Kind::Video;
        c.toggle_style(LibItem::from_path(&style));
        c.set(Field::Param(0), &clip.display().to_string()).unwrap();
        let runs = c.runs().unwrap();
        let mut store = Store::open(&tmp.path().join("data")).unwrap();
        let msg = enqueue(&mut store, runs).unwrap();
        assert!(msg.starts_with("queued run"), "{msg}");
        let stored = store.list(&Filter::default()).unwrap();
        match stored.iter().find_map(|r| r.job()) {
            Some(Job::Video(v)) => {
                assert_eq!(v.frames, 3);
                assert_eq!(v.input, std::fs::canonicalize(&clip).unwrap());
                assert!(matches!(v.method, crate::jobs::video::Method::Gatys(_)));
            }
            other => panic!("{other:?}"),
        }
    }
}
