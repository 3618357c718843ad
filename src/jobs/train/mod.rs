//! The `train` kind: training a fast-style network for one style, or a
//! multi-style (CIN) network for several, or extending one with new styles
//! ([`crate::engine::fast::train`]); the result is a model in the user's
//! models library under the spec's name.

pub mod build;
pub mod run;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::input::Input;
use super::summary::{Headline, Summary};
use crate::engine::fast::dataset::Dataset;
use crate::engine::fast::model_file::read_info;
use crate::engine::fast::train::{TrainProgress, TrainSpec};
use crate::engine::fast::transformer::Norm;
use crate::engine::infra::image_io::DEFAULT_PIXEL_LIMIT;
use crate::engine::Error;
use crate::jobs::Role;

pub const KIND: &str = "train";

/// A training job: the model's name in the library and the training settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The name the trained model gets in the user's library (never replacing one).
    pub name: String,
    pub train: TrainSpec,
    /// Every how many iterations the losses and images/s are recorded.
    #[serde(default = "one")]
    pub sample_every: u64,
    /// The most pixels a painting or preview photo may decode to (the
    /// config's `[run] pixel_limit` where it was queued).
    #[serde(default = "default_pixel_limit")]
    pub pixel_limit: u64,
}

fn one() -> u64 {
    1
}

fn default_pixel_limit() -> u64 {
    DEFAULT_PIXEL_LIMIT
}

/// Reported after every iteration.
pub type Progress = TrainProgress;

/// Where a stopped training run takes up again: its last checkpoint.
pub type Resume = crate::engine::fast::train::Resume;

/// The loss series a training run records (besides `images_per_second`).
pub const SERIES: [&str; 4] = ["content", "style", "tv", "total"];
/// The throughput series.
pub const RATE_SERIES: &str = "images_per_second";

/// A finished training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The model's name and where it was saved.
    pub model: String,
    pub path: PathBuf,
    pub iterations: u64,
    pub losses: BTreeMap<String, f64>,
    pub seconds: f64,
}

impl Spec {
    pub fn validate(&self) -> Result<(), Error> {
        if self.name.trim().is_empty() {
            return Err(Error::invalid("name", "empty (the trained model's name)"));
        }
        self.train.validate()
    }

    /// The checked inputs (the style images, the model extended; the
    /// dataset must hold images), with absolute paths written back into the
    /// spec. `style_name` names the first style.
    pub fn inputs(&mut self, style_name: Option<String>) -> Result<Vec<Input>, Error> {
        self.inputs_named(&[style_name])
    }

    /// As [`Spec::inputs`], with a name for each style (in order; missing
    /// ones are `None`).
    pub fn inputs_named(&mut self, names: &[Option<String>]) -> Result<Vec<Input>, Error> {
        self.inputs_within(names, self.pixel_limit)
    }

    /// As [`Spec::inputs_named`], each image decoding within `pixel_limit`.
    pub fn inputs_within(
        &mut self,
        names: &[Option<String>],
        pixel_limit: u64,
    ) -> Result<Vec<Input>, Error> {
        let name = |i: usize| names.get(i).cloned().flatten();
        let style = Input::checked(Role::Style, name(0), &self.train.style, pixel_limit)?;
        self.train.style = style.path.clone();
        let mut more = Vec::new();
        for (i, p) in self.train.more_styles.iter_mut().enumerate() {
            let s = Input::checked(Role::Style, name(i + 1), p, pixel_limit)?;
            *p = s.path.clone();
            more.push(s);
        }
        let base = match &self.train.extend {
            Some(m) => {
                let info = read_info(m)?;
                if !matches!(info.arch.norm, Norm::Conditional { .. }) {
                    return Err(Error::invalid(
                        "extend",
                        format!(
                            "{} is {}; only a multi-style (CIN) model is extended",
                            m.display(),
                            if info.arch.norm.is_msg() {
                                "an MSG-Net"
                            } else {
                                "a single-style model"
                            }
                        ),
                    ));
                }
                let abs = std::fs::canonicalize(m).map_err(|e| Error::io(m, e))?;
                let sha = crate::engine::nets::weights::sha256_file(&abs)?;
                self.train.extend = Some(abs.clone());
                Some(Input::hashed(Role::Model, None, abs, sha))
            }
            None => None,
        };
        let manifest = Dataset::scan(&self.train.dataset)?.manifest_sha256()?;
        self.train.dataset = std::fs::canonicalize(&self.train.dataset)
            .map_err(|e| Error::io(&self.train.dataset, e))?;
        let mut out = vec![style];
        out.extend(more);
        out.extend(base);
        out.push(Input::hashed(
            Role::Dataset,
            None,
            self.train.dataset.clone(),
            manifest,
        ));
        if let Some(p) = &self.train.preview {
            let i = Input::checked(Role::Preview, None, p, pixel_limit)?;
            self.train.preview = Some(i.path.clone());
            out.push(i);
        }
        Ok(out)
    }
}

/// One iteration's figures as (series, value) pairs, for the store.
pub fn series_values(p: &Progress) -> Vec<(&'static str, f64)> {
    let mut v: Vec<(&'static str, f64)> = SERIES
        .iter()
        .filter_map(|s| p.losses.get(*s).map(|x| (*s, *x)))
        .collect();
    v.push((RATE_SERIES, p.images_per_second));
    v
}

/// The generic view of a training run's progress.
pub fn summary(p: &Progress) -> Summary {
    let mut s = Summary::counted(
        KIND,
        p.iteration as usize,
        p.of as usize,
        p.elapsed.as_secs_f64(),
    );
    // The loop's own rate counts this attempt only, which is what an ETA needs.
    if p.images_per_second.is_finite() && p.images_per_second > 0.0 {
        s.rate = Some(p.images_per_second);
    }
    match p.losses.get("total") {
        Some(&value) => s.with_headline(Headline {
            label: "total",
            value,
        }),
        None => s,
    }
}

/// A training's own settings (crop, iterations, network, weights).
pub fn params(s: &Spec) -> super::params::Params {
    use super::params::num;
    let t = &s.train;
    super::params::Params {
        size: t.size.to_string(),
        length: t.iterations.to_string(),
        pairs: vec![
            ("model", s.name.clone()),
            ("crop", format!("{} px", t.size)),
            ("iterations", t.iterations.to_string()),
            ("batch", t.batch.to_string()),
            ("width", num(t.arch.width)),
            ("norm", t.arch.norm.to_string()),
            ("lr", num(t.lr)),
            (
                "weights",
                format!(
                    "style {} content {} tv {}",
                    num(t.style_weight),
                    num(t.content_weight),
                    num(t.tv_weight)
                ),
            ),
        ],
    }
}

/// What a training run is, by its inputs' names: `train of irises`.
pub fn title(name: &dyn Fn(Role) -> String) -> String {
    format!("{KIND} of {}", name(Role::Style))
}

/// `runs show`'s lines of a finished training.
pub fn outcome_lines(o: &Outcome) -> Vec<(&'static str, String)> {
    vec![(
        "model",
        format!(
            "{} ({}), {} iterations, {:.0} s, total loss {:.4e}",
            o.model,
            o.path.display(),
            o.iterations,
            o.seconds,
            o.losses.get("total").copied().unwrap_or(f64::NAN)
        ),
    )]
}

/// Live and History: iteration of the total, images/s, ETA, the (final) losses.
pub fn view(s: &Spec, seen: super::view::Seen<'_>) -> super::view::View {
    let live = match seen.live {
        Some(super::Progress::Train(p)) => Some(p),
        _ => None,
    };
    let done = match seen.outcome {
        Some(super::Outcome::Train(o)) => Some(o),
        _ => None,
    };
    let rec = seen.recorded;
    let of = live.map_or(s.train.iterations, |p| p.of);
    let iteration = live
        .map(|p| p.iteration)
        .or(done.map(|o| o.iterations))
        .or(rec.last_step)
        .unwrap_or(0);
    let ips = live
        .map(|p| p.images_per_second)
        .or_else(|| rec.latest.get(RATE_SERIES).copied());
    let eta = rec
        .step_rate
        .filter(|v| seen.running && *v > 0.0)
        .map(|v| of.saturating_sub(iteration) as f64 / v);
    let (label, losses) = match (done, live) {
        (Some(o), _) => ("final", o.losses.clone()),
        (None, Some(p)) => ("losses", p.losses.clone()),
        (None, None) => {
            let mut l = rec.latest.clone();
            l.remove(RATE_SERIES);
            ("losses", l)
        }
    };
    let losses = if losses.is_empty() {
        "waiting for the first iteration".to_string()
    } else {
        let parts: Vec<String> = losses.iter().map(|(k, v)| format!("{k} {v:.4e}")).collect();
        format!("{label}: {}", parts.join(" · "))
    };
    super::view::View {
        lines: vec![
            format!(
                "iteration {iteration}/{of} · {} images/s · ETA {}",
                ips.map_or("-".into(), |v| format!("{v:.2}")),
                super::view::seconds(eta)
            ),
            losses,
        ],
        x_title: Some("iteration"),
        unplotted: &[RATE_SERIES],
        ..Default::default()
    }
}
