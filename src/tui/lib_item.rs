//! An image the Library offers, as Compose and the panes pass it around: a
//! leaf module, so the form and the panes need not import each other.

use std::path::{Path, PathBuf};

use crate::engine::library::Library;

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
