//! The worker's arms for the kinds that are not a Gatys optimisation:
//! `train`, `apply` and `analogy`. Each reports through the worker's one
//! [`super::sink::RunSink`].

use std::path::Path;
use std::sync::atomic::AtomicBool;

use super::{Ended, Model, ModelKey, Worker, WorkerConfig, WorkerEvent};
use crate::engine::arbitrary::model_file::ArbModel;
use crate::engine::fast::model_file::Model as FastModel;
use crate::engine::infra::image_io::{load_rgb, to_tensor};
use crate::engine::nets::vgg::Pooling;
use crate::engine::nets::weights::sha256_file;
use crate::engine::Error;
use crate::jobs::analogy::run::run as analogy_run;
use crate::jobs::apply::run::{run as apply_run, Network};
use crate::jobs::{self, Outcome, Progress};
use crate::queue::run::Run;

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
    /// Applies the model to every content, writing `NNN-<stem>__<model>.png`
    /// into the run folder ([`jobs::apply::run`]).
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
        let model = self.take_model(spec)?;
        let mut sink = self.run_sink(run, stop, events, Progress::Apply, 1, 0);
        let result = match &model.1 {
            Model::Fast(m) => apply_run(spec, Network::Fast(m), &files.dir, device, &mut sink),
            Model::Arb(m) => apply_run(spec, Network::Arbitrary(m), &files.dir, device, &mut sink),
            Model::Vgg(_) => Err(Error::Torch("the model was not loaded".into())),
        };
        sink.flush();
        let sink_ended = sink.ended.take();
        self.models.model = Some(model);
        let (first, outcome) = result.map_err(|e| ended(sink_ended, e))?;
        let t = to_tensor(&first, tch::Device::Cpu).map_err(fail)?;
        Ok((t, Outcome::Apply(outcome)))
    }

    /// The network of an apply `spec`, loaded (or found in the cache) and
    /// taken out of the cache while a sink borrows the worker; the caller
    /// puts it back in `self.models.model`.
    pub(super) fn take_model(
        &mut self,
        spec: &jobs::apply::Spec,
    ) -> Result<(ModelKey, Model), Ended> {
        match &spec.arbitrary {
            Some(_) => self.models.arbitrary(&self.config, &spec.model),
            None => self.models.fast(&self.config, &spec.model),
        }
        .map_err(fail)?;
        self.models
            .model
            .take()
            .ok_or_else(|| Ended::Failed("the model was not loaded".into()))
    }

    /// Runs the analogy, writing B and the A→B′ flow (and its picture) into
    /// the run folder ([`jobs::analogy::run`]); A′ is the run's output.
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
        // A stopped attempt may have left files: this attempt's replace them.
        let names = jobs::analogy::FILES;
        for n in names {
            let _ = std::fs::remove_file(files.dir.join(n));
        }
        let vgg = self
            .models
            .take_vgg(&self.config, Pooling::Max)
            .map_err(fail)?;
        let mut sink = self.run_sink(run, stop, events, Progress::Analogy, 1, 0);
        let out = files.dir.join(names[0]);
        let result = analogy_run(spec, &vgg.1, (&a, &b_prime), &out, &mut sink);
        sink.flush();
        let sink_ended = sink.ended.take();
        self.models.put_back(vgg);
        let (done, written) = result.map_err(|e| ended(sink_ended, e))?;
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
