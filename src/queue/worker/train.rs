//! The worker's `train` arm. A training finishes exactly once: the final
//! checkpoint is on disk before the model is saved, the run folder records
//! which model the run saved (`saved-model.json`), and the checkpoint is
//! removed only once the run is recorded as done. A worker killed anywhere
//! in between resumes into the same model, never into a second one.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use super::kinds::{ended, fail};
use super::{Ended, Worker, WorkerEvent};
use crate::engine::fast::apply::{apply as apply_model, DEFAULT_TILE};
use crate::engine::fast::dataset::Dataset;
use crate::engine::fast::model_file::{read_info, Model as FastModel};
use crate::engine::fast::models::{ModelLibrary, EXT};
use crate::engine::fast::train::read_resume;
use crate::engine::infra::image_io::{
    load_rgb, resize_longer_side, to_tensor, DEFAULT_PIXEL_LIMIT,
};
use crate::engine::infra::output::OutputPolicy;
use crate::engine::nets::vgg::Pooling;
use crate::engine::nets::weights::sha256_file;
use crate::engine::Error;
use crate::jobs::train::run::run as train_job;
use crate::jobs::{self, Outcome, Progress};
use crate::queue::run::Run;

/// Set by tests to kill the worker (abort, as `kill -9` would) at a named
/// point, so a crash between two steps can be reproduced exactly.
const CRASH_AT: &str = "ATELIER_TEST_CRASH_AT";

fn crash_point(name: &str) {
    if std::env::var(CRASH_AT).is_ok_and(|v| v == name) {
        std::process::abort();
    }
}

/// The model a run saved (or is saving) into the user's library. Written
/// before the save with the chosen path, and again with the file's sha256
/// after it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct SavedModel {
    name: String,
    path: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
}

impl SavedModel {
    fn read(path: &Path) -> Option<SavedModel> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }

    fn write(&self, path: &Path) -> Result<(), Error> {
        let bytes =
            serde_json::to_vec(self).map_err(|e| Error::invalid("saved model", e.to_string()))?;
        OutputPolicy::new::<&Path>(true, &[]).write_bytes(path, &bytes)
    }

    /// Whether the file at `self.path` is the model this run saved: its
    /// recorded hash, or (killed between the save and the hash) the same
    /// training and iteration count as `model`.
    fn is_ours(&self, model: Option<&FastModel>) -> bool {
        match (&self.sha256, model) {
            (Some(h), _) => sha256_file(&self.path).is_ok_and(|now| &now == h),
            (None, Some(m)) => read_info(&self.path)
                .is_ok_and(|i| i.training == m.info.training && i.iterations == m.info.iterations),
            (None, None) => false,
        }
    }
}

impl Worker {
    /// Trains the spec's network, from the run's last checkpoint when it has
    /// one, and saves the model into the user's library under the spec's
    /// name (another free name if that one was taken meanwhile). A run that
    /// saved its model already (its worker was killed after the save) takes
    /// that model as its result.
    pub(super) fn perform_train(
        &mut self,
        run: &Run,
        spec: &jobs::train::Spec,
        stop: &AtomicBool,
        events: &mut dyn FnMut(&WorkerEvent),
    ) -> Result<(tch::Tensor, Outcome), Ended> {
        let files = self.store.files(run.id);
        std::fs::create_dir_all(&files.dir).map_err(|e| fail(Error::io(&files.dir, e)))?;
        let marker = files.saved_model();
        let device = self.config.device;
        if let Some(saved) = SavedModel::read(&marker).filter(|s| s.is_ours(None)) {
            let model = FastModel::load(&saved.path, device).map_err(fail)?;
            let record = jobs::train::Outcome {
                model: saved.name.clone(),
                path: saved.path.clone(),
                iterations: model.info.iterations,
                losses: model.info.final_losses.clone(),
                seconds: model.info.seconds.unwrap_or(0.0),
            };
            return self.train_result(spec, &model, record);
        }
        let checkpoint = files.training_checkpoint();
        let resume = match (&run.resume_from, run.resume_step) {
            (Some(from), Some(_)) if from == &checkpoint => read_resume(from).ok(),
            _ => None,
        };
        if let Some(r) = &resume {
            events(&WorkerEvent::Resumed {
                run: run.id,
                step: r.iteration as i64,
            });
        } else {
            // A checkpoint the store does not point at (or cannot be read) is
            // not this attempt's: start clean rather than mix trajectories.
            let _ = std::fs::remove_file(&checkpoint);
        }
        let vgg = self
            .models
            .take_vgg(&self.config, Pooling::Max)
            .map_err(fail)?;
        let preview_every = spec.train.preview_every as usize;
        let sample_every = spec.sample_every.max(1) as i64;
        let mut sink = self.run_sink(
            run,
            stop,
            events,
            Progress::Train,
            sample_every,
            preview_every,
        );
        let result = train_job(&spec.train, &vgg.1, &checkpoint, resume.as_ref(), &mut sink);
        sink.flush();
        let sink_ended = sink.ended.take();
        self.models.put_back(vgg);
        let o = result.map_err(|e| ended(sink_ended, e))?;
        let (name, path) = self
            .save_model(run.id, &spec.name, &o.model, &marker)
            .map_err(|e| {
                Ended::Failed(format!(
                    "{e}; the trained weights are kept in {}",
                    checkpoint.display()
                ))
            })?;
        crash_point("train-model-saved");
        let record = jobs::train::Outcome {
            model: name,
            path,
            iterations: o.iterations,
            losses: o.final_losses,
            seconds: o.seconds,
        };
        self.train_result(spec, &o.model, record)
    }

    /// The output image of a training: the trained network on the preview
    /// photo, else (deleted meanwhile) the dataset's first photo, else the
    /// style itself — the model is saved already, and a missing picture of
    /// it must not fail the run.
    fn train_result(
        &self,
        spec: &jobs::train::Spec,
        model: &FastModel,
        record: jobs::train::Outcome,
    ) -> Result<(tch::Tensor, Outcome), Ended> {
        let first_photo = || {
            Dataset::scan(&spec.train.dataset)
                .ok()
                .and_then(|d| d.files.first().cloned())
        };
        let photo = spec
            .train
            .preview
            .iter()
            .cloned()
            .chain(first_photo())
            .chain([spec.train.style.clone()])
            .find_map(|p| load_rgb(&p, DEFAULT_PIXEL_LIMIT).ok())
            .ok_or_else(|| {
                Ended::Failed(format!(
                    "the model is saved ({}), but no photo to show it on could be read",
                    record.path.display()
                ))
            })?;
        let img = resize_longer_side(&photo, spec.train.size.max(64));
        let out = apply_model(model, &img, self.config.device, DEFAULT_TILE).map_err(fail)?;
        let t = to_tensor(&out, tch::Device::Cpu).map_err(fail)?;
        Ok((t, Outcome::Train(record)))
    }

    /// Saves `model` as `name` in the user's library, never over a file: when
    /// the name was taken while the run trained, `<name>-run<id>` instead.
    /// `marker` records the choice before the save and the hash after it, so
    /// a run killed in between finds its own file again.
    fn save_model(
        &self,
        run: i64,
        name: &str,
        model: &FastModel,
        marker: &Path,
    ) -> Result<(String, PathBuf), Error> {
        if let Some(saved) = SavedModel::read(marker) {
            if saved.is_ours(Some(model)) {
                return Ok((saved.name, saved.path));
            }
            if !saved.path.exists() {
                return self.save_as(saved.name, saved.path, model, marker);
            }
        }
        let user = self.store.data_dir().join("models");
        std::fs::create_dir_all(&user).map_err(|e| Error::io(&user, e))?;
        // Bundled names were refused when the job was queued; here only the
        // user's files can collide.
        let lib = ModelLibrary::new(user.clone(), user.clone());
        let fallback = format!("{name}-run{run}");
        let (name, path) = match lib.new_user_path(name) {
            Ok(p) => (name.to_string(), p),
            Err(_) => (fallback.clone(), lib.new_user_path(&fallback)?),
        };
        debug_assert_eq!(path.extension().and_then(|e| e.to_str()), Some(EXT));
        self.save_as(name, path, model, marker)
    }

    fn save_as(
        &self,
        name: String,
        path: PathBuf,
        model: &FastModel,
        marker: &Path,
    ) -> Result<(String, PathBuf), Error> {
        let mut saved = SavedModel {
            name,
            path,
            sha256: None,
        };
        saved.write(marker)?;
        model.save(&saved.path)?;
        saved.sha256 = Some(sha256_file(&saved.path)?);
        saved.write(marker)?;
        Ok((saved.name, saved.path))
    }
}
