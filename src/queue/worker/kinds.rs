//! The worker's arms for the kinds that are not a Gatys optimisation:
//! `train`, `apply` and `analogy`. Each reports through one [`KindSink`]
//! (samples, heartbeats, previews, checkpoints, stop and cancel checks).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{Ended, Model, ModelKey, Worker, WorkerConfig, WorkerEvent};
use crate::engine::analogy;
use crate::engine::arbitrary::apply::{styles_at_scale, stylize as arb_stylize};
use crate::engine::arbitrary::model_file::ArbModel;
use crate::engine::fast::apply::{apply_gram, apply_mix, DEFAULT_TILE};
use crate::engine::fast::model_file::Model as FastModel;
use crate::engine::fast::msg_style::target_of;
use crate::engine::flow::Flow;
use crate::engine::image_io::{from_tensor, load_rgb, resize_longer_side, save_png, to_tensor};
use crate::engine::sink::Sink;
use crate::engine::vgg::Pooling;
use crate::engine::weights::sha256_file;
use crate::engine::Error;
use crate::jobs::{self, Outcome, Progress};
use crate::queue::error::StoreError;
use crate::queue::run::{Point, Run};
use crate::queue::store::Store;

/// What a kind's progress records in the store: its step and its series.
type Record<P> = fn(&P) -> (i64, Vec<(&'static str, f64)>, f64);

/// Records a kind's samples (every `sample_every` steps, in batches),
/// heartbeats, the latest preview as the run's `current.png`, checkpoints as
/// resume points; checks for cancellation and worker stop at every step.
pub(super) struct KindSink<'a, P> {
    store: &'a mut Store,
    run: i64,
    worker: &'a str,
    stop: &'a AtomicBool,
    events: &'a mut dyn FnMut(&WorkerEvent),
    wrap: fn(P) -> Progress,
    record: Record<P>,
    sample_every: i64,
    preview_every: usize,
    pending: Vec<Point>,
    last_flush: Instant,
    pub(super) ended: Option<Ended>,
    dir: PathBuf,
    current: PathBuf,
}

impl<P: Clone> KindSink<'_, P> {
    pub(super) fn flush(&mut self) {
        // A failed write is retried with the next batch.
        if self.store.add_points(self.run, &self.pending).is_ok() {
            self.pending.clear();
        }
        let _ = self.store.heartbeat(self.run, self.worker);
        self.last_flush = Instant::now();
    }
}

impl<P: Clone> Sink<P> for KindSink<'_, P> {
    fn progress(&mut self, p: &P) -> Result<Flow, Error> {
        let (step, series, seconds) = (self.record)(p);
        if !series.is_empty() && step % self.sample_every.max(1) == 0 {
            for (s, value) in series {
                self.pending.push(Point {
                    step,
                    series: s.into(),
                    value,
                    seconds,
                });
            }
        }
        if self.last_flush.elapsed() > Duration::from_millis(500) || self.pending.len() >= 800 {
            self.flush();
        }
        (self.events)(&WorkerEvent::Progress {
            run: self.run,
            progress: (self.wrap)(p.clone()),
        });
        if self.stop.load(Ordering::SeqCst) {
            self.ended = Some(Ended::Stopped);
            return Ok(Flow::Stop);
        }
        if self.store.cancel_requested(self.run).unwrap_or(false) {
            self.ended = Some(Ended::Cancelled);
            return Ok(Flow::Stop);
        }
        Ok(Flow::Continue)
    }

    fn preview_every(&self) -> usize {
        self.preview_every
    }

    /// The latest preview for the Live view (not a resume point: these kinds'
    /// state is not their image).
    fn preview(&mut self, _step: usize, image: &tch::Tensor) -> Result<Flow, Error> {
        let img = from_tensor(image)?;
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        save_png(&self.current, &img, &[], true)?;
        Ok(Flow::Continue)
    }

    fn checkpoint(&mut self, step: usize, path: &Path) -> Result<Flow, Error> {
        self.flush();
        match self
            .store
            .set_resume_point(self.run, self.worker, path, step as i64)
        {
            Err(StoreError::NotOwner { .. }) => {
                self.ended = Some(Ended::Stopped);
                Ok(Flow::Stop)
            }
            _ => Ok(Flow::Continue),
        }
    }

    fn finish(&mut self) -> Result<(), Error> {
        self.flush();
        Ok(())
    }
}

pub(super) fn train_record(p: &jobs::train::Progress) -> (i64, Vec<(&'static str, f64)>, f64) {
    (
        p.iteration as i64,
        jobs::train::series_values(p),
        p.elapsed.as_secs_f64(),
    )
}

fn apply_record(p: &jobs::apply::Progress) -> (i64, Vec<(&'static str, f64)>, f64) {
    (p.done as i64, Vec::new(), p.elapsed.as_secs_f64())
}

fn analogy_record(p: &jobs::analogy::Progress) -> (i64, Vec<(&'static str, f64)>, f64) {
    (jobs::analogy::phase_index(p) as i64, Vec::new(), 0.0)
}

/// Why the run ended, from the sink's verdict or else the error.
pub(super) fn ended(sink_ended: Option<Ended>, e: Error) -> Ended {
    match (sink_ended, e) {
        (Some(x), _) => x,
        (None, Error::Cancelled) => Ended::Cancelled,
        (None, e) => super::failed(e),
    }
}

pub(super) fn fail(e: Error) -> Ended {
    super::failed(e)
}

impl Worker {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn kind_sink<'a, P>(
        &'a mut self,
        run: &Run,
        stop: &'a AtomicBool,
        events: &'a mut dyn FnMut(&WorkerEvent),
        wrap: fn(P) -> Progress,
        record: Record<P>,
        sample_every: i64,
        preview_every: usize,
    ) -> KindSink<'a, P> {
        let files = self.store.files(run.id);
        KindSink {
            store: &mut self.store,
            run: run.id,
            worker: &self.id,
            stop,
            events,
            wrap,
            record,
            sample_every,
            preview_every,
            pending: Vec::new(),
            last_flush: Instant::now(),
            ended: None,
            dir: files.dir.clone(),
            current: files.current(),
        }
    }

    /// Applies the model to every content, writing `NNN-<stem>__<model>.png`
    /// into the run folder; outputs already there (a resumed run) are kept.
    pub(super) fn perform_apply(
        &mut self,
        run: &Run,
        spec: &jobs::apply::Spec,
        stop: &AtomicBool,
        events: &mut dyn FnMut(&WorkerEvent),
    ) -> Result<(tch::Tensor, Outcome), Ended> {
        let files = self.store.files(run.id);
        std::fs::create_dir_all(&files.dir).map_err(|e| fail(Error::io(&files.dir, e)))?;
        let device = self.config.device;
        let started = Instant::now();
        match &spec.arbitrary {
            Some(_) => self.models.arbitrary(&self.config, &spec.model),
            None => self.models.fast(&self.config, &spec.model),
        }
        .map_err(fail)?;
        let model = match self.models.model.take() {
            Some((k, m @ (Model::Fast(_) | Model::Arb(_)))) => (k, m),
            _ => return Err(Ended::Failed("the model was not loaded".into())),
        };
        // The paintings are read once for all the photos.
        let mut styles = Vec::new();
        if let Some(a) = &spec.arbitrary {
            for s in &a.styles {
                match load_rgb(&s.path, spec.pixel_limit) {
                    Ok(img) => styles.push((img, s.weight)),
                    Err(e) => {
                        self.models.model = Some(model);
                        return Err(fail(e));
                    }
                }
            }
        }
        // An MSG-Net's target of paintings it was not trained on, once.
        let gram = match (&model.1, spec.msg.is_empty()) {
            (Model::Fast(m), false) => match target_of(m, &spec.msg, spec.pixel_limit, device) {
                Ok(g) => Some(g),
                Err(e) => {
                    self.models.model = Some(model);
                    return Err(fail(e));
                }
            },
            _ => None,
        };
        let of = spec.contents.len();
        let mut sink = self.kind_sink(run, stop, events, Progress::Apply, apply_record, 1, 0);
        let mut outputs = Vec::new();
        let mut first = None;
        let mut result = Ok(());
        for (i, content) in spec.contents.iter().enumerate() {
            let out = files.dir.join(spec.output_name(i));
            let step = (|| -> Result<image::RgbImage, Error> {
                if out.exists() {
                    return load_rgb(&out, spec.pixel_limit);
                }
                let img = load_rgb(content, spec.pixel_limit)?;
                let img = match spec.size {
                    Some(s) => resize_longer_side(&img, s),
                    None => img,
                };
                let y = match (&model.1, &spec.arbitrary) {
                    (Model::Arb(m), Some(a)) => arb_stylize(
                        m,
                        &img,
                        &styles_at_scale(&img, &styles),
                        &a.options(),
                        device,
                    )?,
                    (Model::Fast(m), None) => match &gram {
                        Some(g) => apply_gram(m, &img, g, device, DEFAULT_TILE)?,
                        None => apply_mix(m, &img, spec.mix.as_ref(), device, DEFAULT_TILE)?,
                    },
                    _ => return Err(Error::Torch("the model is not of the run's kind".into())),
                };
                let text = [
                    ("Software", format!("atelier {}", env!("CARGO_PKG_VERSION"))),
                    ("atelier:model", spec.label()),
                    ("atelier:content", content.display().to_string()),
                ];
                save_png(&out, &y, &text, false)?;
                Ok(y)
            })();
            match step {
                Ok(img) => {
                    if first.is_none() {
                        first = Some(img);
                    }
                    outputs.push(out);
                }
                Err(e) => {
                    result = Err(ended(None, e));
                    break;
                }
            }
            let p = jobs::apply::Progress {
                done: i + 1,
                of,
                elapsed: started.elapsed(),
            };
            match sink.progress(&p) {
                Ok(Flow::Continue) => {}
                Ok(Flow::Stop) | Err(_) => {
                    result = Err(sink.ended.take().unwrap_or(Ended::Cancelled));
                    break;
                }
            }
        }
        sink.flush();
        self.models.model = Some(model);
        result?;
        let first = first.ok_or_else(|| Ended::Failed("no content given".into()))?;
        let t = to_tensor(&first, tch::Device::Cpu).map_err(fail)?;
        Ok((
            t,
            Outcome::Apply(jobs::apply::Outcome {
                model: spec.model_display(),
                outputs,
                seconds: started.elapsed().as_secs_f64(),
            }),
        ))
    }

    /// Runs the analogy, writing B and the A→B′ flow (and its picture) into
    /// the run folder; A′ is the run's output.
    pub(super) fn perform_analogy(
        &mut self,
        run: &Run,
        spec: &jobs::analogy::Spec,
        stop: &AtomicBool,
        events: &mut dyn FnMut(&WorkerEvent),
    ) -> Result<(tch::Tensor, Outcome), Ended> {
        let files = self.store.files(run.id);
        std::fs::create_dir_all(&files.dir).map_err(|e| fail(Error::io(&files.dir, e)))?;
        let a = load_rgb(&spec.a, spec.pixel_limit).map_err(fail)?;
        let b_prime = load_rgb(&spec.b_prime, spec.pixel_limit).map_err(fail)?;
        self.models.vgg(&self.config, Pooling::Max).map_err(fail)?;
        let vgg = match self.models.model.take() {
            Some((k, Model::Vgg(v))) => (k, v),
            _ => return Err(Ended::Failed("the VGG was not loaded".into())),
        };
        let mut sink = self.kind_sink(run, stop, events, Progress::Analogy, analogy_record, 1, 0);
        let mut obs = jobs::analogy::SinkObserver::new(&mut sink);
        let result = analogy::run(&vgg.1, spec, &a, &b_prime, &mut obs);
        let sink_error = obs.error.take();
        sink.flush();
        let sink_ended = sink.ended.take();
        self.models.model = Some((vgg.0, Model::Vgg(vgg.1)));
        let done = match (result, sink_error) {
            (Ok(d), _) => d,
            (Err(e), None) | (Err(_), Some(e)) => return Err(ended(sink_ended, e)),
        };
        // A stopped attempt may have left files: this attempt's replace them.
        let names = jobs::analogy::FILES;
        for n in names {
            let _ = std::fs::remove_file(files.dir.join(n));
        }
        let written = analogy::write(&done, spec, &files.dir.join(names[0])).map_err(fail)?;
        let file_name = |p: &Path| {
            p.file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let t = to_tensor(&done.a_prime, tch::Device::Cpu).map_err(fail)?;
        Ok((
            t,
            Outcome::Analogy(jobs::analogy::Outcome {
                b: file_name(&written.b),
                flow: file_name(&written.flow_ab),
                flow_picture: file_name(&written.flow_ab_picture),
                timings: written.timings,
                identity_share: done.nnf_ab.identity_share(),
            }),
        ))
    }
}

impl super::ModelCache {
    /// The adain/wct model at `path` (its encoder from the worker's VGG
    /// weights unless the file embeds one), keyed as [`Self::fast`].
    pub(super) fn arbitrary(&mut self, config: &WorkerConfig, path: &Path) -> Result<(), Error> {
        let key = ModelKey::Arb {
            path: path.to_path_buf(),
            sha256: sha256_file(path)?,
        };
        if self.model.as_ref().is_none_or(|(k, _)| *k != key) {
            self.model = None;
            let m = ArbModel::load(path, &config.weights, config.device)?;
            self.model = Some((key, Model::Arb(Box::new(m))));
        }
        Ok(())
    }

    /// The fast-style model at `path`, keyed by its path and sha256 (a file
    /// replaced under the same name is loaded again).
    pub(super) fn fast(&mut self, config: &WorkerConfig, path: &Path) -> Result<(), Error> {
        let key = ModelKey::Fast {
            path: path.to_path_buf(),
            sha256: sha256_file(path)?,
        };
        if self.model.as_ref().is_none_or(|(k, _)| *k != key) {
            self.model = None;
            let m = FastModel::load(path, config.device)?;
            self.model = Some((key, Model::Fast(Box::new(m))));
        }
        Ok(())
    }
}
