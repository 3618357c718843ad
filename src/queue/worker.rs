//! The worker: takes queued runs one at a time and runs them through the engine
//! on its device, recording losses, heartbeats and results in the store.
//! Cancellation is checked at every evaluation; a stop request (Ctrl-C,
//! SIGTERM) puts the current run back in the queue.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use image::RgbImage;
use tch::Device;

use super::error::{StoreError, StoreResult};
use super::history::RunHistory;
use super::run::{Run, Status, StoredJob};
use super::store::{hostname, OnInterrupted, Store};
use crate::engine::gatys::spec::RunSpec;
use crate::engine::gatys::transfer::{self, texture_canvas, Event};
use crate::engine::infra::device::{choose_auto, device_name, device_of_name, list_gpus};
use crate::engine::infra::error::ErrorClass;
use crate::engine::infra::image_io::{
    from_tensor, load_rgb, provenance_chunks, resize_longer_side, save_png_with, to_tensor,
};
use crate::engine::infra::memory;
use crate::engine::infra::output::{Fault, OutputPolicy};
use crate::engine::nets::vgg::{Pooling, Vgg19};
use crate::engine::nets::weights::Weights;
use crate::engine::Error;
use crate::jobs::{stylize, texture, Job, Outcome, Progress};
use retry::retrying;

mod kinds;
mod retry;
mod sink;
mod train;
mod video;

/// How often a running run's heartbeat is written, whatever the length of
/// one evaluation (a thread of its own beats while the engine works).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);

/// The shortest `stale_after` accepted: several heartbeat intervals, so that
/// one slow database write never makes a live worker look gone.
pub const MIN_STALE_AFTER: f64 = 6.0 * HEARTBEAT_INTERVAL.as_secs() as f64;

#[derive(Clone, Debug)]
pub struct WorkerConfig {
    pub device: Device,
    /// `--device auto`: when it starts, the worker takes the freest GPU that
    /// no live worker on this host holds (the CPU when none is left), and
    /// `device` is replaced by it.
    pub auto_device: bool,
    /// Size and steps of runs queued without them, per kind of device.
    pub defaults: RunDefaults,
    pub weights: PathBuf,
    /// How often to look for work when the queue is empty.
    pub poll: Duration,
    pub exit_when_idle: bool,
    /// A running run without heartbeat for this long is taken as interrupted.
    pub stale_after: f64,
    pub on_interrupted: OnInterrupted,
    /// Longer side of the thumbnail written next to each output.
    pub thumb_size: u32,
    /// Every how many evaluations the current iterate is saved (for the live
    /// view and for resuming); 0: never.
    pub snapshot_every: usize,
}

/// A Gatys run's size (longer side, px) and steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeSteps {
    pub size: u32,
    pub steps: usize,
}

/// The size and steps a worker gives runs queued without them: its
/// device's (`[cpu]` and `[gpu]` in the config).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunDefaults {
    pub cpu: SizeSteps,
    pub gpu: SizeSteps,
}

impl Default for RunDefaults {
    /// The built-in config's `[cpu]` and `[gpu]`.
    fn default() -> Self {
        RunDefaults {
            cpu: SizeSteps {
                size: 256,
                steps: 200,
            },
            gpu: SizeSteps {
                size: 512,
                steps: 1000,
            },
        }
    }
}

impl RunDefaults {
    pub fn on(&self, device: Device) -> SizeSteps {
        if device.is_cuda() {
            self.gpu
        } else {
            self.cpu
        }
    }
}

/// What the worker reports as it goes.
#[derive(Clone, Debug)]
pub enum WorkerEvent {
    Recovered(Vec<i64>),
    Started(Box<Run>),
    Progress {
        run: i64,
        progress: Progress,
    },
    /// The run takes up from its resume point, `step` steps done.
    Resumed {
        run: i64,
        step: i64,
    },
    /// A status change the store refused: the run is no longer this
    /// worker's (it went stale and another worker took it).
    Lost {
        run: i64,
        reason: String,
    },
    Finished {
        run: i64,
        status: Status,
        detail: String,
    },
    Idle,
}

/// Why a run ended without an image.
enum Ended {
    /// The user cancelled it.
    Cancelled,
    /// The worker is stopping: back to the queue.
    Stopped,
    Failed(String),
    /// The device failed (not out of memory): back to the queue, and the
    /// worker stops.
    DeviceFault(String),
}

/// A run's failure as the worker takes it: a device fault (a sticky CUDA
/// error) is the device's, not the run's.
fn failed(e: Error) -> Ended {
    match e.class() {
        ErrorClass::DeviceFault => Ended::DeviceFault(e.to_string()),
        _ => Ended::Failed(e.to_string()),
    }
}

pub struct Worker {
    store: Store,
    id: String,
    config: WorkerConfig,
    models: ModelCache,
    /// Injected failures of output.png and thumb.png writes: the test seam
    /// for a full disk (see [`Worker::with_write_faults`]).
    faults: [Option<Fault>; 2],
    /// The free memory the memory check sees instead of the device's (tests).
    free_memory: Option<u64>,
    /// An engine error every Gatys run fails with at its first evaluation
    /// (tests: a device fault without a GPU).
    engine_fault: Option<String>,
    registered: bool,
}

/// What the worker keeps loaded between runs, keyed by what each entry
/// holds: the VGG weights, and networks built from them (a kind that trains
/// or applies its own network adds its key and model here).
#[derive(Default)]
struct ModelCache {
    weights: Option<Weights>,
    /// The last network built; a run with another key replaces it (one
    /// network at a time keeps the device's memory for the run).
    model: Option<(ModelKey, Model)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum ModelKey {
    Vgg(Pooling),
    /// A fast-style network, by its file and the file's sha256.
    Fast {
        path: PathBuf,
        sha256: String,
    },
    /// An adain or wct model, likewise.
    Arb {
        path: PathBuf,
        sha256: String,
    },
}

enum Model {
    Vgg(Vgg19),
    Fast(Box<crate::engine::fast::model_file::Model>),
    Arb(Box<crate::engine::arbitrary::model_file::ArbModel>),
}

impl ModelCache {
    /// The VGG with `pooling`, loading the weights once.
    fn vgg(&mut self, config: &WorkerConfig, pooling: Pooling) -> Result<&Vgg19, Error> {
        let key = ModelKey::Vgg(pooling);
        if self.model.as_ref().is_none_or(|(k, _)| *k != key) {
            self.model = None;
            if self.weights.is_none() {
                self.weights = Some(Weights::load(&config.weights)?);
            }
            let w = self
                .weights
                .as_ref()
                .ok_or_else(|| Error::Torch("weights not loaded".into()))?;
            self.model = Some((key, Model::Vgg(Vgg19::new(w, pooling, config.device)?)));
        }
        match &self.model {
            Some((_, Model::Vgg(v))) => Ok(v),
            _ => Err(Error::Torch("model not loaded".into())),
        }
    }

    /// The VGG with `pooling`, out of the cache while a run's sink borrows
    /// the worker; [`ModelCache::put_back`] returns it.
    fn take_vgg(
        &mut self,
        config: &WorkerConfig,
        pooling: Pooling,
    ) -> Result<(ModelKey, Vgg19), Error> {
        self.vgg(config, pooling)?;
        match self.model.take() {
            Some((k, Model::Vgg(v))) => Ok((k, v)),
            _ => Err(Error::Torch("the VGG was not loaded".into())),
        }
    }

    fn put_back(&mut self, (key, vgg): (ModelKey, Vgg19)) {
        self.model = Some((key, Model::Vgg(vgg)));
    }
}

impl Worker {
    pub fn new(store: Store, config: WorkerConfig) -> Self {
        let id = format!("{}:{}", hostname(), std::process::id());
        Self {
            store,
            id,
            config,
            models: ModelCache::default(),
            faults: [None, None],
            free_memory: None,
            engine_fault: None,
            registered: false,
        }
    }

    /// The same worker with its memory check seeing `bytes` free on its
    /// device (tests only: a small GPU on any machine).
    pub fn with_free_memory(mut self, bytes: u64) -> Self {
        self.free_memory = Some(bytes);
        self
    }

    /// The same worker with the engine failing every Gatys run with
    /// `message` (as libtorch words it) at the run's first evaluation (tests
    /// only: a CUDA error without a GPU).
    pub fn with_engine_fault(mut self, message: &str) -> Self {
        self.engine_fault = Some(message.to_string());
        self
    }

    /// The worker's device: with `auto_device`, the one [`Worker::register`]
    /// chose.
    pub fn device(&self) -> Device {
        self.config.device
    }

    /// Registers the worker in the store (done by [`Worker::run`] if not
    /// before); with `auto_device`, first chooses its device among the GPUs
    /// that live workers on this host have not taken.
    pub fn register(&mut self) -> StoreResult<Device> {
        if self.config.auto_device {
            let gpus = list_gpus();
            let name = self.store.register_worker_choosing(&self.id, |taken| {
                let taken: Vec<Device> = taken.iter().filter_map(|d| device_of_name(d)).collect();
                device_name(choose_auto(&gpus, &taken))
            })?;
            self.config.device = device_of_name(&name).unwrap_or(Device::Cpu);
            self.config.auto_device = false;
        } else {
            let device = device_name(self.config.device);
            self.store.register_worker(&self.id, &device)?;
        }
        self.registered = true;
        Ok(self.config.device)
    }

    /// The same worker with its writes of output.png (`output`) and
    /// thumb.png (`thumb`) failing as the faults say (tests only: a full
    /// disk without root or tmpfs).
    pub fn with_write_faults(mut self, output: Option<Fault>, thumb: Option<Fault>) -> Self {
        self.faults = [output, thumb];
        self
    }

    /// How a run's file is written: replacing its own earlier attempt.
    fn policy(&self, fault: Option<Fault>) -> OutputPolicy {
        let policy = OutputPolicy::new::<&std::path::Path>(true, &[]);
        match fault {
            Some(f) => policy.with_fault(f),
            None => policy,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs until `stop` is set (or, with `exit_when_idle`, the queue is empty).
    /// Returns the number of runs it took.
    pub fn run(
        &mut self,
        stop: &AtomicBool,
        events: &mut dyn FnMut(&WorkerEvent),
    ) -> StoreResult<usize> {
        if !self.registered {
            self.register()?;
        }
        let device = device_name(self.config.device);
        let result = self.serve(stop, events, &device);
        self.registered = false;
        let _ = self.store.unregister_worker(&self.id);
        result
    }

    fn serve(
        &mut self,
        stop: &AtomicBool,
        events: &mut dyn FnMut(&WorkerEvent),
        device: &str,
    ) -> StoreResult<usize> {
        let mut taken = 0;
        let mut last_recover = None::<Instant>;
        while !stop.load(Ordering::SeqCst) {
            if last_recover.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                let dead = retrying(stop, || self.store.recover(self.config.stale_after))?;
                let mut interrupted = Vec::new();
                for id in dead {
                    match self.store.get(id) {
                        // It crashed its worker too often: failed for good.
                        Ok(r) if r.status == Status::Failed => events(&WorkerEvent::Finished {
                            run: id,
                            status: Status::Failed,
                            detail: r.error.unwrap_or_default(),
                        }),
                        _ => interrupted.push(id),
                    }
                }
                if !interrupted.is_empty() {
                    events(&WorkerEvent::Recovered(interrupted));
                }
                retrying(stop, || {
                    self.store.requeue_interrupted(self.config.on_interrupted)
                })?;
                last_recover = Some(Instant::now());
            }
            match retrying(stop, || self.store.claim(&self.id, device))? {
                Some(claimed) => {
                    taken += 1;
                    let (run, refused) = self.fill_defaults(claimed);
                    events(&WorkerEvent::Started(Box::new(run.clone())));
                    let executed = match refused {
                        Some(reason) => self.refuse(&run, reason, stop, events),
                        None => self.execute(run.clone(), stop, events),
                    };
                    match executed {
                        Err(StoreError::NotOwner { .. }) | Err(StoreError::NoSuchRun(_)) => {
                            // Another worker holds the run now (or it was
                            // deleted): this worker's result is not recorded.
                            events(&WorkerEvent::Lost {
                                run: run.id,
                                reason: "taken over by another worker; this result is dropped"
                                    .into(),
                            });
                        }
                        r => r?,
                    }
                    retrying(stop, || self.store.worker_idle(&self.id))?;
                }
                None if self.config.exit_when_idle => break,
                None => {
                    events(&WorkerEvent::Idle);
                    retrying(stop, || self.store.worker_idle(&self.id))?;
                    sleep_unless(stop, self.config.poll);
                }
            }
        }
        Ok(taken)
    }

    /// The claimed run with the size and steps `queue add` left to the
    /// device filled with this worker's device's, recorded in the store; and
    /// why it cannot run, when so.
    fn fill_defaults(&self, mut run: Run) -> (Run, Option<String>) {
        let wanted = run.device_defaults;
        let d = self.config.defaults.on(self.config.device);
        let StoredJob::Known(job) = &mut run.job else {
            return (run, None);
        };
        let spec = match job {
            Job::Stylize(s) => s,
            Job::Texture(t) => &mut t.gatys,
            _ => return (run, None),
        };
        if !wanted.any() || (spec.size, spec.steps) == (d.size, d.steps) {
            return (run, None);
        }
        if wanted.size {
            spec.size = d.size;
        }
        if wanted.steps {
            spec.steps = d.steps;
        }
        let refused = match job.validate() {
            Err(e) => Some(format!(
                "with {}'s defaults: {e}",
                device_name(self.config.device)
            )),
            Ok(()) => self
                .store
                .set_job(run.id, &self.id, job)
                .err()
                .map(|e| format!("cannot record the device's defaults: {e}")),
        };
        (run, refused)
    }

    /// Fails `run` without starting it.
    fn refuse(
        &self,
        run: &Run,
        reason: String,
        stop: &AtomicBool,
        events: &mut dyn FnMut(&WorkerEvent),
    ) -> StoreResult<()> {
        retrying(stop, || self.store.finish_failed(run.id, &self.id, &reason))?;
        events(&WorkerEvent::Finished {
            run: run.id,
            status: Status::Failed,
            detail: reason,
        });
        Ok(())
    }

    fn execute(
        &mut self,
        run: Run,
        stop: &AtomicBool,
        events: &mut dyn FnMut(&WorkerEvent),
    ) -> StoreResult<()> {
        let id = run.id;
        let started = Instant::now();
        let beating = Heartbeat::start(&self.store, id, &self.id);
        // Its input files as they are on this host, fetched from the store
        // when they were queued elsewhere.
        let run = match retrying(stop, || self.store.localize(&run)) {
            Ok(local) => local,
            Err(e @ (StoreError::NotOwner { .. } | StoreError::NoSuchRun(_))) => return Err(e),
            Err(e) => {
                drop(beating);
                return self.refuse(&run, e.to_string(), stop, events);
            }
        };
        let performed = self.perform(&run, stop, events);
        drop(beating);
        let ended = match performed {
            Ok((image, outcome)) => match self.write_outputs(&run, &image, &outcome) {
                Ok(path) => {
                    // Its files first, so a done run always has them in a
                    // store shared by several hosts.
                    let finished = retrying(stop, || {
                        self.store.put_run_files(id, &self.id)?;
                        self.store.finish_done(id, &self.id, &path, &outcome)
                    });
                    match finished {
                        Ok(()) => {
                            // Only now is a training's checkpoint no longer
                            // needed: the run is recorded as done.
                            let files = self.store.files(id);
                            let _ = std::fs::remove_file(files.training_checkpoint());
                            let _ = std::fs::remove_file(files.saved_model());
                        }
                        Err(e @ (StoreError::NotOwner { .. } | StoreError::NoSuchRun(_))) => {
                            return Err(e)
                        }
                        // The database could not take the result (a full
                        // disk): the run fails, with no output it does not list.
                        Err(e) => return self.fail_unwritten(&run, &e, stop, events),
                    }
                    events(&WorkerEvent::Finished {
                        run: id,
                        status: Status::Done,
                        detail: format!(
                            "{:.1} s, {}",
                            started.elapsed().as_secs_f64(),
                            path.display()
                        ),
                    });
                    return Ok(());
                }
                Err(e) => return self.fail_unwritten(&run, &e, stop, events),
            },
            Err(e) => e,
        };
        let (status, detail) = match ended {
            Ended::Cancelled => {
                retrying(stop, || self.store.finish_cancelled(id, &self.id))?;
                (Status::Cancelled, "cancelled".to_string())
            }
            Ended::Stopped => {
                retrying(stop, || self.store.requeue(id, &self.id))?;
                (
                    Status::Queued,
                    "worker stopping: back in the queue".to_string(),
                )
            }
            Ended::Failed(reason) => {
                retrying(stop, || self.store.finish_failed(id, &self.id, &reason))?;
                (Status::Failed, reason)
            }
            Ended::DeviceFault(reason) => {
                // Not the run's fault, nor a crash: it goes back to the head
                // of the queue for a worker on a sound device.
                retrying(stop, || self.store.requeue(id, &self.id))?;
                events(&WorkerEvent::Finished {
                    run: id,
                    status: Status::Queued,
                    detail: format!("device fault: back in the queue ({reason})"),
                });
                return Err(StoreError::DeviceUnusable {
                    device: device_name(self.config.device),
                    reason,
                });
            }
        };
        events(&WorkerEvent::Finished {
            run: id,
            status,
            detail,
        });
        Ok(())
    }

    /// Fails `run` whose result could not be written, with the reason
    /// ("disk full: …" when it was that), removing what of it was written:
    /// output.png without its thumbnail or its row is a partial result.
    fn fail_unwritten(
        &self,
        run: &Run,
        e: &StoreError,
        stop: &AtomicBool,
        events: &mut dyn FnMut(&WorkerEvent),
    ) -> StoreResult<()> {
        let files = self.store.files(run.id);
        for f in [files.output(), files.thumb()] {
            let _ = std::fs::remove_file(f);
        }
        let reason = if e.is_disk_full() {
            format!("disk full: {e}")
        } else {
            e.to_string()
        };
        retrying(stop, || self.store.finish_failed(run.id, &self.id, &reason))?;
        events(&WorkerEvent::Finished {
            run: run.id,
            status: Status::Failed,
            detail: reason,
        });
        Ok(())
    }

    /// Runs the job of `run`: one arm per kind, each returning its image and
    /// the kind's outcome.
    fn perform(
        &mut self,
        run: &Run,
        stop: &AtomicBool,
        events: &mut dyn FnMut(&WorkerEvent),
    ) -> Result<(tch::Tensor, Outcome), Ended> {
        let fail = failed;
        let job = run.job().ok_or_else(|| {
            Ended::Failed(format!(
                "this atelier cannot run a job of kind '{}'",
                run.kind()
            ))
        })?;
        changed_inputs(&self.store, run).map_err(Ended::Failed)?;
        let resume = match (&run.resume_from, run.resume_step) {
            (Some(from), Some(step)) => Some(stylize::Resume {
                from: from.clone(),
                step,
            }),
            _ => None,
        };
        match job {
            Job::Stylize(spec) => {
                let content = load_rgb(&spec.content, spec.pixel_limit).map_err(fail)?;
                let styles = load_styles(spec).map_err(fail)?;
                let o = self.gatys(
                    run,
                    spec,
                    &content,
                    &styles,
                    resume,
                    stop,
                    events,
                    Progress::Stylize,
                )?;
                Ok((
                    o.image.shallow_clone(),
                    Outcome::Stylize(stylize::Outcome::from(&o)),
                ))
            }
            Job::Texture(t) => {
                let styles = load_styles(&t.gatys).map_err(fail)?;
                let first = styles
                    .first()
                    .ok_or_else(|| Ended::Failed("a texture needs a style".into()))?;
                let (w, h) = t.canvas(first.width(), first.height());
                let canvas = texture_canvas(w, h);
                let o = self.gatys(
                    run,
                    &t.gatys,
                    &canvas,
                    &styles,
                    resume,
                    stop,
                    events,
                    Progress::Texture,
                )?;
                let outcome: texture::Outcome = stylize::Outcome::from(&o);
                Ok((o.image.shallow_clone(), Outcome::Stylize(outcome)))
            }
            Job::Train(spec) => self.perform_train(run, spec, stop, events),
            Job::Apply(spec) => self.perform_apply(run, spec, stop, events),
            Job::Analogy(spec) => self.perform_analogy(run, spec, stop, events),
            Job::Video(spec) => self.perform_video(run, spec, stop, events),
        }
    }

    /// A Gatys optimisation (stylize, texture) of `spec` on `content`,
    /// resumed from the last snapshot when it can take one as its start:
    /// single-scale, untiled, and optimising the colour image itself.
    /// Otherwise the run starts again from the beginning.
    #[allow(clippy::too_many_arguments)]
    fn gatys(
        &mut self,
        run: &Run,
        spec: &RunSpec,
        content: &RgbImage,
        styles: &[RgbImage],
        resume: Option<stylize::Resume>,
        stop: &AtomicBool,
        events: &mut dyn FnMut(&WorkerEvent),
        wrap: fn(transfer::Progress) -> Progress,
    ) -> Result<transfer::Outcome, Ended> {
        let fail = failed;
        let device = self.config.device;
        // The memory guard, as `atelier stylize` has it: refuse before
        // starting a run that cannot fit (the worker takes the next one).
        let available = match self.free_memory {
            Some(b) => Some(b),
            None => memory::available_bytes(device),
        };
        memory::check_against(spec, content.width(), content.height(), device, available)
            .map_err(fail)?;
        let start = stylize::run::start(spec, content, styles, device, resume).map_err(fail)?;
        let offset = start.offset;
        if offset > 0 {
            events(&WorkerEvent::Resumed {
                run: run.id,
                step: offset,
            });
        }
        let vgg = self
            .models
            .take_vgg(&self.config, start.spec.pooling)
            .map_err(fail)?;
        let files = self.store.files(run.id);
        // What the earlier attempts did, when this one takes up from them.
        let history = if offset > 0 {
            RunHistory::load(&files.dir)
        } else {
            RunHistory::clear(&files.dir);
            RunHistory::default()
        };
        let fault = self.engine_fault.clone();
        let snapshot_every = self.config.snapshot_every;
        let mut sink = self
            .run_sink::<Event>(run, stop, events, wrap, 1, snapshot_every)
            .image_state(offset, history.clone(), fault);
        let result = stylize::run::run(&vgg.1, &start, content, styles, device, &mut sink);
        sink.flush();
        let ended = sink.ended.take();
        self.models.put_back(vgg);
        match result {
            Ok(o) => whole_run(o, offset, &history, &files.dir).map_err(fail),
            Err(Error::Cancelled) => Err(ended.unwrap_or(Ended::Cancelled)),
            Err(e) => Err(ended.unwrap_or_else(|| fail(memory::explain_oom(e, spec, device)))),
        }
    }

    /// Writes output.png (with the job and its outcome in text chunks) and
    /// thumb.png into the run's folder, atomically.
    fn write_outputs(
        &self,
        run: &Run,
        image: &tch::Tensor,
        outcome: &Outcome,
    ) -> Result<PathBuf, StoreError> {
        let files = self.store.files(run.id);
        std::fs::create_dir_all(&files.dir).map_err(|e| StoreError::io(&files.dir, e))?;
        let img = from_tensor(image)?;
        let mut result =
            serde_json::to_value(outcome).map_err(|e| StoreError::Spec(e.to_string()))?;
        if let Some(obj) = result.as_object_mut() {
            obj.insert("run".into(), run.id.into());
            obj.insert("kind".into(), run.kind().into());
            obj.insert("device".into(), device_name(self.config.device).into());
        }
        let spec = match run.job() {
            Some(Job::Stylize(s)) => serde_json::to_string(s),
            Some(Job::Texture(t)) => serde_json::to_string(&t.gatys),
            Some(j) => j.spec_json(),
            None => Ok(String::new()),
        }
        .map_err(|e| StoreError::Spec(e.to_string()))?;
        let text = provenance_chunks(spec, &result);
        let out = files.output();
        save_png_with(&out, &img, &text, &self.policy(self.faults[0]))?;
        let thumb = resize_longer_side(&img, self.config.thumb_size);
        save_png_with(&files.thumb(), &thumb, &[], &self.policy(self.faults[1]))?;
        Ok(out)
    }
}

/// Beats for a run every [`HEARTBEAT_INTERVAL`] on its own connection, so
/// that a long evaluation never looks like a dead worker; stops when dropped.
struct Heartbeat {
    done: std::sync::Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    fn start(store: &Store, run: i64, worker: &str) -> Self {
        let done = std::sync::Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let (open, worker) = (store.opener(), worker.to_string());
        let thread = std::thread::Builder::new()
            .name("heartbeat".into())
            .spawn(move || {
                // Without its own store the evaluations' flushes still beat.
                let Ok(store) = open() else {
                    return;
                };
                loop {
                    sleep_unless(&flag, HEARTBEAT_INTERVAL);
                    if flag.load(Ordering::SeqCst) {
                        break;
                    }
                    let _ = store.heartbeat(run, &worker);
                }
            })
            .ok();
        Self { done, thread }
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The outcome of the last attempt as that of the whole run: counts and
/// time over every attempt, and the best image of all of them (an earlier
/// attempt's best snapshot when the last attempt never got below it).
fn whole_run(
    mut o: transfer::Outcome,
    offset: i64,
    before: &RunHistory,
    dir: &std::path::Path,
) -> Result<transfer::Outcome, Error> {
    o.evals += offset as usize;
    o.best_eval += offset as usize;
    o.rollbacks += before.rollbacks as usize;
    o.elapsed += Duration::from_secs_f64(before.seconds.max(0.0));
    if let Some(b) = before.best.filter(|b| b.losses.total < o.best.total) {
        if let Ok(img) = load_rgb(&RunHistory::best_image(dir), u64::MAX) {
            let (_, _, h, w) = o.image.size4()?;
            if (i64::from(img.height()), i64::from(img.width())) == (h, w) {
                o.image = to_tensor(&img, Device::Cpu)?;
                o.best = transfer::Losses {
                    style: b.losses.style,
                    content: b.losses.content,
                    tv: b.losses.tv,
                    total: b.losses.total,
                };
                o.best_eval = b.eval as usize;
            }
        }
    }
    Ok(o)
}

/// Refuses a run whose input files changed since it was queued: the history
/// must say what really ran, and the recorded sha256 is what was asked for
/// (`runs rerun` records the files as they are now). A file this process
/// hashed as it is now (finding it on this host) is not read again.
fn changed_inputs(store: &Store, run: &Run) -> Result<(), String> {
    // Only a recorded hash can be compared (older rows and tests may hold a
    // placeholder).
    for i in run
        .inputs
        .iter()
        .filter(|i| super::store::is_sha256(&i.sha256))
    {
        let now = if i.role == crate::jobs::Role::Dataset {
            crate::engine::fast::dataset::Dataset::scan(&i.path)
                .and_then(|d| d.manifest_sha256())
                .map_err(|e| format!("the dataset {}: {e}", i.path.display()))?
        } else {
            store.file_sha256(&i.path).map_err(|e| e.to_string())?
        };
        if now != i.sha256 {
            return Err(format!(
                "the {} {} changed since the run was queued (sha256 {}… then, {}… now); \
                 re-run it to record the new file",
                i.role,
                i.path.display(),
                &i.sha256[..12.min(i.sha256.len())],
                &now[..12.min(now.len())]
            ));
        }
    }
    Ok(())
}

/// The decoded style images of a Gatys spec, in order.
fn load_styles(spec: &RunSpec) -> Result<Vec<RgbImage>, Error> {
    spec.styles
        .iter()
        .map(|s| load_rgb(&s.path, spec.pixel_limit))
        .collect()
}

fn sleep_unless(stop: &AtomicBool, total: Duration) {
    let until = Instant::now() + total;
    while Instant::now() < until && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
}
