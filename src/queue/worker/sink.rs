//! The worker's one sink, for every kind: samples recorded in batches,
//! heartbeats, the latest preview as the run's `current.png`, checkpoints
//! (and a Gatys run's previews, its state) as resume points, and the
//! cancellation and worker-stop checks at every step.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{Ended, Worker, WorkerEvent};
use crate::engine::gatys::transfer::{self, Event};
use crate::engine::infra::flow::Flow;
use crate::engine::infra::image_io::{from_tensor, save_png};
use crate::engine::infra::output::OutputPolicy;
use crate::engine::infra::sink::Sink;
use crate::engine::optim::Rollback;
use crate::engine::Error;
use crate::jobs::{self, stylize, Progress};
use crate::queue::error::StoreError;
use crate::queue::history::{Best, RunHistory};
use crate::queue::rollbacks::RollbackRecord;
use crate::queue::run::{Point, Run};
use crate::queue::store::Store;

/// One step of a kind's work as the store records it.
pub(super) struct Step {
    /// The step in this attempt.
    pub step: i64,
    pub series: Vec<(&'static str, f64)>,
    /// Seconds of work so far (this attempt's, for a Gatys run).
    pub seconds: f64,
}

/// What the worker's sink reads from a kind's progress.
pub(super) trait Recorded {
    /// The progress as the front ends see it.
    type Shown;
    /// The step to record; `None` for what is not a step (a rollback).
    fn step(&self) -> Option<Step>;
    /// The progress for the front ends, its steps counted from the run's
    /// start (`offset` of them done by earlier attempts).
    fn shown(&self, offset: i64) -> Option<Self::Shown>;
    /// A rollback to record (Gatys).
    fn rollback(&self) -> Option<&Rollback> {
        None
    }
    /// The step's losses, when its preview may become the run's best image.
    fn losses(&self) -> Option<&transfer::Progress> {
        None
    }
}

impl Recorded for Event {
    type Shown = transfer::Progress;
    fn step(&self) -> Option<Step> {
        match self {
            Event::Eval(p) => Some(Step {
                step: p.eval as i64,
                series: stylize::series_values(&p.losses).to_vec(),
                seconds: p.elapsed.as_secs_f64(),
            }),
            Event::Rollback(_) => None,
        }
    }
    fn shown(&self, offset: i64) -> Option<transfer::Progress> {
        let mut p = self.losses()?.clone();
        p.eval += offset as usize;
        Some(p)
    }
    fn rollback(&self) -> Option<&Rollback> {
        match self {
            Event::Rollback(r) => Some(r),
            Event::Eval(_) => None,
        }
    }
    fn losses(&self) -> Option<&transfer::Progress> {
        match self {
            Event::Eval(p) => Some(p),
            Event::Rollback(_) => None,
        }
    }
}

impl Recorded for jobs::train::Progress {
    type Shown = Self;
    fn step(&self) -> Option<Step> {
        Some(Step {
            step: self.iteration as i64,
            series: jobs::train::series_values(self),
            seconds: self.elapsed.as_secs_f64(),
        })
    }
    fn shown(&self, _: i64) -> Option<Self> {
        Some(self.clone())
    }
}

impl Recorded for jobs::apply::Progress {
    type Shown = Self;
    fn step(&self) -> Option<Step> {
        Some(Step {
            step: self.done as i64,
            series: Vec::new(),
            seconds: self.elapsed.as_secs_f64(),
        })
    }
    fn shown(&self, _: i64) -> Option<Self> {
        Some(self.clone())
    }
}

impl Recorded for jobs::analogy::Progress {
    type Shown = Self;
    fn step(&self) -> Option<Step> {
        Some(Step {
            step: jobs::analogy::phase_index(self) as i64,
            series: Vec::new(),
            seconds: 0.0,
        })
    }
    fn shown(&self, _: i64) -> Option<Self> {
        Some(*self)
    }
}

/// The sink of one run (see the module docs).
pub(super) struct RunSink<'a, P: Recorded> {
    store: &'a mut Store,
    run: i64,
    worker: &'a str,
    stop: &'a AtomicBool,
    events: &'a mut dyn FnMut(&WorkerEvent),
    /// The kind's progress variant.
    wrap: fn(P::Shown) -> Progress,
    /// Every how many steps the series are sampled.
    sample_every: i64,
    preview_every: usize,
    /// Whether a preview is the run's state (a Gatys image): then it is
    /// also the run's resume point, and may be its best image.
    image_state: bool,
    /// Steps done by earlier attempts (when resuming).
    offset: i64,
    pending: Vec<Point>,
    /// Rollbacks not yet written (they go with the next batch of samples).
    pending_rollbacks: Vec<RollbackRecord>,
    last_flush: Instant,
    pub(super) ended: Option<Ended>,
    /// The run's folder and its latest preview.
    dir: PathBuf,
    current: PathBuf,
    last_snapshot: Option<Instant>,
    /// The earlier attempts' history (when resuming).
    history: RunHistory,
    /// The best snapshot of the whole run so far (its image is `best.png`).
    best: Option<Best>,
    /// The step (of this attempt) of the last snapshot, whose losses come
    /// with that step's progress, just after the snapshot.
    snapshot_eval: Option<usize>,
    /// The test seam's engine error ([`Worker::with_engine_fault`]).
    fault: Option<String>,
}

impl Worker {
    /// The sink of `run`: its kind's progress variant, sampled every
    /// `sample_every` steps, previews every `preview_every`.
    pub(super) fn run_sink<'a, P: Recorded>(
        &'a mut self,
        run: &Run,
        stop: &'a AtomicBool,
        events: &'a mut dyn FnMut(&WorkerEvent),
        wrap: fn(P::Shown) -> Progress,
        sample_every: i64,
        preview_every: usize,
    ) -> RunSink<'a, P> {
        let files = self.store.files(run.id);
        RunSink {
            store: &mut self.store,
            run: run.id,
            worker: &self.id,
            stop,
            events,
            wrap,
            sample_every,
            preview_every,
            image_state: false,
            offset: 0,
            pending: Vec::new(),
            pending_rollbacks: Vec::new(),
            last_flush: Instant::now(),
            ended: None,
            dir: files.dir.clone(),
            current: files.current(),
            last_snapshot: None,
            history: RunHistory::default(),
            best: None,
            snapshot_eval: None,
            fault: None,
        }
    }
}

impl<P: Recorded> RunSink<'_, P> {
    /// A run whose previews are its state (Gatys), taking up after `offset`
    /// steps of earlier attempts whose record is `history`; `fault` is the
    /// test seam's engine error.
    pub(super) fn image_state(
        mut self,
        offset: i64,
        history: RunHistory,
        fault: Option<String>,
    ) -> Self {
        self.image_state = true;
        self.offset = offset;
        self.best = history.best;
        self.history = history;
        self.fault = fault;
        self
    }

    pub(super) fn flush(&mut self) {
        // A failed write is retried with the next batch; losing the heartbeat
        // briefly is harmless.
        if self.store.add_points(self.run, &self.pending).is_ok() {
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

    /// The snapshot just written has the losses of `p`: keep it as the best
    /// image when it is, and record the run's history for a resume.
    fn record_snapshot(&mut self, step: i64, seconds: f64, p: &transfer::Progress) {
        if self.best.is_none_or(|b| p.losses.total < b.losses.total) {
            let best = RunHistory::best_image(&self.dir);
            let copied = std::fs::read(&self.current).ok().is_some_and(|bytes| {
                OutputPolicy::new::<&Path>(true, &[])
                    .write_bytes(&best, &bytes)
                    .is_ok()
            });
            if copied {
                let l = &p.losses;
                self.best = Some(Best {
                    eval: step,
                    losses: stylize::FinalLosses {
                        style: l.style,
                        content: l.content,
                        tv: l.tv,
                        total: l.total,
                    },
                });
            }
        }
        let saved = RunHistory {
            seconds,
            rollbacks: self.history.rollbacks + p.rollbacks as i64,
            best: self.best,
        };
        // A failed write only loses history a resume would have used.
        let _ = saved.save(&self.dir);
    }

    /// `path` is where the run takes up from, `step` steps done; a run that
    /// is another worker's now stops here.
    fn resume_point(&mut self, path: &Path, step: i64) -> Flow {
        match self
            .store
            .set_resume_point(self.run, self.worker, path, step)
        {
            Err(StoreError::NotOwner { .. }) => {
                self.ended = Some(Ended::Stopped);
                Flow::Stop
            }
            _ => Flow::Continue,
        }
    }

    /// Whether the worker stops or the user cancelled the run.
    fn check(&mut self) -> Flow {
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
}

impl<P: Recorded> Sink<P> for RunSink<'_, P> {
    fn progress(&mut self, p: &P) -> Result<Flow, Error> {
        if let Some(r) = p.rollback() {
            self.pending_rollbacks.push(RollbackRecord {
                eval: self.offset + r.eval as i64,
                to_eval: self.offset + r.to_eval as i64,
                loss: Some(r.loss),
                reason: r.reason.clone(),
                remedy: r.remedy.clone(),
            });
            return Ok(Flow::Continue);
        }
        let Some(s) = p.step() else {
            return Ok(Flow::Continue);
        };
        if let Some(message) = self.fault.take() {
            return Err(Error::Torch(message));
        }
        let step = self.offset + s.step;
        // Time over the whole run: the earlier attempts' working time, not
        // the downtime between them.
        let seconds = self.history.seconds + s.seconds;
        if self.snapshot_eval == Some(s.step as usize) {
            self.snapshot_eval = None;
            if let Some(l) = p.losses() {
                self.record_snapshot(step, seconds, l);
            }
        }
        if step % self.sample_every.max(1) == 0 {
            for (series, value) in s.series {
                self.pending.push(Point {
                    step,
                    series: series.into(),
                    value,
                    seconds,
                });
            }
        }
        if self.last_flush.elapsed() > Duration::from_millis(500) || self.pending.len() >= 800 {
            self.flush();
        }
        if let Some(shown) = p.shown(self.offset) {
            (self.events)(&WorkerEvent::Progress {
                run: self.run,
                progress: (self.wrap)(shown),
            });
        }
        Ok(self.check())
    }

    fn preview_every(&self) -> usize {
        self.preview_every
    }

    /// Writes `current.png` atomically for the Live view; a Gatys run's
    /// (at most about once a second) is also its resume point.
    fn preview(&mut self, step: usize, image: &tch::Tensor) -> Result<Flow, Error> {
        if self.image_state
            && self
                .last_snapshot
                .is_some_and(|t| t.elapsed() < Duration::from_secs(1))
        {
            return Ok(Flow::Continue);
        }
        self.last_snapshot = Some(Instant::now());
        let img = from_tensor(image)?;
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        save_png(&self.current, &img, &[], true)?;
        if !self.image_state {
            return Ok(Flow::Continue);
        }
        self.snapshot_eval = Some(step);
        let current = self.current.clone();
        Ok(self.resume_point(&current, self.offset + step as i64))
    }

    fn checkpoint(&mut self, step: usize, path: &Path) -> Result<Flow, Error> {
        self.flush();
        Ok(self.resume_point(path, step as i64))
    }

    fn finish(&mut self) -> Result<(), Error> {
        self.flush();
        Ok(())
    }
}
