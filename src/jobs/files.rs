//! The names of the files in a run's folder, in one place: the worker writes
//! them, the TUI and `runs` read them, recovery cleans up after them.

use std::path::{Path, PathBuf};

/// A run's folder, `<data dir>/runs/<id>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunFiles {
    pub dir: PathBuf,
}

impl RunFiles {
    pub fn new(data_dir: &Path, id: i64) -> RunFiles {
        RunFiles {
            dir: data_dir.join("runs").join(id.to_string()),
        }
    }

    /// The result image.
    pub fn output(&self) -> PathBuf {
        self.dir.join("output.png")
    }

    /// A small copy of the output for lists.
    pub fn thumb(&self) -> PathBuf {
        self.dir.join("thumb.png")
    }

    /// The latest iterate: the live preview, and what a resumed image-state
    /// run (stylize, texture) starts from.
    pub fn current(&self) -> PathBuf {
        self.dir.join("current.png")
    }

    /// A numbered checkpoint of a kind whose state is not its image.
    pub fn checkpoint(&self, step: i64) -> PathBuf {
        self.dir.join(format!("checkpoint-{step:08}.safetensors"))
    }

    /// The one checkpoint of a training run, replaced (atomically) at each
    /// checkpoint interval.
    pub fn training_checkpoint(&self) -> PathBuf {
        self.dir.join("checkpoint.safetensors")
    }

    /// Which model a training run saved into the user's library (written
    /// around the save, removed with the checkpoint once the run is done).
    pub fn saved_model(&self) -> PathBuf {
        self.dir.join("saved-model.json")
    }

    /// Whether `name` is a half-written temporary file (see the engine's
    /// atomic writes), which recovery removes.
    pub fn is_partial(name: &str) -> bool {
        name.starts_with(".atelier-") && name.ends_with(".part")
    }
}
