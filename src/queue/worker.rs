//! The worker: takes queued runs one at a time and runs them through the engine
//! on its device, recording losses, heartbeats and results in the store.
//! Cancellation is checked at every evaluation; a stop request (Ctrl-C,
//! SIGTERM) puts the current run back in the queue.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tch::Device;

use super::error::{StoreError, StoreResult};
use super::rollbacks::RollbackRecord;
use super::run::{FinalLosses, Run, Sample, Status};
use super::store::{hostname, OnInterrupted, Store};
use crate::engine::color::ColorMode;
use crate::engine::device::device_name;
use crate::engine::image_io::{from_tensor, load_rgb, resize_longer_side, save_png, to_tensor};
use crate::engine::optim::Rollback;
use crate::engine::pyramid::Scales;
use crate::engine::transfer::{self, prepare, Flow, Observer, Outcome, Progress};
use crate::engine::vgg::{Pooling, Vgg19};
use crate::engine::weights::Weights;
use crate::engine::Error;

#[derive(Clone, Debug)]
pub struct WorkerConfig {
    pub device: Device,
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

/// What the worker reports as it goes.
#[derive(Clone, Debug)]
pub enum WorkerEvent {
    Recovered(Vec<i64>),
    Started(Box<Run>),
    Progress {
        run: i64,
        progress: Progress,
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
}

pub struct Worker {
    store: Store,
    id: String,
    config: WorkerConfig,
    weights: Option<Weights>,
    vgg: Option<(Pooling, Vgg19)>,
}

impl Worker {
    pub fn new(store: Store, config: WorkerConfig) -> Self {
        let id = format!("{}:{}", hostname(), std::process::id());
        Self {
            store,
            id,
            config,
            weights: None,
            vgg: None,
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
        let device = device_name(self.config.device);
        self.store.register_worker(&self.id, &device)?;
        let result = self.serve(stop, events, &device);
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
                let dead = self.store.recover(self.config.stale_after)?;
                if !dead.is_empty() {
                    events(&WorkerEvent::Recovered(dead));
                }
                self.store.requeue_interrupted(self.config.on_interrupted)?;
                last_recover = Some(Instant::now());
            }
            match self.store.claim(&self.id, device)? {
                Some(run) => {
                    taken += 1;
                    events(&WorkerEvent::Started(Box::new(run.clone())));
                    self.execute(run, stop, events)?;
                    self.store.worker_idle(&self.id)?;
                }
                None if self.config.exit_when_idle => break,
                None => {
                    events(&WorkerEvent::Idle);
                    self.store.worker_idle(&self.id)?;
                    sleep_unless(stop, self.config.poll);
                }
            }
        }
        Ok(taken)
    }

    fn execute(
        &mut self,
        run: Run,
        stop: &AtomicBool,
        events: &mut dyn FnMut(&WorkerEvent),
    ) -> StoreResult<()> {
        let id = run.id;
        let started = Instant::now();
        let ended = match self.stylize(&run, stop, events) {
            Ok(outcome) => match self.write_outputs(&run, &outcome) {
                Ok(path) => {
                    let l = outcome.best;
                    self.store.finish_done(
                        id,
                        &path,
                        outcome.evals as i64,
                        outcome.best_eval as i64,
                        &outcome.stop.to_string(),
                        FinalLosses {
                            style: l.style,
                            content: l.content,
                            tv: l.tv,
                            total: l.total,
                        },
                    )?;
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
                Err(e) => Ended::Failed(e.to_string()),
            },
            Err(e) => e,
        };
        let (status, detail) = match ended {
            Ended::Cancelled => {
                self.store.finish_cancelled(id)?;
                (Status::Cancelled, "cancelled".to_string())
            }
            Ended::Stopped => {
                self.store.requeue(id, None)?;
                (
                    Status::Queued,
                    "worker stopping: back in the queue".to_string(),
                )
            }
            Ended::Failed(reason) => {
                self.store.finish_failed(id, &reason)?;
                (Status::Failed, reason)
            }
        };
        events(&WorkerEvent::Finished {
            run: id,
            status,
            detail,
        });
        Ok(())
    }

    /// Loads the weights once and the network for `pooling` when it changes.
    fn ensure_vgg(&mut self, pooling: Pooling) -> Result<(), Error> {
        if self.weights.is_none() {
            self.weights = Some(Weights::load(&self.config.weights)?);
        }
        if self.vgg.as_ref().is_none_or(|(p, _)| *p != pooling) {
            self.vgg = None;
            let w = self
                .weights
                .as_ref()
                .ok_or_else(|| Error::Torch("weights not loaded".into()))?;
            self.vgg = Some((pooling, Vgg19::new(w, pooling, self.config.device)?));
        }
        Ok(())
    }

    fn stylize(
        &mut self,
        run: &Run,
        stop: &AtomicBool,
        events: &mut dyn FnMut(&WorkerEvent),
    ) -> Result<Outcome, Ended> {
        let mut spec = run.spec.clone();
        let fail = |e: Error| Ended::Failed(e.to_string());
        let content = load_rgb(&spec.content, spec.pixel_limit).map_err(fail)?;
        let styles = spec
            .styles
            .iter()
            .map(|s| load_rgb(&s.path, spec.pixel_limit))
            .collect::<Result<Vec<_>, Error>>()
            .map_err(fail)?;
        let device = self.config.device;
        // Resume from the last snapshot when the run can take one as its start:
        // single-scale and optimising the colour image itself. Otherwise the
        // run starts again from the beginning.
        let mut start = None;
        let mut offset = 0;
        let resumable = matches!(spec.scales, Scales::Count(1))
            && spec.preserve_colors != ColorMode::Luminance
            && spec.tile.is_none();
        if let (true, Some(snap), Some(done)) = (resumable, &run.resume_from, run.resume_eval) {
            if let Ok(img) = load_rgb(snap, spec.pixel_limit) {
                if (done as usize) < spec.steps {
                    let prepared = prepare(&spec, &content, &styles, device).map_err(fail)?;
                    let (_, _, h, w) = prepared.content.size4().map_err(|e| fail(e.into()))?;
                    let img = resize_longer_side(&img, h.max(w) as u32);
                    if let Ok(t) = to_tensor(&img, device) {
                        if t.size() == prepared.content.size() {
                            start = Some((prepared, t));
                            spec.steps -= done as usize;
                            offset = done;
                        }
                    }
                }
            }
        }
        self.ensure_vgg(spec.pooling).map_err(fail)?;
        let Some((_, vgg)) = &self.vgg else {
            return Err(Ended::Failed("model not loaded".into()));
        };
        let dir = self.store.run_dir(run.id);
        let mut obs = RunObserver {
            store: &mut self.store,
            run: run.id,
            worker: &self.id,
            stop,
            events,
            offset,
            pending: Vec::new(),
            pending_rollbacks: Vec::new(),
            last_flush: Instant::now(),
            ended: None,
            dir,
            snapshot_every: self.config.snapshot_every,
            last_snapshot: None,
        };
        let result = match start {
            Some((mut prepared, t)) => {
                prepared.start = Some(t);
                transfer::run(vgg, &spec, &prepared, &mut obs)
            }
            None => transfer::stylize(vgg, &spec, &content, &styles, device, &mut obs),
        };
        obs.flush();
        match result {
            Ok(o) => Ok(o),
            Err(Error::Cancelled) => Err(obs.ended.take().unwrap_or(Ended::Cancelled)),
            Err(e) => Err(fail(e)),
        }
    }

    /// Writes output.png (with the spec and results in text chunks) and
    /// thumb.png into the run's folder, atomically.
    fn write_outputs(&self, run: &Run, outcome: &Outcome) -> Result<PathBuf, StoreError> {
        let dir = self.store.run_dir(run.id);
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        let img = from_tensor(&outcome.image)?;
        let l = outcome.best;
        let result = serde_json::json!({
            "run": run.id,
            "stop": outcome.stop,
            "evals": outcome.evals,
            "best_eval": outcome.best_eval,
            "rollbacks": outcome.rollbacks,
            "losses": { "style": l.style, "content": l.content, "tv": l.tv, "total": l.total },
            "device": device_name(self.config.device),
        });
        let text = [
            ("Software", format!("atelier {}", env!("CARGO_PKG_VERSION"))),
            (
                "atelier:spec",
                serde_json::to_string(&run.spec).map_err(|e| StoreError::Spec(e.to_string()))?,
            ),
            ("atelier:result", result.to_string()),
        ];
        let out = dir.join("output.png");
        save_png(&out, &img, &text, true)?;
        let thumb = resize_longer_side(&img, self.config.thumb_size);
        save_png(&dir.join("thumb.png"), &thumb, &[], true)?;
        Ok(out)
    }
}

fn sleep_unless(stop: &AtomicBool, total: Duration) {
    let until = Instant::now() + total;
    while Instant::now() < until && !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Records samples (in batches), heartbeats, and checks for cancellation and
/// worker stop at every evaluation.
struct RunObserver<'a> {
    store: &'a mut Store,
    run: i64,
    worker: &'a str,
    stop: &'a AtomicBool,
    events: &'a mut dyn FnMut(&WorkerEvent),
    /// Evaluations done before this attempt (when resuming).
    offset: i64,
    pending: Vec<Sample>,
    /// Rollbacks not yet written (they go with the next batch of samples).
    pending_rollbacks: Vec<RollbackRecord>,
    last_flush: Instant,
    ended: Option<Ended>,
    /// The run's folder: `current.png` is the latest iterate, for the TUI and
    /// for resuming.
    dir: PathBuf,
    snapshot_every: usize,
    last_snapshot: Option<Instant>,
}

impl RunObserver<'_> {
    fn flush(&mut self) {
        // A failed write is retried with the next batch; losing the heartbeat
        // briefly is harmless.
        if self.store.add_samples(self.run, &self.pending).is_ok() {
            self.pending.clear();
        }
        if self
            .store
            .add_rollbacks(self.run, &self.pending_rollbacks)
            .is_ok()
        {
            self.pending_rollbacks.clear();
        }
        let _ = self.store.heartbeat(self.run, self.worker);
        self.last_flush = Instant::now();
    }
}

impl Observer for RunObserver<'_> {
    fn on_eval(&mut self, p: &Progress) -> Flow {
        let l = p.losses;
        self.pending.push(Sample {
            eval: self.offset + p.eval as i64,
            style: l.style,
            content: l.content,
            tv: l.tv,
            total: l.total,
            seconds: p.elapsed.as_secs_f64(),
        });
        if self.last_flush.elapsed() > Duration::from_millis(500) || self.pending.len() >= 200 {
            self.flush();
        }
        let mut shifted = p.clone();
        shifted.eval += self.offset as usize;
        (self.events)(&WorkerEvent::Progress {
            run: self.run,
            progress: shifted,
        });
        if self.stop.load(Ordering::SeqCst) {
            self.ended = Some(Ended::Stopped);
            return Flow::Stop;
        }
        if self.store.cancel_requested(self.run).unwrap_or(false) {
            self.ended = Some(Ended::Cancelled);
            return Flow::Stop;
        }
        Flow::Continue
    }

    fn on_rollback(&mut self, r: &Rollback) {
        self.pending_rollbacks.push(RollbackRecord {
            eval: self.offset + r.eval as i64,
            to_eval: self.offset + r.to_eval as i64,
            loss: Some(r.loss),
            reason: r.reason.clone(),
            remedy: r.remedy.clone(),
        });
    }

    fn snapshot_every(&self) -> usize {
        self.snapshot_every
    }

    /// Writes `current.png` (atomically, at most about once a second) and
    /// records it as the run's resume point.
    fn on_snapshot(&mut self, eval: usize, image: &tch::Tensor) -> Result<(), Error> {
        if self
            .last_snapshot
            .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return Ok(());
        }
        self.last_snapshot = Some(Instant::now());
        let img = from_tensor(image)?;
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::Write {
            path: self.dir.clone(),
            reason: e.to_string(),
        })?;
        let path = self.dir.join("current.png");
        save_png(&path, &img, &[], true)?;
        let done = self.offset + eval as i64;
        let _ = self.store.set_resume_point(self.run, &path, done);
        Ok(())
    }
}
