//! The kind picker: the first row of Compose. Each kind names its parameter
//! table; this is the one place the form dispatches on the kind.

use super::form::ComposeState;
use super::params::Param;
use crate::jobs::{analogy, apply, stylize, texture, train, video, Job};
use crate::queue::Run;
use crate::tui::data::NewRun;
use crate::tui::lib_item::{LibItem, ModelItem};

/// What `r` would queue: runs, nothing yet (what is missing), or nothing
/// (what is wrong).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Queues {
    Ready(String),
    Waiting(String),
    Refused(String),
}

/// A job kind Compose can queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Stylize,
    Texture,
    /// A = the content photo, B′ = the (first) marked painting.
    Analogy,
    /// The content photo through the model chosen in the Library.
    Apply,
    /// A fast-style model per marked painting, or one MSG-Net of them all.
    Train,
    /// A clip (typed path) stylized frame by frame, Gatys or a model.
    Video,
}

impl Kind {
    /// Every kind the picker offers, in its order.
    const ALL: [Kind; 6] = [
        Kind::Stylize,
        Kind::Texture,
        Kind::Analogy,
        Kind::Apply,
        Kind::Train,
        Kind::Video,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Stylize => stylize::KIND,
            Kind::Texture => texture::KIND,
            Kind::Analogy => analogy::KIND,
            Kind::Apply => apply::KIND,
            Kind::Train => train::KIND,
            Kind::Video => video::KIND,
        }
    }

    /// The kinds this build's job enum knows, in picker order.
    pub fn known() -> Vec<Kind> {
        Self::ALL
            .into_iter()
            .filter(|k| Job::KINDS.contains(&k.name()))
            .collect()
    }

    /// The kind after (`up`) or before this one, round the known ones.
    pub fn step(self, up: bool) -> Kind {
        let all = Self::known();
        let n = all.len();
        let i = all.iter().position(|k| *k == self).unwrap_or(0);
        all[if up { (i + 1) % n } else { (i + n - 1) % n }]
    }

    pub fn from_name(t: &str) -> Result<Kind, String> {
        Self::known()
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                let names: Vec<&str> = Self::known().iter().map(|k| k.name()).collect();
                format!("no kind '{t}' (known: {})", names.join(", "))
            })
    }

    /// The kind's parameter table.
    pub fn params(self) -> Vec<Param<ComposeState>> {
        match self {
            Kind::Stylize => super::stylize::params(),
            Kind::Texture => super::texture::params(),
            Kind::Analogy => super::analogy::params(),
            Kind::Apply => super::apply::params(),
            Kind::Train => super::train::params(),
            Kind::Video => super::video::params(),
        }
    }

    /// The runs `r` queues from the form, or why none.
    pub fn runs(self, c: &ComposeState) -> Result<Vec<NewRun>, String> {
        match self {
            Kind::Stylize => c.stylize_runs(),
            Kind::Texture => c.texture_runs(),
            Kind::Analogy => c.analogy_runs(),
            Kind::Apply => c.apply_runs(),
            Kind::Train => c.train_runs(),
            Kind::Video => super::video::runs(c),
        }
    }

    /// The form's part of this kind checked whole (after a typed row).
    pub fn check(self, c: &ComposeState) -> Result<(), String> {
        match self {
            Kind::Analogy => c.analogy.validate(),
            Kind::Apply => return c.apply_stylings().map(|_| ()),
            Kind::Video if c.forms.video.with_model => return c.apply_stylings().map(|_| ()),
            Kind::Train => c.train.validate(),
            Kind::Stylize | Kind::Texture | Kind::Video => c.spec.validate(),
        }
        .map_err(|e| e.to_string())
    }

    /// Whether the kind takes the content photo.
    pub fn takes_content(self) -> bool {
        match self {
            Kind::Stylize | Kind::Analogy | Kind::Apply => true,
            // A video's content is its clip row.
            Kind::Texture | Kind::Train | Kind::Video => false,
        }
    }

    /// Whether the kind is a Gatys optimisation: it takes the presets and
    /// the memory estimate (both are of a `RunSpec`).
    pub fn gatys(self) -> bool {
        match self {
            Kind::Stylize | Kind::Texture => true,
            Kind::Analogy | Kind::Apply | Kind::Train | Kind::Video => false,
        }
    }

    /// Whether several marked styles may blend into one run.
    pub fn blends(self) -> bool {
        match self {
            Kind::Stylize | Kind::Video => true,
            Kind::Texture | Kind::Analogy | Kind::Apply | Kind::Train => false,
        }
    }

    /// What `r` would queue from the form, for this kind.
    pub fn queues(self, c: &ComposeState) -> Queues {
        let n = c.styles.len();
        let plural = if n == 1 { "" } else { "s" };
        match self {
            Kind::Stylize if c.content.is_none() || n == 0 => {
                Queues::Waiting("r queues the runs once both are chosen".into())
            }
            Kind::Stylize if c.blends() => {
                Queues::Ready(format!("r queues 1 run blending {n} styles"))
            }
            Kind::Stylize => {
                Queues::Ready(format!("r queues {n} run{plural} (content × each style)"))
            }
            Kind::Texture if n == 0 => {
                Queues::Waiting("r queues a texture per marked style".into())
            }
            Kind::Texture => Queues::Ready(format!("r queues {n} texture{plural} (one per style)")),
            Kind::Analogy if n > 1 => Queues::Refused(format!(
                "an analogy takes one painting B′: unmark {} of the {n}",
                n - 1
            )),
            Kind::Analogy if c.content.is_none() || n == 0 => {
                Queues::Waiting("r queues an analogy: A = the content, B′ = a painting".into())
            }
            Kind::Analogy => Queues::Ready(format!(
                "r queues 1 analogy: A = {}, B′ = {}",
                c.content.as_ref().map_or("", |i| i.name.as_str()),
                c.styles[0].item.name
            )),
            Kind::Apply if c.applies_arbitrary() && c.content.is_some() && c.blends() => {
                Queues::Ready(format!(
                    "r queues 1 run: {} through {}, mixing {n} paintings ({})",
                    c.content.as_ref().map_or("", |i| i.name.as_str()),
                    c.model.as_ref().map_or("", |m| m.name.as_str()),
                    c.shares_label(),
                ))
            }
            Kind::Apply if c.applies_arbitrary() && c.content.is_some() && n > 0 => {
                Queues::Ready(format!(
                    "r queues {n} run{plural}: {} through {}, one per painting",
                    c.content.as_ref().map_or("", |i| i.name.as_str()),
                    c.model.as_ref().map_or("", |m| m.name.as_str()),
                ))
            }
            Kind::Apply if c.applies_arbitrary() => Queues::Waiting(
                "r queues a run per marked painting once a photo is chosen (Space on paintings)"
                    .into(),
            ),
            Kind::Apply => match (&c.content, &c.model, c.apply_stylings()) {
                (_, _, Err(e)) => Queues::Refused(e),
                (Some(p), Some(m), Ok(mixes)) if mixes.len() > 1 => Queues::Ready(format!(
                    "r queues {} runs: {} through {}, one per style",
                    mixes.len(),
                    p.name,
                    m.name
                )),
                (Some(p), Some(m), Ok(_)) => {
                    Queues::Ready(format!("r queues 1 run: {} through {}", p.name, m.name))
                }
                _ => Queues::Waiting("r queues the run once a photo and a model are chosen".into()),
            },
            Kind::Train if n == 0 => {
                Queues::Waiting("r queues a training run per marked painting".into())
            }
            Kind::Train if c.forms.train.msg => Queues::Ready(format!(
                "r queues 1 MSG-Net training of {n} painting{plural}; the model appears in Library"
            )),
            Kind::Train => Queues::Ready(format!(
                "r queues {n} training run{plural}; the models appear in Library"
            )),
            Kind::Video => super::video::queues(c),
        }
    }

    /// Whether the kind takes marked paintings at all.
    pub fn takes_styles(self) -> bool {
        !matches!(self, Kind::Apply)
    }
}

impl ComposeState {
    /// Loads run `r` (of `job`) into the form its kind's table edits, with
    /// its inputs named as when it was queued; gives the content to choose
    /// (if the kind has one), or says why the form cannot hold the run,
    /// leaving it as it was.
    pub fn load_run(
        &mut self,
        r: &Run,
        job: &Job,
        models: &[ModelItem],
    ) -> Result<Option<LibItem>, String> {
        let (kind, content) = match job {
            Job::Stylize(_) => (Kind::Stylize, super::stylize::load(self, r, None)),
            Job::Texture(t) => (Kind::Texture, super::stylize::load(self, r, Some(t.square))),
            Job::Analogy(a) => (Kind::Analogy, Some(super::analogy::load(self, r, a))),
            Job::Train(t) => (Kind::Train, super::train::load(self, r, t)?),
            Job::Apply(a) => (Kind::Apply, super::apply::load(self, r, a, models)?),
            Job::Video(v) => (Kind::Video, super::video::load(self, r, v, models)?),
        };
        self.kind = kind;
        Ok(content)
    }
}

/// The settings of the kinds whose Compose table keeps some of its own: a
/// new kind's go here, so the form itself needs no edit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KindForms {
    /// A video's clip, method and steadiness.
    pub video: super::video::VideoForm,
    /// A training's network.
    pub train: super::train::TrainForm,
}
