//! An input file of a job, as recorded when it was queued. Every front end
//! (`queue add`, the TUI, drop folders) builds inputs through [`Input::checked`]
//! so each is decoded once, stored with its absolute path and hashed with the
//! engine's one sha256 helper.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::infra::image_io::load_rgb;
use crate::engine::infra::library::Library;
use crate::engine::nets::weights::sha256_file;
use crate::engine::Error;

/// What an input is to its job. Stored as its name (`"b_prime"`), the one
/// place the strings are spelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The photo a run styles (stylize, apply, a drop folder's arrival).
    Content,
    /// A painting: a style, an arbitrary model's or an MSG-Net's painting.
    Style,
    /// A model file: the one applied, or the one a training extends.
    Model,
    /// A training's folder of photos (its hash covers the listing).
    Dataset,
    /// The photo a training previews.
    Preview,
    /// An analogy's A: the structure A′ keeps.
    A,
    /// An analogy's B′: the appearance A′ takes.
    BPrime,
    /// A greyscale mask: where a style acts, or where the photo is kept.
    Mask,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Content => "content",
            Role::Style => "style",
            Role::Model => "model",
            Role::Dataset => "dataset",
            Role::Preview => "preview",
            Role::A => "a",
            Role::BPrime => "b_prime",
            Role::Mask => "mask",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An input file with the sha256 of its contents when the run was queued.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Input {
    pub role: Role,
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
        role: Role,
        name: Option<String>,
        path: &Path,
        pixel_limit: u64,
    ) -> Result<Input, Error> {
        load_rgb(path, pixel_limit)?;
        let abs = std::fs::canonicalize(path).map_err(|e| Error::io(path, e))?;
        Ok(Input {
            role,
            name: name.or_else(|| Library::name_of_file(&abs)),
            sha256: sha256_file(&abs)?,
            path: abs,
        })
    }

    /// An input whose file was checked and hashed already (a drop folder
    /// hashes the arrival once, to look it up in its ledger).
    pub fn hashed(role: Role, name: Option<String>, path: PathBuf, sha256: String) -> Input {
        Input {
            role,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_library_file_given_by_path_is_named_by_its_catalogue() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("436528.png");
        image::RgbImage::from_pixel(16, 16, image::Rgb([9, 9, 9]))
            .save(&png)
            .unwrap();
        let other = Input::checked(Role::Style, None, &png, 1 << 20).unwrap();
        assert_eq!(other.display_name(), "436528", "no catalogue: the stem");
        std::fs::write(
            dir.path().join("catalog.json"),
            r#"[{"id": "436528", "name": "irises", "title": "Irises", "artist": "Vincent van Gogh",
                 "licence": "CC0", "file": "436528.png"}]"#,
        )
        .unwrap();
        let named = Input::checked(Role::Style, None, &png, 1 << 20).unwrap();
        assert_eq!(named.display_name(), "irises");
        let given = Input::checked(Role::Style, Some("mine".into()), &png, 1 << 20).unwrap();
        assert_eq!(given.display_name(), "mine", "a name the user gave stays");
    }

    #[test]
    fn roles_are_stored_under_their_names() {
        for r in [
            Role::Content,
            Role::Style,
            Role::Model,
            Role::Dataset,
            Role::Preview,
            Role::A,
            Role::BPrime,
            Role::Mask,
        ] {
            let json = serde_json::to_string(&r).unwrap();
            assert_eq!(json, format!("\"{}\"", r.as_str()));
            assert_eq!(serde_json::from_str::<Role>(&json).unwrap(), r);
        }
    }
}
