//! The bundled image libraries (styles/ and contents/), each a folder with a
//! `catalog.json` written by `scripts/fill_library.py`, and name lookup so users
//! can say `chelsea` or `wheat-field-with-cypresses` instead of a path.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::infra::error::{Error, Result};

/// One image of a library.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub name: String,
    pub title: String,
    pub artist: String,
    #[serde(default)]
    pub date: String,
    pub licence: String,
    #[serde(default)]
    pub source: String,
    pub file: String,
}

/// A folder of images with its catalog.
pub struct Library {
    dir: PathBuf,
    entries: Vec<Entry>,
}

impl Library {
    /// Opens the library in `dir`. A missing catalog is an error that says how to
    /// create it.
    pub fn open(dir: &Path) -> Result<Self> {
        let catalog = dir.join("catalog.json");
        let text = std::fs::read_to_string(&catalog).map_err(|e| {
            Error::Library(format!(
                "{}: {e} (run `make setup` to fill the bundled library)",
                catalog.display()
            ))
        })?;
        let entries: Vec<Entry> = serde_json::from_str(&text)
            .map_err(|e| Error::Library(format!("{}: {e}", catalog.display())))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            entries,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn path_of(&self, e: &Entry) -> PathBuf {
        self.dir.join(&e.file)
    }

    /// The catalogue name of the image at `path` when it is a file of the
    /// library in its folder (so a painting given by path, `styles/436528.jpg`,
    /// is still called by its name, not its number); `None` otherwise.
    pub fn name_of_file(path: &Path) -> Option<String> {
        let file = path.file_name()?.to_str()?;
        let library = Library::open(path.parent()?).ok()?;
        let entry = library.entries.iter().find(|e| e.file == file)?;
        Some(entry.name.clone())
    }

    /// Finds an entry by exact name or id, else by a unique name prefix.
    pub fn find(&self, query: &str) -> Result<&Entry> {
        let q = query.trim().to_lowercase();
        if let Some(e) = self.entries.iter().find(|e| e.name == q || e.id == q) {
            return Ok(e);
        }
        let hits: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|e| e.name.starts_with(&q))
            .collect();
        match hits.as_slice() {
            [one] => Ok(one),
            [] => Err(Error::Library(format!(
                "'{query}' is neither a file nor a name in {}",
                self.dir.display()
            ))),
            many => Err(Error::Library(format!(
                "'{query}' is ambiguous: {}{}",
                many.iter()
                    .take(5)
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if many.len() > 5 { ", …" } else { "" }
            ))),
        }
    }
}

/// Resolves what a user typed for an image: an existing path is taken as is
/// (the loader then reports what is wrong with it); otherwise a bare word is
/// looked up in `library`.
pub fn resolve_image(query: &str, library: Option<&Library>) -> Result<PathBuf> {
    let p = Path::new(query);
    let looks_like_path = query.contains(std::path::MAIN_SEPARATOR) || p.extension().is_some();
    if p.exists() || looks_like_path {
        return Ok(p.to_path_buf());
    }
    match library {
        Some(lib) => {
            let e = lib.find(query)?;
            Ok(lib.path_of(e))
        }
        None => Err(Error::NotFound(p.to_path_buf())),
    }
}
