//! Images in the terminal: decoding, resizing and protocol encoding happen in
//! a background thread; the UI only renders finished protocols. Thumbnails of
//! large files are cached in the cache directory.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};

use image::DynamicImage;
use ratatui::layout::Size;
use ratatui_image::picker::Picker;
use ratatui_image::protocol::Protocol;
use ratatui_image::{FilterType, Resize};

use super::event::Event;
use crate::engine::infra::image_io::{load_rgb, DEFAULT_PIXEL_LIMIT};

/// An image at a size in cells; `stamp` (the file's mtime) makes a changed file
/// a new key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageKey {
    pub path: PathBuf,
    pub cols: u16,
    pub rows: u16,
    pub stamp: u128,
}

/// A file's modification time in ms since the epoch (0 when unknown): what
/// makes a changed file a new image.
pub fn mtime_millis(path: &Path) -> u128 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

impl ImageKey {
    pub fn new(path: &Path, cols: u16, rows: u16) -> Self {
        Self {
            path: path.to_path_buf(),
            cols,
            rows,
            stamp: mtime_millis(path),
        }
    }
}

pub struct Loaded {
    pub key: ImageKey,
    pub result: Result<Protocol, String>,
}

/// Finished images kept for drawing; the oldest go when there are too many
/// (protocols hold encoded pixels). An image not here is asked for again,
/// evicted or not: the loader keeps no memory of what it has sent.
#[derive(Default)]
pub struct ImageCache {
    shown: HashMap<ImageKey, Result<Protocol, String>>,
    /// Insertion order, oldest first, for eviction.
    order: VecDeque<ImageKey>,
    /// Asked of the loader and not back yet: not asked twice.
    pending: HashSet<ImageKey>,
    /// The newest decoded version of each file at each size, drawn while a
    /// newer one is decoded.
    newest: HashMap<(PathBuf, u16, u16), ImageKey>,
}

impl ImageCache {
    /// How many finished images are kept.
    pub const LIMIT: usize = 64;

    pub fn get(&self, key: &ImageKey) -> Option<&Result<Protocol, String>> {
        self.shown.get(key)
    }

    /// The newest decoded earlier version of `key`'s file at its size.
    pub fn previous(&self, key: &ImageKey) -> Option<&Protocol> {
        let newest = self.newest.get(&(key.path.clone(), key.cols, key.rows))?;
        self.shown.get(newest)?.as_ref().ok()
    }

    pub fn len(&self) -> usize {
        self.shown.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }

    /// Of the images a frame missed, those to ask the loader for now.
    pub fn request(&mut self, missed: Vec<ImageKey>) -> Vec<ImageKey> {
        missed
            .into_iter()
            .filter(|k| !self.shown.contains_key(k) && self.pending.insert(k.clone()))
            .collect()
    }

    pub fn insert(&mut self, l: Loaded) {
        self.pending.remove(&l.key);
        if l.result.is_ok() {
            let at = (l.key.path.clone(), l.key.cols, l.key.rows);
            if self.newest.get(&at).is_none_or(|k| k.stamp <= l.key.stamp) {
                self.newest.insert(at, l.key.clone());
            }
        }
        if self.shown.insert(l.key.clone(), l.result).is_none() {
            self.order.push_back(l.key);
        }
        while self.shown.len() > Self::LIMIT {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.shown.remove(&old);
            let at = (old.path.clone(), old.cols, old.rows);
            if self.newest.get(&at) == Some(&old) {
                self.newest.remove(&at);
            }
        }
    }
}

pub fn spawn(
    picker: Picker,
    cache: Option<PathBuf>,
    requests: Receiver<ImageKey>,
    events: Sender<Event>,
) {
    std::thread::Builder::new()
        .name("images".into())
        .spawn(move || {
            // No memory of what was sent: the UI's cache asks again only for
            // what it no longer has (an evicted image must come back).
            while let Ok(key) = requests.recv() {
                let result = render(&picker, cache.as_deref(), &key);
                if let Err(e) = &result {
                    tracing::warn!("image {}: {e}", key.path.display());
                }
                if events
                    .send(Event::Image(Box::new(Loaded { key, result })))
                    .is_err()
                {
                    return;
                }
            }
        })
        .expect("spawning a thread only fails when the OS is out of resources");
}

/// Largest side of cached thumbnails: plenty for a terminal pane.
const THUMB: u32 = 512;

fn render(picker: &Picker, cache: Option<&Path>, key: &ImageKey) -> Result<Protocol, String> {
    let img = thumbnail(cache, &key.path, key.stamp)?;
    picker
        .new_protocol(
            DynamicImage::ImageRgb8(img),
            Size::new(key.cols, key.rows),
            Resize::Scale(Some(FilterType::Triangle)),
        )
        .map_err(|e| e.to_string())
}

fn thumbnail(cache: Option<&Path>, path: &Path, stamp: u128) -> Result<image::RgbImage, String> {
    let cached = cache.map(|dir| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&(path, stamp), &mut h);
        dir.join(format!("{:016x}.png", std::hash::Hasher::finish(&h)))
    });
    if let Some(c) = &cached {
        if let Ok(img) = image::open(c) {
            return Ok(img.to_rgb8());
        }
    }
    let img = load_rgb(path, DEFAULT_PIXEL_LIMIT).map_err(|e| e.to_string())?;
    if img.width().max(img.height()) <= THUMB {
        return Ok(img);
    }
    let small = crate::engine::infra::image_io::resize_longer_side(&img, THUMB);
    if let Some(c) = &cached {
        if let Some(dir) = c.parent() {
            if std::fs::create_dir_all(dir).is_ok() {
                let _ = crate::engine::infra::image_io::save_png(c, &small, &[], true);
            }
        }
    }
    Ok(small)
}
