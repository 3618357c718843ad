//! An input file of a job, as recorded when it was queued. Every front end
//! (`queue add`, the TUI, drop folders) builds inputs through [`Input::checked`]
//! so each is decoded once, stored with its absolute path and hashed with the
//! engine's one sha256 helper.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::image_io::load_rgb;
use crate::engine::weights::sha256_file;
use crate::engine::Error;

/// An input file with the sha256 of its contents when the run was queued.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Input {
    pub role: String,
    /// The library name the user gave (e.g. `wheat-field-with-cypresses`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub path: PathBuf,
    pub sha256: String,
}

impl Input {
    /// The image at `path` as input `role`: it must decode within
    /// `pixel_limit`; recorded with its absolute path and its sha256.
    pub fn checked(
        role: &str,
        name: Option<String>,
        path: &Path,
        pixel_limit: u64,
    ) -> Result<Input, Error> {
        load_rgb(path, pixel_limit)?;
        let abs = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
        Ok(Input {
            role: role.into(),
            name,
            sha256: sha256_file(&abs)?,
            path: abs,
        })
    }

    /// An input whose file was checked and hashed already (a drop folder
    /// hashes the arrival once, to look it up in its ledger).
    pub fn hashed(role: &str, name: Option<String>, path: PathBuf, sha256: String) -> Input {
        Input {
            role: role.into(),
            name,
            path,
            sha256,
        }
    }

    /// Short name for display: its library name, else its file stem.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| super::stylize::stem(&self.path))
    }
}
