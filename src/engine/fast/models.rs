//! The model library: bundled models in the repository's `models/` folder and
//! the user's own in `<data dir>/models/`. A name is a file stem; the user's
//! models shadow bundled ones of the same name.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::model_file::{architecture_of, read_info, ModelInfo};
use crate::engine::arbitrary::model_file::ArbInfo;
use crate::engine::infra::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Bundled,
    User,
}

/// One model file found in the library.
#[derive(Clone, Debug, Serialize)]
pub struct ModelEntry {
    pub name: String,
    pub path: PathBuf,
    pub kind: ModelKind,
    /// The style image paths it was trained on (a multi-style model's in
    /// the order of its styles).
    pub styles: Vec<PathBuf>,
    /// The names `--style` picks them by (index i is style i).
    pub style_names: Vec<String>,
    /// `johnson-transformer-net` (one style) or `cin` (many).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<ModelInfo>,
    /// Why the file cannot be read, if it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// An arbitrary-style model (adain, wct): what it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arbitrary: Option<ArbInfo>,
}

pub struct ModelLibrary {
    pub bundled: PathBuf,
    pub user: PathBuf,
    /// Where a style image a model names is looked for by file name when it
    /// is not at the recorded path (a bundled model records the path of the
    /// checkout it was trained in).
    pub styles: Option<PathBuf>,
}

pub const EXT: &str = "safetensors";

impl ModelLibrary {
    pub fn new(bundled: PathBuf, user: PathBuf) -> Self {
        Self {
            bundled,
            user,
            styles: None,
        }
    }

    /// Looks for moved style images in `dir` (the paintings folder).
    pub fn with_styles_dir(mut self, dir: PathBuf) -> Self {
        self.styles = Some(dir);
        self
    }

    fn entry(&self, path: &Path, kind: ModelKind) -> ModelEntry {
        let mut e = entry(path, kind);
        if let Some(dir) = &self.styles {
            e.styles = e.styles.iter().map(|p| locate(p, dir)).collect();
        }
        e
    }

    fn scan(&self, dir: &Path, kind: ModelKind) -> Vec<ModelEntry> {
        scan_paths(dir)
            .iter()
            .map(|p| self.entry(p, kind))
            .collect()
    }

    /// All models, user ones first, sorted by name within each.
    pub fn entries(&self) -> Vec<ModelEntry> {
        let mut v = self.scan(&self.user, ModelKind::User);
        let names: Vec<String> = v.iter().map(|e| e.name.clone()).collect();
        v.extend(
            self.scan(&self.bundled, ModelKind::Bundled)
                .into_iter()
                .filter(|e| !names.contains(&e.name)),
        );
        v
    }

    /// A model by name, or by path when `query` names an existing file.
    pub fn find(&self, query: &str) -> Result<ModelEntry> {
        let p = Path::new(query);
        if p.is_file() {
            return Ok(self.entry(p, ModelKind::User));
        }
        let all = self.entries();
        all.iter()
            .find(|e| e.name == query)
            .cloned()
            .ok_or_else(|| {
                let names: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
                Error::Library(format!(
                    "no model '{query}' (have: {}); `atelier models ls` lists them",
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    }
                ))
            })
    }

    /// Deletes a user model; bundled ones are refused.
    pub fn remove(&self, name: &str) -> Result<PathBuf> {
        let e = self.find(name)?;
        if e.kind == ModelKind::Bundled || e.path.parent() != Some(self.user.as_path()) {
            return Err(Error::Library(format!(
                "'{name}' is a bundled model ({}); only your own models can be removed",
                e.path.display()
            )));
        }
        std::fs::remove_file(&e.path).map_err(|err| Error::io(&e.path, err))?;
        Ok(e.path)
    }

    /// Where a new user model of this name goes; refuses taken or odd names.
    pub fn new_user_path(&self, name: &str) -> Result<PathBuf> {
        if name.is_empty()
            || name.starts_with('.')
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || "-_.".contains(c))
        {
            return Err(Error::invalid(
                "name",
                format!("'{name}' (letters, digits, - _ . only)"),
            ));
        }
        if self.entries().iter().any(|e| e.name == name) {
            return Err(Error::Library(format!(
                "a model named '{name}' exists already"
            )));
        }
        Ok(self.user.join(format!("{name}.{EXT}")))
    }
}

fn entry(path: &Path, kind: ModelKind) -> ModelEntry {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (info, error) = match read_info(path) {
        Ok(i) => (Some(i), None),
        Err(e) => (None, Some(e.to_string())),
    };
    // Not a fast-style network: perhaps an adain or wct model.
    if info.is_none() {
        if let Ok(a) = crate::engine::arbitrary::model_file::read_info(path) {
            return ModelEntry {
                name,
                path: path.to_path_buf(),
                kind,
                styles: a.styles.iter().map(|s| s.path.clone()).collect(),
                style_names: Vec::new(),
                architecture: None,
                info: None,
                error: None,
                arbitrary: Some(a),
            };
        }
    }
    ModelEntry {
        name,
        path: path.to_path_buf(),
        kind,
        styles: info
            .as_ref()
            .map(|i| i.styles.iter().map(|s| s.path.clone()).collect())
            .unwrap_or_default(),
        style_names: info
            .as_ref()
            .map(|i| i.styles.iter().map(|s| s.name.clone()).collect())
            .unwrap_or_default(),
        architecture: info.as_ref().map(|i| architecture_of(&i.arch)),
        info,
        error,
        arbitrary: None,
    }
}

/// `p`, or the file of that name in `dir` when `p` is gone.
fn locate(p: &Path, dir: &Path) -> PathBuf {
    if p.exists() {
        return p.to_path_buf();
    }
    match p.file_name().map(|n| dir.join(n)) {
        Some(q) if q.exists() => q,
        _ => p.to_path_buf(),
    }
}

/// The model files of `dir`, sorted.
fn scan_paths(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == EXT) && p.is_file())
        .collect();
    paths.sort();
    paths
}
