//! Preview as you browse: with a photo chosen as content, the Library's
//! Preview shows that photo in the highlighted painting's style, made by an
//! arbitrary-style model (adain by default) at preview size in a background
//! thread. At most one request waits: a newer one replaces it, so moving the
//! cursor fast never builds a backlog.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};

use super::event::Event;
use super::images::mtime_millis;
use crate::engine::arbitrary::apply::{default_alpha, styles_at_scale, stylize, ArbApply};
use crate::engine::arbitrary::model_file::ArbModel;
use crate::engine::infra::image_io::{load_rgb, resize_longer_side, save_png, DEFAULT_PIXEL_LIMIT};
use crate::engine::nets::color::ColorMode;
use crate::engine::nets::weights::sha256_file;

/// Longer side of a browse preview: enough for a terminal pane, and well
/// under a second for adain on a laptop CPU.
pub const PREVIEW_SIZE: u32 = 256;

/// The previews kept in memory (their files stay in the cache folder).
const KEEP: usize = 256;

/// A content photo with a painting.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BrowseKey {
    pub content: PathBuf,
    pub style: PathBuf,
}

/// A finished preview: the PNG it was written to, or why there is none.
pub struct BrowseDone {
    pub key: BrowseKey,
    pub result: Result<PathBuf, String>,
}

/// The one waiting request, shared with the thread.
type Slot = Arc<(Mutex<Option<BrowseKey>>, Condvar)>;

/// The UI's handle on the preview thread.
pub struct Browser {
    slot: Slot,
    /// The model's library name, shown while a preview is made.
    pub model: String,
}

impl Browser {
    /// Starts the thread; the model is loaded at the first request, so a
    /// TUI that never browses with a photo chosen never loads it.
    pub fn spawn(
        model: String,
        path: PathBuf,
        weights: PathBuf,
        device: tch::Device,
        out_dir: PathBuf,
        events: Sender<Event>,
    ) -> Self {
        let slot: Slot = Arc::new((Mutex::new(None), Condvar::new()));
        let theirs = slot.clone();
        std::thread::Builder::new()
            .name("browse".into())
            .spawn(move || serve(&theirs, &path, &weights, device, &out_dir, &events))
            .expect("spawning a thread only fails when the OS is out of resources");
        Self { slot, model }
    }

    /// Asks for `key`, replacing any request not yet started.
    pub fn ask(&self, key: BrowseKey) {
        let (lock, cv) = &*self.slot;
        if let Ok(mut waiting) = lock.lock() {
            *waiting = Some(key);
            cv.notify_one();
        }
    }
}

fn serve(
    slot: &Slot,
    path: &Path,
    weights: &Path,
    device: tch::Device,
    out_dir: &Path,
    events: &Sender<Event>,
) {
    let mut model: Option<Result<Preview, String>> = None;
    loop {
        let key = {
            let (lock, cv) = &**slot;
            let Ok(mut waiting) = lock.lock() else { return };
            loop {
                if let Some(k) = waiting.take() {
                    break k;
                }
                waiting = match cv.wait(waiting) {
                    Ok(w) => w,
                    Err(_) => return,
                };
            }
        };
        let m = model.get_or_insert_with(|| Preview::load(path, weights, device));
        let result = match m {
            Ok(m) => make(m, &key, device, out_dir),
            Err(e) => Err(e.clone()),
        };
        if let Err(e) = &result {
            tracing::warn!("browse preview {}: {e}", key.style.display());
        }
        if events
            .send(Event::Browse(Box::new(BrowseDone { key, result })))
            .is_err()
        {
            return;
        }
    }
}

/// The preview model, loaded, and the sha256 of its file: previews are
/// cached under it, so another model (another `browse_preview`, or the
/// user's own adain replaced) never shows this one's. Hashed once, when the
/// model is loaded (a few MB), rather than at every preview.
struct Preview {
    model: ArbModel,
    sha256: String,
}

impl Preview {
    fn load(path: &Path, weights: &Path, device: tch::Device) -> Result<Self, String> {
        let sha256 = sha256_file(path).map_err(|e| e.to_string())?;
        let model = ArbModel::load(path, weights, device).map_err(|e| e.to_string())?;
        Ok(Self { model, sha256 })
    }
}

/// Stylizes the pair at preview size into `out_dir` (named by the model,
/// the pair and the files' times, so an edited photo gets a new preview). A
/// cached preview that does not decode (cut short) is made again.
fn make(
    preview: &Preview,
    key: &BrowseKey,
    device: tch::Device,
    out_dir: &Path,
) -> Result<PathBuf, String> {
    let model = &preview.model;
    let out = out_dir.join(format!("{:016x}.png", stamp(key, &preview.sha256)));
    if out.is_file() {
        if load_rgb(&out, DEFAULT_PIXEL_LIMIT).is_ok() {
            return Ok(out);
        }
        std::fs::remove_file(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    let content = load_rgb(&key.content, DEFAULT_PIXEL_LIMIT).map_err(|e| e.to_string())?;
    let content = resize_longer_side(&content, PREVIEW_SIZE);
    let style = load_rgb(&key.style, DEFAULT_PIXEL_LIMIT).map_err(|e| e.to_string())?;
    let styles = styles_at_scale(&content, &[(style, 1.0)]);
    let opts = ArbApply {
        alpha: default_alpha(model.info.method),
        levels: None,
        color: ColorMode::None,
    };
    let img = stylize(model, &content, &styles, &opts, device).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    save_png(&out, &img, &[], true).map_err(|e| e.to_string())?;
    Ok(out)
}

fn stamp(key: &BrowseKey, model_sha256: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(
        &(
            model_sha256,
            &key.content,
            mtime_millis(&key.content),
            &key.style,
            mtime_millis(&key.style),
        ),
        &mut h,
    );
    std::hash::Hasher::finish(&h)
}

/// What the UI knows of previews: those done, and the last one asked for.
#[derive(Default)]
pub struct BrowseState {
    pub done: HashMap<BrowseKey, Result<PathBuf, String>>,
    asked: Option<BrowseKey>,
}

impl BrowseState {
    /// Whether `key` must be asked for (not done, not the last asked).
    pub fn needs(&mut self, key: &BrowseKey) -> bool {
        if self.done.contains_key(key) || self.asked.as_ref() == Some(key) {
            return false;
        }
        self.asked = Some(key.clone());
        true
    }

    pub fn insert(&mut self, d: BrowseDone) {
        if self.done.len() >= KEEP {
            self.done.clear();
        }
        self.done.insert(d.key, d.result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: &str, s: &str) -> BrowseKey {
        BrowseKey {
            content: c.into(),
            style: s.into(),
        }
    }

    #[test]
    fn a_pair_is_asked_for_once_and_never_again_once_done() {
        let mut st = BrowseState::default();
        assert!(st.needs(&key("a", "x")));
        assert!(!st.needs(&key("a", "x")), "asked already, not back yet");
        assert!(st.needs(&key("a", "y")), "the cursor moved on");
        st.insert(BrowseDone {
            key: key("a", "x"),
            result: Err("no".into()),
        });
        assert!(
            !st.needs(&key("a", "x")),
            "done (with an error) is not redone"
        );
        // Back to x after y: y was asked last, x is done, neither asked again.
        assert!(!st.needs(&key("a", "y")));
    }

    #[test]
    fn the_slot_keeps_only_the_newest_request() {
        let slot: Slot = Arc::new((Mutex::new(None), Condvar::new()));
        let b = Browser {
            slot: slot.clone(),
            model: "adain".into(),
        };
        for s in ["p1", "p2", "p3"] {
            b.ask(key("c", s));
        }
        let waiting = slot.0.lock().unwrap().take();
        assert_eq!(waiting, Some(key("c", "p3")));
    }
}
