//! The parameter table of training: one fast-style model per marked
//! painting, or one MSG-Net of them all, on a folder of photos (the training
//! set, or the Library's photos until `make dataset` has made one); the rows
//! are the settings a user tunes (the rest are `atelier train`'s defaults).

use std::path::{Path, PathBuf};

use super::form::ComposeState;
use super::params::{number, scale, Param};
use crate::engine::fast::dataset::Dataset;
use crate::engine::fast::train::TrainSpec;
use crate::tui::lib_item::user_path;

/// A folder of photos a training can learn from, as the dataset row shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct DatasetChoice {
    pub path: PathBuf,
    /// The path relative to atelier's folder when inside it.
    pub label: String,
    /// The images found in it (0: missing or empty).
    pub images: usize,
}

impl DatasetChoice {
    /// The folder with its images counted (headers only); a folder that is
    /// missing or holds none is offered with 0, or refused when `strict`.
    pub fn scan(path: &Path, strict: bool) -> Result<DatasetChoice, String> {
        let images = match Dataset::scan(path) {
            Ok(d) => d.files.len(),
            Err(e) if strict => return Err(e.to_string()),
            Err(_) => 0,
        };
        let home = crate::config::home();
        let label = path
            .strip_prefix(&home)
            .unwrap_or(path)
            .display()
            .to_string();
        Ok(DatasetChoice {
            path: path.to_path_buf(),
            label,
            images,
        })
    }

    pub fn show(&self) -> String {
        match self.images {
            0 => format!("{} (none)", self.label),
            n => format!("{} ({n} photos)", self.label),
        }
    }

    /// The training set `make dataset` builds, not made yet.
    pub fn unmade_training_set(&self) -> bool {
        self.images == 0 && self.path.ends_with(TrainSpec::default().dataset)
    }
}

/// What Compose trains: a fast-style model per marked painting, or one
/// MSG-Net of them all (which then takes any painting when applied).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainForm {
    pub msg: bool,
}

/// The dataset the form trains on, as the row shows it.
fn dataset_text(s: &ComposeState) -> String {
    let path = crate::config::resolve(&s.train.dataset);
    match s.datasets.iter().find(|d| d.path == path) {
        Some(d) => d.show(),
        None => s.train.dataset.display().to_string(),
    }
}

/// The rows of the form, in order.
pub fn params() -> Vec<Param<ComposeState>> {
    vec![
        Param {
            name: "dataset",
            show: dataset_text,
            // Steps round the folders offered (the training set, the photos).
            nudge: |s, up| {
                let n = s.datasets.len();
                if n == 0 {
                    return;
                }
                let path = crate::config::resolve(&s.train.dataset);
                let at = s.datasets.iter().position(|d| d.path == path);
                let next = match (at, up) {
                    (None, _) => 0,
                    (Some(i), true) => (i + 1) % n,
                    (Some(i), false) => (i + n - 1) % n,
                };
                s.train.dataset = s.datasets[next].path.clone();
            },
            // A folder offered (by its shown text or label) or any folder of photos.
            parse: |s, t| {
                let known = s
                    .datasets
                    .iter()
                    .find(|d| d.show() == t || d.label == t)
                    .map(|d| d.path.clone());
                s.train.dataset = match known {
                    Some(p) => p,
                    None => {
                        let d = DatasetChoice::scan(&user_path(t), true)?;
                        let p = d.path.clone();
                        s.datasets.push(d);
                        p
                    }
                };
                Ok(())
            },
        },
        Param {
            name: "network",
            show: |s| match s.forms.train.msg {
                true => "MSG-Net, all paintings".into(),
                false => "fast, one per painting".into(),
            },
            nudge: |s, _| s.forms.train.msg = !s.forms.train.msg,
            parse: |s, t| {
                s.forms.train.msg = match t.split([' ', ',']).next().unwrap_or("") {
                    w if w.eq_ignore_ascii_case("msg") || w.eq_ignore_ascii_case("msg-net") => true,
                    w if w.eq_ignore_ascii_case("fast") => false,
                    _ => return Err(format!("'{t}': fast or msg")),
                };
                Ok(())
            },
        },
        Param {
            name: "iterations",
            show: |s| s.train.iterations.to_string(),
            nudge: |s, up| {
                s.train.iterations = if up {
                    s.train.iterations.saturating_mul(2)
                } else {
                    (s.train.iterations / 2).max(1)
                }
            },
            parse: |s, t| {
                s.train.iterations = t.parse().map_err(|_| format!("'{t}' is not a count"))?;
                Ok(())
            },
        },
        Param {
            name: "crop size",
            show: |s| format!("{} px", s.train.size),
            nudge: |s, up| {
                let v = if up {
                    s.train.size + 32
                } else {
                    s.train.size.saturating_sub(32).max(32)
                };
                s.train.size = v;
                s.train.style_size = s.train.style_size.max(v);
            },
            parse: |s, t| {
                s.train.size = t
                    .trim_end_matches("px")
                    .trim()
                    .parse()
                    .map_err(|_| format!("'{t}' is not a size"))?;
                s.train.style_size = s.train.style_size.max(s.train.size);
                Ok(())
            },
        },
        Param {
            name: "batch",
            show: |s| s.train.batch.to_string(),
            nudge: |s, up| {
                s.train.batch = if up {
                    s.train.batch + 1
                } else {
                    s.train.batch.saturating_sub(1).max(1)
                }
            },
            parse: |s, t| {
                s.train.batch = t.parse().map_err(|_| format!("'{t}' is not a count"))?;
                Ok(())
            },
        },
        Param {
            name: "width",
            show: |s| format!("{}", s.train.arch.width),
            nudge: |s, up| s.train.arch.width = scale(s.train.arch.width, up),
            parse: |s, t| {
                s.train.arch.width = number(t)?;
                Ok(())
            },
        },
        Param {
            name: "style weight",
            show: |s| format!("{}", s.train.style_weight),
            nudge: |s, up| s.train.style_weight = scale(s.train.style_weight, up),
            parse: |s, t| {
                s.train.style_weight = number(t)?;
                Ok(())
            },
        },
        Param {
            name: "learning rate",
            show: |s| format!("{}", s.train.lr),
            nudge: |s, up| s.train.lr = scale(s.train.lr, up),
            parse: |s, t| {
                s.train.lr = number(t)?;
                Ok(())
            },
        },
    ]
}

/// A training run into the form: its painting marked, its settings and
/// training set; a multi-style or extending training is refused (Compose
/// trains one painting per new model).
pub fn load(
    c: &mut ComposeState,
    r: &crate::queue::Run,
    t: &crate::jobs::train::Spec,
) -> Result<Option<crate::tui::lib_item::LibItem>, String> {
    let msg = t.train.arch.norm.is_msg();
    if !msg && (!t.train.more_styles.is_empty() || t.train.extend.is_some()) {
        return Err("trains a multi-style model: Compose trains one painting per model or an MSG-Net (atelier train --style … for more)".into());
    }
    let paintings: Vec<_> = std::iter::once(&t.train.style)
        .chain(&t.train.more_styles)
        .map(|p| crate::engine::gatys::spec::StyleRef {
            path: p.clone(),
            weight: 1.0,
        })
        .collect();
    c.styles = super::form::marked_styles(r, &paintings);
    c.forms.train.msg = msg;
    c.train = t.train.clone();
    if msg {
        // The network is the form's row; its norm follows when queued.
        c.train.arch.norm = crate::engine::fast::transformer::Norm::Instance;
    }
    c.use_dataset(&t.train.dataset);
    Ok(None)
}
