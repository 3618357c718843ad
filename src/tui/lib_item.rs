//! An image the Library offers, as Compose and the panes pass it around: a
//! leaf module, so the form and the panes need not import each other.

use std::path::{Path, PathBuf};

use crate::engine::fast::model_file::{ModelInfo, StyleSource};
use crate::engine::fast::models::{ModelKind, ModelLibrary};
use crate::engine::infra::library::Library;
use crate::tui::panes::compose::estimate::Pace;

/// An image the library offers.
#[derive(Clone, Debug, PartialEq)]
pub struct LibItem {
    pub name: String,
    pub title: String,
    pub artist: String,
    pub date: String,
    pub licence: String,
    pub path: PathBuf,
}

impl LibItem {
    pub fn from_path(path: &Path) -> Self {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Self {
            title: name.clone(),
            name,
            artist: String::new(),
            date: String::new(),
            licence: String::new(),
            path: path.to_path_buf(),
        }
    }

    pub fn matches(&self, filter: &str) -> bool {
        let f = filter.to_lowercase();
        f.is_empty()
            || [&self.name, &self.title, &self.artist]
                .iter()
                .any(|s| s.to_lowercase().contains(&f))
    }
}

pub fn load_library(dir: &Path) -> Vec<LibItem> {
    match Library::open(dir) {
        Ok(lib) => lib
            .entries()
            .iter()
            .map(|e| LibItem {
                name: e.name.clone(),
                title: e.title.clone(),
                artist: e.artist.clone(),
                date: e.date.clone(),
                licence: e.licence.clone(),
                path: lib.path_of(e),
            })
            .collect(),
        Err(e) => {
            tracing::warn!("library {}: {e}", dir.display());
            Vec::new()
        }
    }
}

/// A path the user typed: `~/` is their home, and a relative path is
/// relative to the folder atelier was started in.
pub fn user_path(text: &str) -> PathBuf {
    let text = text.trim();
    match (text.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(text),
    }
}

/// A trained model the Library offers (bundled or the user's own).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelItem {
    pub name: String,
    pub path: PathBuf,
    /// "bundled" or "yours".
    pub origin: &'static str,
    /// The style images it was trained on, found on this machine where they
    /// were moved (a bundled model records the path it was trained with).
    pub styles: Vec<PathBuf>,
    /// Its styles by name, in the model's order: one for a single-style
    /// model, several for a multi-style (CIN or MSG-Net) one.
    pub style_sources: Vec<StyleSource>,
    /// Whether Compose must say which of its styles (or which mix) to apply.
    pub multi: bool,
    /// An MSG-Net: it also takes paintings it was not trained on.
    pub msg: bool,
    /// An arbitrary-style model (adain, wct): its method, for the message
    /// that Compose does not queue those yet.
    pub arbitrary: Option<crate::engine::arbitrary::model_file::Method>,
    /// One line each: what it is and how it was trained.
    pub about: Vec<String>,
    /// Why the file cannot be used, if it cannot.
    pub error: Option<String>,
    /// How fast its training went, when it was trained here (for Compose's
    /// time estimate of a new training).
    pub pace: Option<Pace>,
}

impl ModelItem {
    pub fn matches(&self, filter: &str) -> bool {
        let f = filter.to_lowercase();
        f.is_empty() || self.name.to_lowercase().contains(&f)
    }
}

/// The models of the library, user ones first.
pub fn load_models(lib: &ModelLibrary) -> Vec<ModelItem> {
    lib.entries()
        .into_iter()
        .map(|e| ModelItem {
            about: e.info.as_ref().map(about).unwrap_or_default(),
            pace: e.info.as_ref().and_then(|i| pace(&e.name, i)),
            style_sources: e
                .info
                .as_ref()
                .map(|i| i.styles.clone())
                .unwrap_or_default(),
            multi: e
                .info
                .as_ref()
                .is_some_and(|i| i.arch.norm.is_conditional()),
            msg: e.info.as_ref().is_some_and(|i| i.arch.norm.is_msg()),
            arbitrary: e.arbitrary.as_ref().map(|a| a.method),
            origin: match e.kind {
                ModelKind::Bundled => "bundled",
                ModelKind::User => "yours",
            },
            styles: e.styles,
            name: e.name,
            path: e.path,
            error: e.error,
        })
        .collect()
}

/// The pace of a model's training, from its record (device, time, batches).
fn pace(name: &str, i: &ModelInfo) -> Option<Pace> {
    let t = i.training.as_ref()?;
    let num = |k: &str| t.get(k).and_then(|x| x.as_u64());
    let shape = (i.iterations, num("batch")? as usize, num("size")? as u32);
    Pace::measured(i.device.as_deref()?, name.to_string(), i.seconds?, shape)
}

fn about(i: &ModelInfo) -> Vec<String> {
    let mut v = vec![format!(
        "{} norm, width {} · {}",
        i.arch.norm, i.arch.width, i.source
    )];
    if i.iterations > 0 {
        let t = i.training.as_ref();
        let num = |k: &str| t.and_then(|t| t.get(k)).and_then(|x| x.as_f64());
        let mut line = format!("{} iterations", i.iterations);
        if let (Some(b), Some(s)) = (num("batch"), num("size")) {
            line.push_str(&format!(" of {b} × {s} px"));
        }
        if let Some(d) = &i.device {
            line.push_str(&format!(" on {d}"));
        }
        if let Some(s) = i.seconds {
            line.push_str(&format!(", {:.0} min", s / 60.0));
        }
        v.push(line);
    }
    if let Some(d) = &i.dataset {
        v.push(format!("{} training photos", d.images));
    }
    v
}
