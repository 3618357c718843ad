//! Images in the terminal: decoding, resizing and protocol encoding happen in
//! a background thread; the UI only renders finished protocols. Thumbnails of
//! large files are cached in the cache directory.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender};

use image::DynamicImage;
use ratatui::layout::Size;
use ratatui_image::picker::Picker;
use ratatui_image::protocol::Protocol;
use ratatui_image::{FilterType, Resize};

use super::event::Event;
use crate::engine::image_io::{load_rgb, DEFAULT_PIXEL_LIMIT};

/// An image at a size in cells; `stamp` (the file's mtime) makes a changed file
/// a new key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageKey {
    pub path: PathBuf,
    pub cols: u16,
    pub rows: u16,
    pub stamp: u128,
}

impl ImageKey {
    pub fn new(path: &Path, cols: u16, rows: u16) -> Self {
        let stamp = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis())
            .unwrap_or(0);
        Self {
            path: path.to_path_buf(),
            cols,
            rows,
            stamp,
        }
    }
}

pub struct Loaded {
    pub key: ImageKey,
    pub result: Result<Protocol, String>,
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
            let mut done: HashSet<ImageKey> = HashSet::new();
            while let Ok(key) = requests.recv() {
                if !done.insert(key.clone()) {
                    continue;
                }
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
    let small = crate::engine::image_io::resize_longer_side(&img, THUMB);
    if let Some(c) = &cached {
        if let Some(dir) = c.parent() {
            if std::fs::create_dir_all(dir).is_ok() {
                let _ = crate::engine::image_io::save_png(c, &small, &[], true);
            }
        }
    }
    Ok(small)
}
