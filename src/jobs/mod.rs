//! Job kinds: what a run does. A [`Job`] is serialisable and tagged by its
//! `kind`; each kind keeps its spec, progress, outcome and resume types side
//! by side in its own module (as yazi's scheduler keeps each task's types
//! together). Generic code (the queue, the status bar, CLI progress, `runs ls`)
//! sees only a [`Summary`]; a kind's own views use its full types.
//!
//! Sits between the engine (which it drives) and the queue (which stores
//! jobs): it imports the engine, never the queue or a front end.

pub mod analogy;
pub mod apply;
pub mod files;
pub mod input;
pub mod limits;
pub mod params;
pub mod stylize;
pub mod summary;
pub mod texture;
pub mod train;
pub mod video;
pub mod view;

use serde::{Deserialize, Serialize};

use crate::engine::gatys::spec::RunSpec;
use crate::engine::Error;

pub use files::RunFiles;
pub use input::{Input, Role};
pub use limits::Limits;
pub use params::Params;
pub use summary::{Headline, Summary};

/// A job of any kind: `{"kind": "stylize", "spec": {…}}`. The store keeps the
/// two halves in the `kind` and `spec` columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "spec", rename_all = "lowercase")]
pub enum Job {
    /// Gatys et al. style transfer of a content image.
    Stylize(stylize::Spec),
    /// Texture synthesis from a style image alone.
    Texture(texture::Spec),
    /// Training a fast-style network for one style.
    Train(train::Spec),
    /// A trained fast-style network applied to photos.
    Apply(apply::Spec),
    /// Deep Image Analogy of a photo and a painting.
    Analogy(analogy::Spec),
    /// A clip stylized frame by frame, steady between frames.
    Video(video::Spec),
}

impl Job {
    /// Every kind this build knows.
    pub const KINDS: [&'static str; 6] = [
        stylize::KIND,
        texture::KIND,
        train::KIND,
        apply::KIND,
        analogy::KIND,
        video::KIND,
    ];

    pub fn kind(&self) -> &'static str {
        match self {
            Job::Stylize(_) => stylize::KIND,
            Job::Texture(_) => texture::KIND,
            Job::Train(_) => train::KIND,
            Job::Apply(_) => apply::KIND,
            Job::Analogy(_) => analogy::KIND,
            Job::Video(_) => video::KIND,
        }
    }

    /// Rebuilds a job from the store's `kind` and `spec` columns.
    pub fn from_parts(kind: &str, spec: &str) -> Result<Job, String> {
        let spec: serde_json::Value =
            serde_json::from_str(spec).map_err(|e| format!("stored spec: {e}"))?;
        if !Self::KINDS.contains(&kind) {
            return Err(format!(
                "kind '{kind}' is unknown to this build (it knows {})",
                Self::KINDS.join(", ")
            ));
        }
        serde_json::from_value(serde_json::json!({ "kind": kind, "spec": spec }))
            .map_err(|e| format!("stored {kind} spec: {e}"))
    }

    /// The spec alone, as the store's `spec` column holds it.
    pub fn spec_json(&self) -> Result<String, serde_json::Error> {
        match self {
            Job::Stylize(s) => serde_json::to_string(s),
            Job::Texture(s) => serde_json::to_string(s),
            Job::Train(s) => serde_json::to_string(s),
            Job::Apply(s) => serde_json::to_string(s),
            Job::Analogy(s) => serde_json::to_string(s),
            Job::Video(s) => serde_json::to_string(s),
        }
    }

    pub fn validate(&self) -> Result<(), Error> {
        match self {
            Job::Stylize(s) => s.validate(),
            Job::Texture(s) => s.validate(),
            Job::Train(s) => s.validate(),
            Job::Apply(s) => s.validate(),
            Job::Analogy(s) => s.validate(),
            Job::Video(s) => s.validate(),
        }
    }

    /// Its inputs checked and hashed again now, for a re-run (a file may
    /// have changed since it was queued), under the names the old ones had.
    pub fn inputs_again(&mut self, old: &[Input]) -> Result<Vec<Input>, Error> {
        let names = |role: Role| -> Vec<Option<String>> {
            old.iter()
                .filter(|i| i.role == role)
                .map(|i| i.name.clone())
                .collect()
        };
        let first = |role: Role| names(role).into_iter().next().flatten();
        match self {
            Job::Stylize(s) => {
                let styles: Vec<String> = old
                    .iter()
                    .filter(|i| i.role == Role::Style)
                    .map(Input::display_name)
                    .collect();
                stylize::inputs(s, first(Role::Content), &styles)
            }
            Job::Texture(s) => s.inputs(first(Role::Style)),
            Job::Train(s) => s.inputs_named(&names(Role::Style)),
            Job::Apply(s) => s.inputs(),
            Job::Analogy(s) => analogy::inputs(s, [first(Role::A), first(Role::BPrime)]),
            Job::Video(s) => video::build::inputs(s),
        }
    }

    /// The optimisation parameters of the kinds that are a Gatys optimisation
    /// (stylize, texture); `None` for kinds that are not.
    pub fn gatys(&self) -> Option<&RunSpec> {
        match self {
            Job::Stylize(s) => Some(s),
            Job::Texture(s) => Some(&s.gatys),
            Job::Train(_) | Job::Apply(_) | Job::Analogy(_) | Job::Video(_) => None,
        }
    }

    pub fn gatys_mut(&mut self) -> Option<&mut RunSpec> {
        match self {
            Job::Stylize(s) => Some(s),
            Job::Texture(s) => Some(&mut s.gatys),
            Job::Train(_) | Job::Apply(_) | Job::Analogy(_) | Job::Video(_) => None,
        }
    }

    /// Steps the job takes at most (evaluations, batches), for progress.
    pub fn budget(&self) -> usize {
        match self {
            Job::Stylize(s) => s.eval_budget(),
            Job::Texture(s) => s.gatys.eval_budget(),
            Job::Train(s) => s.train.iterations as usize,
            Job::Apply(s) => s.contents.len(),
            Job::Analogy(_) => analogy::phases(),
            Job::Video(s) => s.frames as usize,
        }
    }

    /// The kind's own parameters, for lists and detail views.
    pub fn params(&self) -> Params {
        match self {
            Job::Stylize(s) => stylize::params(s),
            Job::Texture(s) => stylize::params(&s.gatys),
            Job::Train(s) => train::params(s),
            Job::Apply(s) => apply::params(s),
            Job::Analogy(s) => analogy::params(s),
            Job::Video(s) => video::params(s),
        }
    }

    /// What the job does, in a few words, by its inputs' names (`name`
    /// gives one by its role): `chelsea × irises, 64 px, 12 steps`.
    pub fn describe(&self, name: &dyn Fn(Role) -> String) -> String {
        let title = match self {
            Job::Stylize(_) => stylize::title(name),
            Job::Texture(_) => texture::title(name),
            Job::Train(_) => train::title(name),
            Job::Apply(_) => apply::title(name),
            Job::Analogy(_) => analogy::title(name),
            Job::Video(_) => video::title(name),
        };
        format!("{title}, {}", self.shape())
    }

    /// What Live and History show of a run of the job besides the generic
    /// header. The Gatys kinds have none here: their view is drawn from
    /// the evaluations the store keeps (see [`Job::gatys`]).
    pub fn view(&self, seen: view::Seen<'_>) -> view::View {
        match self {
            Job::Stylize(_) | Job::Texture(_) => view::View::default(),
            Job::Train(s) => train::view(s, seen),
            Job::Apply(_) => apply::view(seen),
            Job::Analogy(_) => analogy::view(seen),
            Job::Video(s) => video::view(s, seen),
        }
    }

    /// Its inputs checked, hashed and named as a front end names them (the
    /// content's name, one per style) for queueing it.
    pub fn inputs_named(
        &mut self,
        content: Option<String>,
        styles: &[String],
    ) -> Result<Vec<Input>, Error> {
        match self {
            Job::Stylize(s) => stylize::inputs(s, content, styles),
            Job::Texture(s) => s.inputs(styles.first().cloned()),
            Job::Train(s) => s.inputs(styles.first().cloned()),
            Job::Apply(s) => s.inputs(),
            Job::Analogy(s) => analogy::inputs(s, [content, styles.first().cloned()]),
            Job::Video(s) => video::build::inputs(s),
        }
    }

    /// One line on what the job is, beside its inputs' names (`64 px, 100 steps`).
    pub fn shape(&self) -> String {
        match self {
            Job::Stylize(s) => format!("{} px, {} steps", s.size, s.steps),
            Job::Texture(s) => format!("{} px, {} steps", s.gatys.size, s.gatys.steps),
            Job::Train(s) => format!(
                "{} px, {} iterations → {}",
                s.train.size, s.train.iterations, s.name
            ),
            Job::Apply(s) => {
                let n = s.contents.len();
                let size = s.size.map(|p| format!(", {p} px")).unwrap_or_default();
                format!(
                    "{} · {n} photo{}{size}",
                    s.model_display(),
                    if n == 1 { "" } else { "s" }
                )
            }
            Job::Analogy(s) => format!(
                "{} px, level {}{}",
                s.size,
                s.weight_level,
                if s.fast { ", fast" } else { "" }
            ),
            Job::Video(s) => s.shape(),
        }
    }
}

/// What a kind's builder gives: its checked spec and its inputs, each file
/// read, hashed and recorded with its absolute path.
#[derive(Clone, Debug)]
pub struct Built<S> {
    pub spec: S,
    pub inputs: Vec<Input>,
}

/// Progress of a running job, one variant per kind.
#[derive(Clone, Debug)]
pub enum Progress {
    Stylize(stylize::Progress),
    Texture(texture::Progress),
    Train(train::Progress),
    Apply(apply::Progress),
    Analogy(analogy::Progress),
    Video(video::Progress),
}

impl Progress {
    /// The optimisation progress of the Gatys kinds.
    pub fn gatys(&self) -> Option<&crate::engine::gatys::transfer::Progress> {
        match self {
            Progress::Stylize(p) | Progress::Texture(p) => Some(p),
            Progress::Train(_) | Progress::Apply(_) | Progress::Analogy(_) | Progress::Video(_) => {
                None
            }
        }
    }
}

impl From<&Progress> for Summary {
    fn from(p: &Progress) -> Summary {
        match p {
            Progress::Stylize(p) => stylize::summary(p),
            Progress::Texture(p) => Summary {
                kind: texture::KIND,
                ..stylize::summary(p)
            },
            Progress::Train(p) => train::summary(p),
            Progress::Apply(p) => apply::summary(p),
            Progress::Analogy(p) => analogy::summary(p),
            Progress::Video(p) => video::summary(p),
        }
    }
}

/// What a finished job produced besides its files, one variant per kind; the
/// store keeps it as JSON in `runs.outcome`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Outcome {
    Stylize(stylize::Outcome),
    Train(train::Outcome),
    Apply(apply::Outcome),
    Analogy(analogy::Outcome),
    Video(video::Outcome),
}

impl Outcome {
    /// Reads a stored outcome of a run of `kind`; `None` when this build
    /// cannot (the run is listed without it).
    pub fn from_json(kind: &str, json: &str) -> Option<Outcome> {
        match kind {
            stylize::KIND | texture::KIND => serde_json::from_str(json).ok().map(Outcome::Stylize),
            train::KIND => serde_json::from_str(json).ok().map(Outcome::Train),
            apply::KIND => serde_json::from_str(json).ok().map(Outcome::Apply),
            analogy::KIND => serde_json::from_str(json).ok().map(Outcome::Analogy),
            video::KIND => serde_json::from_str(json).ok().map(Outcome::Video),
            _ => None,
        }
    }

    /// What `runs show` prints of it: (label, text) lines.
    pub fn lines(&self) -> Vec<(&'static str, String)> {
        match self {
            Outcome::Stylize(o) => stylize::outcome_lines(o),
            Outcome::Train(o) => train::outcome_lines(o),
            Outcome::Apply(o) => apply::outcome_lines(o),
            Outcome::Analogy(o) => analogy::outcome_lines(o),
            Outcome::Video(o) => video::outcome_lines(o),
        }
    }

    /// The Gatys kinds' outcome (final losses, evaluations, best step).
    pub fn gatys(&self) -> Option<&stylize::Outcome> {
        match self {
            Outcome::Stylize(o) => Some(o),
            Outcome::Train(_) | Outcome::Apply(_) | Outcome::Analogy(_) | Outcome::Video(_) => None,
        }
    }

    /// The figure a list shows for the run.
    pub fn headline(&self) -> Headline {
        match self {
            Outcome::Stylize(o) => Headline {
                label: "total",
                value: o.losses.total,
            },
            Outcome::Train(o) => Headline {
                label: "total",
                value: o.losses.get("total").copied().unwrap_or(f64::NAN),
            },
            Outcome::Apply(o) => Headline {
                label: "photos",
                value: o.outputs.len() as f64,
            },
            Outcome::Analogy(o) => Headline {
                label: "seconds",
                value: o.timings.total,
            },
            Outcome::Video(o) => Headline {
                label: "frames",
                value: o.frames as f64,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_through_their_store_columns() {
        let base = RunSpec::default();
        let style = crate::engine::gatys::spec::StyleRef {
            path: "/s.png".into(),
            weight: 1.0,
        };
        for job in [
            Job::Stylize(base.clone()),
            Job::Texture(texture::Spec::new(&base, style.clone(), true)),
            Job::Apply(apply::Spec {
                model: "/m.safetensors".into(),
                model_name: Some("m".into()),
                contents: vec!["/a.png".into(), "/b.png".into()],
                size: Some(64),
                pixel_limit: 1 << 20,
                mix: Some(crate::engine::fast::mix::StyleMix {
                    weights: vec![0.25, 0.75],
                    label: "a-0.25+b-0.75".into(),
                }),
                arbitrary: None,
                msg: Vec::new(),
                style_masks: Vec::new(),
                regions: None,
                content_mask: None,
            }),
            Job::Apply(apply::Spec {
                model: "/wct.safetensors".into(),
                model_name: Some("wct".into()),
                contents: vec!["/a.png".into()],
                size: None,
                pixel_limit: 1 << 20,
                mix: None,
                arbitrary: Some(apply::ArbSettings {
                    styles: vec![style.clone()],
                    alpha: 0.4,
                    levels: Some(3),
                    color: crate::engine::nets::color::ColorMode::Histogram,
                }),
                msg: Vec::new(),
                style_masks: Vec::new(),
                regions: None,
                content_mask: None,
            }),
            Job::Analogy(analogy::Spec {
                a: "/a.png".into(),
                b_prime: "/b.png".into(),
                fast: true,
                ..Default::default()
            }),
            Job::Video(video::Spec {
                input: "/clip.mp4".into(),
                method: video::Method::Gatys(base.clone()),
                temporal_weight: 1e3,
                encoding: Default::default(),
                container: Some("mp4".into()),
                frames: 48,
            }),
        ] {
            let back = Job::from_parts(job.kind(), &job.spec_json().unwrap()).unwrap();
            assert_eq!(back, job);
        }
        let e = Job::from_parts("fast-style", "{}").unwrap_err();
        assert!(e.contains("unknown to this build"), "{e}");
        assert!(Job::from_parts("texture", "{\"gatys\": 3}").is_err());
    }
}
