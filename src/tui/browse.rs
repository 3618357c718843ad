//! Preview as you browse: with a photo chosen as content, the Library's
//! Preview shows that photo in the highlighted painting's style, made by an
//! arbitrary-style model (adain by default) at preview size in a background
//! thread. At most one request waits: a newer one replaces it, so moving the
//! cursor fast never builds a backlog. Once that preview is made, the same
//! thread refines it in place (see [`super::browse_refine`]) until the next
//! request, or a worker of this host starting on the same device, stops it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};

use super::browse_refine::{Ended, Refine, Refiner};
use super::event::Event;
use super::images::mtime_millis;
use crate::engine::arbitrary::apply::{default_alpha, styles_at_scale, stylize, ArbApply};
use crate::engine::arbitrary::model_file::ArbModel;
use crate::engine::infra::device::device_name;
use crate::engine::infra::flow::Flow;
use crate::engine::infra::image_io::{load_rgb, resize_longer_side, save_png, DEFAULT_PIXEL_LIMIT};
use crate::engine::nets::color::ColorMode;
use crate::engine::nets::weights::sha256_file;
use crate::queue::store::{hostname, WorkerInfo};

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

/// Which stage of a preview is shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The arbitrary-style model's preview.
    Model,
    /// The Gatys refinement after `step` of `of` evaluations.
    Refining {
        step: usize,
        of: usize,
    },
    Refined,
    /// Not refined while a worker of this host runs on the same device.
    Held,
    /// The refinement stopped when the cursor moved.
    Stopped,
    /// The refinement failed: why (the model's preview stays).
    RefineFailed(String),
}

impl Stage {
    /// Whether asking again may improve the preview.
    fn unfinished(&self) -> bool {
        matches!(self, Self::Refining { .. } | Self::Held | Self::Stopped)
    }

    /// What the caption says of the image shown (`model`: the preview model's name).
    pub fn caption(&self, model: &str) -> String {
        match self {
            Self::Model | Self::Stopped => model.to_string(),
            Self::Refining { step, of } => format!("refining {step}/{of}"),
            Self::Refined => "refined".into(),
            Self::Held => format!("{model}; refines when the worker is idle"),
            Self::RefineFailed(e) => format!("{model}; refining failed: {e}"),
        }
    }
}

/// A preview made (or refined further): the PNG it was written to, or why
/// there is none.
pub struct BrowseDone {
    pub key: BrowseKey,
    pub stage: Stage,
    pub result: Result<PathBuf, String>,
}

/// What the Preview shows of a pair.
#[derive(Clone, Debug)]
pub struct Shown {
    pub stage: Stage,
    pub result: Result<PathBuf, String>,
}

/// Whether a worker of this host runs a run on `device` (the store's view
/// of the workers): the refinement must not compete with it.
pub fn device_taken(workers: &[WorkerInfo], device: tch::Device) -> bool {
    let (host, device) = (hostname(), device_name(device));
    workers
        .iter()
        .any(|w| w.current_run.is_some() && w.host == host && w.device == device)
}

/// The one waiting request, shared with the thread.
type Slot = Arc<(Mutex<Option<BrowseKey>>, Condvar)>;

/// The UI's handle on the preview thread.
pub struct Browser {
    slot: Slot,
    /// A worker of this host runs on the preview's device: no refining.
    busy: Arc<AtomicBool>,
    /// The model's library name, shown while a preview is made.
    pub model: String,
}

impl Browser {
    /// Starts the thread; the model (and the refinement's network) is
    /// loaded at the first request, so a TUI that never browses with a photo
    /// chosen never loads it. `refine`: none when `[tui] browse_refine` is off.
    pub fn spawn(
        model: String,
        path: PathBuf,
        weights: PathBuf,
        device: tch::Device,
        out_dir: PathBuf,
        refine: Option<Refine>,
        events: Sender<Event>,
    ) -> Self {
        let slot: Slot = Arc::new((Mutex::new(None), Condvar::new()));
        let busy = Arc::new(AtomicBool::new(false));
        let thread = Thread {
            slot: slot.clone(),
            busy: busy.clone(),
            device,
            out_dir,
            events,
        };
        std::thread::Builder::new()
            .name("browse".into())
            .spawn(move || thread.serve(&path, &weights, refine.map(|r| Refiner::new(r, device))))
            .expect("spawning a thread only fails when the OS is out of resources");
        Self { slot, busy, model }
    }

    /// Says whether a worker of this host runs on the preview's device (a
    /// refinement then stops, and none starts). True when it just went idle.
    pub fn set_busy(&self, busy: bool) -> bool {
        self.busy.swap(busy, Ordering::SeqCst) && !busy
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

/// The preview thread's side.
struct Thread {
    slot: Slot,
    busy: Arc<AtomicBool>,
    device: tch::Device,
    out_dir: PathBuf,
    events: Sender<Event>,
}

impl Thread {
    fn serve(&self, path: &Path, weights: &Path, mut refiner: Option<Refiner>) {
        let mut model: Option<Result<Preview, String>> = None;
        while let Some(key) = self.next() {
            let m = model.get_or_insert_with(|| Preview::load(path, weights, self.device));
            let sha256 = m.as_ref().map(|p| p.sha256.clone()).unwrap_or_default();
            let stamp = stamp(&key, &sha256);
            if let Some(done) = refiner.as_ref().map(|r| r.done_path(&self.out_dir, stamp)) {
                if decodes(&done) {
                    if !self.send(&key, Stage::Refined, Ok(done)) {
                        return;
                    }
                    continue;
                }
            }
            let result = match m {
                Ok(m) => make(m, &key, stamp, self.device, &self.out_dir),
                Err(e) => Err(e.clone()),
            };
            if let Err(e) = &result {
                tracing::warn!("browse preview {}: {e}", key.style.display());
            }
            let first = result.as_ref().ok().cloned();
            if !self.send(&key, Stage::Model, result) {
                return;
            }
            if let (Some(r), Some(first)) = (refiner.as_mut(), first) {
                if !self.refine(r, &key, &first, stamp) {
                    return;
                }
            }
        }
    }

    /// The next request, waiting for one; `None` when the UI is gone.
    fn next(&self) -> Option<BrowseKey> {
        let (lock, cv) = &*self.slot;
        let mut waiting = lock.lock().ok()?;
        loop {
            if let Some(k) = waiting.take() {
                return Some(k);
            }
            waiting = cv.wait(waiting).ok()?;
        }
    }

    /// Whether the refinement must stop: a newer request waits, or a
    /// worker of this host runs on this device.
    fn interrupted(&self) -> bool {
        self.busy.load(Ordering::SeqCst) || self.slot.0.lock().map_or(true, |w| w.is_some())
    }

    /// Refines the model's preview `first` of `key`, telling the UI each
    /// stage; false when the UI is gone.
    fn refine(&self, r: &mut Refiner, key: &BrowseKey, first: &Path, stamp: u64) -> bool {
        let mut open = true;
        let ended = match self.interrupted() {
            true => Ok(Ended::Stopped(None)),
            false => r.run(
                key,
                first,
                stamp,
                &self.out_dir,
                &mut |step, of, p: &Path| {
                    open = self.send(key, Stage::Refining { step, of }, Ok(p.to_path_buf()));
                    match open {
                        true => Flow::Continue,
                        false => Flow::Stop,
                    }
                },
                &|| self.interrupted(),
            ),
        };
        if !open {
            return false;
        }
        let (stage, shown) = match ended {
            Ok(Ended::Done(p)) => (Stage::Refined, p),
            Ok(Ended::Stopped(last)) => {
                let stage = match self.busy.load(Ordering::SeqCst) {
                    true => Stage::Held,
                    false => Stage::Stopped,
                };
                (stage, last.unwrap_or_else(|| first.to_path_buf()))
            }
            Err(e) => {
                tracing::warn!("browse refine {}: {e}", key.style.display());
                (Stage::RefineFailed(e), first.to_path_buf())
            }
        };
        self.send(key, stage, Ok(shown))
    }

    /// Tells the UI; false when it is gone.
    fn send(&self, key: &BrowseKey, stage: Stage, result: Result<PathBuf, String>) -> bool {
        let done = BrowseDone {
            key: key.clone(),
            stage,
            result,
        };
        self.events.send(Event::Browse(Box::new(done))).is_ok()
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
    stamp: u64,
    device: tch::Device,
    out_dir: &Path,
) -> Result<PathBuf, String> {
    let model = &preview.model;
    let out = out_dir.join(format!("{stamp:016x}.png"));
    if decodes(&out) {
        return Ok(out);
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

/// Whether a cached preview is there and whole (one cut short is made again).
fn decodes(path: &Path) -> bool {
    path.is_file() && load_rgb(path, DEFAULT_PIXEL_LIMIT).is_ok()
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

/// What the UI knows of previews: what each pair shows, and the last pair
/// asked for.
#[derive(Default)]
pub struct BrowseState {
    pub done: HashMap<BrowseKey, Shown>,
    asked: Option<BrowseKey>,
}

impl BrowseState {
    /// Whether `key` must be asked for: not the last asked, and not done
    /// (a refinement stopped or held back counts as not done).
    pub fn needs(&mut self, key: &BrowseKey) -> bool {
        let finished = self.done.get(key).is_some_and(|s| !s.stage.unfinished());
        if finished || self.asked.as_ref() == Some(key) {
            return false;
        }
        self.asked = Some(key.clone());
        true
    }

    /// Forgets the last request, so the pair at the cursor is asked for
    /// again if its refinement is unfinished (the worker went idle).
    pub fn retry(&mut self) {
        self.asked = None;
    }

    pub fn insert(&mut self, d: BrowseDone) {
        if self.done.len() >= KEEP {
            self.done.clear();
        }
        self.done.insert(
            d.key,
            Shown {
                stage: d.stage,
                result: d.result,
            },
        );
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
            stage: Stage::Model,
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
    fn a_stopped_or_held_refinement_is_asked_for_again_a_refined_one_never() {
        let mut st = BrowseState::default();
        let done = |k: BrowseKey, stage| BrowseDone {
            key: k,
            stage,
            result: Ok("p.png".into()),
        };
        assert!(st.needs(&key("a", "x")));
        st.insert(done(key("a", "x"), Stage::Stopped));
        assert!(st.needs(&key("a", "y")));
        st.insert(done(key("a", "y"), Stage::Refined));
        assert!(st.needs(&key("a", "x")), "back to a stopped one");
        assert!(!st.needs(&key("a", "y")), "refined: done");
        st.insert(done(key("a", "x"), Stage::Held));
        assert!(!st.needs(&key("a", "x")), "held, and still at the cursor");
        st.retry();
        assert!(st.needs(&key("a", "x")), "the worker went idle");
    }

    #[test]
    fn the_caption_names_the_stage_shown() {
        assert_eq!(Stage::Model.caption("adain"), "adain");
        assert_eq!(
            Stage::Refining { step: 40, of: 120 }.caption("adain"),
            "refining 40/120"
        );
        assert_eq!(Stage::Refined.caption("adain"), "refined");
        assert!(Stage::Held.caption("adain").contains("worker"));
    }

    #[test]
    fn only_a_busy_worker_of_this_host_on_this_device_takes_it() {
        let w = |host: String, device: &str, run: Option<i64>| WorkerInfo {
            id: format!("{host}:1"),
            pid: 1,
            host,
            device: device.into(),
            started: 0.0,
            heartbeat: 0.0,
            current_run: run,
        };
        let cpu = tch::Device::Cpu;
        assert!(device_taken(&[w(hostname(), "cpu", Some(3))], cpu));
        assert!(!device_taken(&[w(hostname(), "cpu", None)], cpu), "idle");
        assert!(!device_taken(&[w(hostname(), "cuda:0", Some(3))], cpu));
        let elsewhere = format!("{}-other", hostname());
        assert!(!device_taken(&[w(elsewhere, "cpu", Some(3))], cpu));
    }

    #[test]
    fn the_slot_keeps_only_the_newest_request() {
        let slot: Slot = Arc::new((Mutex::new(None), Condvar::new()));
        let b = Browser {
            slot: slot.clone(),
            busy: Arc::default(),
            model: "adain".into(),
        };
        for s in ["p1", "p2", "p3"] {
            b.ask(key("c", s));
        }
        let waiting = slot.0.lock().unwrap().take();
        assert_eq!(waiting, Some(key("c", "p3")));
    }
}
