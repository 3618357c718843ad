//! The mask rows of Compose (stylize, and apply with an adain/wct model): a
//! row per marked painting for its mask and a content-mask row. Each takes a
//! typed path (`~/` expanded, read and checked as the CLI checks a mask, its
//! shape against the photo's); `none` clears it; +/- steps through the images
//! of the library's `masks/` folder (beside its paintings' folder), then the
//! masks already given in the form, so a mask is picked rather than typed.

use std::path::{Path, PathBuf};

use super::form::{ComposeState, MarkedStyle};
use super::kind::Kind;
use super::params::Param;
use crate::engine::infra::mask;
use crate::tui::lib_item::user_path;
use crate::tui::panes::library::is_image_name;

/// The style-mask rows: one per marked painting, up to this many.
const STYLE_ROWS: [&str; 8] = [
    "mask 1", "mask 2", "mask 3", "mask 4", "mask 5", "mask 6", "mask 7", "mask 8",
];

const CONTENT_ROW: &str = "content mask";

const NONE: &str = "none";

/// The library's folder of masks, beside its paintings (`styles/`) and photos.
const MASKS_DIR: &str = "masks";

/// The masks given in the form.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FormMasks {
    /// (painting, its mask): a mask follows its painting as others are
    /// marked or unmarked.
    pub style: Vec<(PathBuf, PathBuf)>,
    pub content: Option<PathBuf>,
}

impl FormMasks {
    /// The masks of a run being edited: `style[i]` is the mask of `paintings[i]`.
    pub fn of_run(paintings: &[MarkedStyle], style: &[PathBuf], content: Option<PathBuf>) -> Self {
        Self {
            style: paintings
                .iter()
                .map(|m| m.item.path.clone())
                .zip(style.iter().cloned())
                .collect(),
            content,
        }
    }

    /// The mask given for `painting`, if any.
    pub fn of(&self, painting: &Path) -> Option<&Path> {
        let same = |p: &Path| p == painting || same_file(p, painting);
        self.style
            .iter()
            .find(|(p, _)| same(p))
            .map(|(_, m)| m.as_path())
    }

    fn set(&mut self, painting: &Path, mask: Option<PathBuf>) {
        self.style.retain(|(p, _)| p != painting);
        if let Some(m) = mask {
            self.style.push((painting.to_path_buf(), m));
        }
    }

    /// The masks of the paintings of one run, in their order: every one or
    /// none (a run's styles each take a mask, or none does).
    pub fn for_run(&self, paintings: &[&Path], names: &[String]) -> Result<Vec<PathBuf>, String> {
        let masks: Vec<Option<&Path>> = paintings.iter().map(|p| self.of(p)).collect();
        if masks.iter().all(Option::is_none) {
            return Ok(Vec::new());
        }
        match masks.iter().position(Option::is_none) {
            Some(i) => Err(format!(
                "{} has no mask: give every painting of the run a mask, or none",
                names.get(i).map_or("a painting", |n| n.as_str())
            )),
            None => Ok(masks.into_iter().flatten().map(Path::to_path_buf).collect()),
        }
    }

    /// Every mask given, once each, in the order given.
    fn known(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = Vec::new();
        for m in self.style.iter().map(|(_, m)| m).chain(&self.content) {
            if !v.contains(m) {
                v.push(m.clone());
            }
        }
        v
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// Whether the form shows row `name` (any other row than a mask row is
/// shown): style masks for stylize and an adain/wct apply, one per marked
/// painting; the content mask for stylize and every apply.
pub fn shown(s: &ComposeState, name: &str) -> bool {
    if name == CONTENT_ROW {
        return matches!(s.kind, Kind::Stylize | Kind::Apply);
    }
    match STYLE_ROWS.iter().position(|r| *r == name) {
        Some(i) => (s.kind == Kind::Stylize || s.applies_arbitrary()) && i < s.styles.len(),
        None => true,
    }
}

/// How the form labels row `name`: a style-mask row by its painting.
pub fn label(s: &ComposeState, name: &str) -> String {
    match STYLE_ROWS.iter().position(|r| *r == name) {
        Some(i) => s
            .styles
            .get(i)
            .map_or(name.into(), |m| format!("mask of {}", m.item.name)),
        None => name.into(),
    }
}

/// The mask rows: a style mask per marked painting, then the content mask.
pub fn rows() -> Vec<Param<ComposeState>> {
    vec![
        style::<0>(),
        style::<1>(),
        style::<2>(),
        style::<3>(),
        style::<4>(),
        style::<5>(),
        style::<6>(),
        style::<7>(),
        content(),
    ]
}

fn show(p: Option<&Path>) -> String {
    p.map_or(NONE.into(), |p| p.display().to_string())
}

/// The images of the library's `masks/` folder, by name (none without a
/// library or the folder).
fn library_masks(s: &ComposeState) -> Vec<PathBuf> {
    let dir = s
        .paintings
        .as_ref()
        .and_then(|l| l.dir().parent())
        .map(|p| p.join(MASKS_DIR));
    let Some(Ok(entries)) = dir.map(std::fs::read_dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| is_image_name(p))
        .collect();
    v.sort();
    v
}

/// The mask after (`up`) or before `at` among the library's and those the
/// form knows, round through none. The library's come first: their order
/// does not change as masks are given.
fn step(s: &ComposeState, at: Option<&Path>, up: bool) -> Option<PathBuf> {
    let mut known = library_masks(s);
    for m in s.masks.known() {
        if !known.contains(&m) {
            known.push(m);
        }
    }
    let n = known.len() as i64 + 1;
    // 0 is none, i + 1 the i-th known mask.
    let i = at
        .and_then(|a| known.iter().position(|k| k == a))
        .map_or(0, |i| i as i64 + 1);
    let next = (i + if up { 1 } else { -1 }).rem_euclid(n);
    (next > 0).then(|| known[next as usize - 1].clone())
}

/// Typed text as a mask for the photo of the form: read as the CLI reads
/// it (an image, not all black, in the photo's shape).
fn parse(s: &ComposeState, t: &str, what: &str) -> Result<Option<PathBuf>, String> {
    let t = t.trim();
    if t.is_empty() || t == NONE {
        return Ok(None);
    }
    let path = user_path(t);
    let m = mask::load(&path, s.limits.pixel_limit, what).map_err(|e| e.to_string())?;
    let photo = s
        .content
        .as_ref()
        .filter(|_| s.kind.takes_content())
        .and_then(|c| image::image_dimensions(&c.path).ok());
    if let Some(dims) = photo {
        mask::check_aspect(&m, &path, dims).map_err(|e| e.to_string())?;
    }
    Ok(Some(path))
}

fn style<const I: usize>() -> Param<ComposeState> {
    Param {
        name: STYLE_ROWS[I],
        show: |s| show(s.styles.get(I).and_then(|m| s.masks.of(&m.item.path))),
        nudge: |s, up| {
            let Some(painting) = s.styles.get(I).map(|m| m.item.path.clone()) else {
                return;
            };
            let next = step(s, s.masks.of(&painting), up);
            s.masks.set(&painting, next);
        },
        parse: |s, t| {
            let Some(painting) = s.styles.get(I).map(|m| m.item.path.clone()) else {
                return Ok(());
            };
            let m = parse(s, t, &format!("mask of style {}", I + 1))?;
            s.masks.set(&painting, m);
            Ok(())
        },
    }
}

fn content() -> Param<ComposeState> {
    Param {
        name: CONTENT_ROW,
        show: |s| show(s.masks.content.as_deref()),
        nudge: |s, up| s.masks.content = step(s, s.masks.content.as_deref(), up),
        parse: |s, t| {
            s.masks.content = parse(s, t, "content mask")?;
            Ok(())
        },
    }
}
