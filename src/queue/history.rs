//! What a run did before its worker stopped (SIGTERM) or died (SIGKILL),
//! kept beside its snapshot so that a resumed run reports the whole run:
//! its optimisation time (downtime excluded), its rollbacks, and its best
//! image so far (the best of the snapshots of the earlier attempts; the
//! last attempt's best iterate is exact).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::infra::output::OutputPolicy;
use crate::engine::Error;
use crate::jobs::stylize::FinalLosses;

/// The best snapshot so far: its evaluation (over the whole run) and losses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Best {
    pub eval: i64,
    pub losses: FinalLosses,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunHistory {
    /// Optimisation seconds up to the last snapshot.
    pub seconds: f64,
    pub rollbacks: i64,
    /// Its image is [`RunHistory::best_image`].
    pub best: Option<Best>,
}

impl RunHistory {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("history.json")
    }

    /// The image of [`RunHistory::best`].
    pub fn best_image(dir: &Path) -> PathBuf {
        dir.join("best.png")
    }

    /// The history in `dir`; none (a fresh run) when missing or unreadable.
    pub fn load(dir: &Path) -> RunHistory {
        std::fs::read(Self::path(dir))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Writes it atomically (a kill mid-write keeps the previous one).
    pub fn save(&self, dir: &Path) -> Result<(), Error> {
        let bytes = serde_json::to_vec(self).map_err(|e| Error::Write {
            path: Self::path(dir),
            reason: e.to_string(),
        })?;
        OutputPolicy::new::<&Path>(true, &[]).write_bytes(&Self::path(dir), &bytes)
    }

    /// Forgets it (a run that starts again from the beginning).
    pub fn clear(dir: &Path) {
        let _ = std::fs::remove_file(Self::path(dir));
        let _ = std::fs::remove_file(Self::best_image(dir));
    }
}
