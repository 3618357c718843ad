//! The kind picker: the first row of Compose. Each kind names its parameter
//! table; this is the one place the form dispatches on the kind.

use super::form::ComposeState;
use super::params::Param;
use crate::jobs::{analogy, apply, stylize, texture, train, Job};

/// A job kind Compose can queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Stylize,
    Texture,
    /// A = the content photo, B′ = the (first) marked painting.
    Analogy,
    /// The content photo through the model chosen in the Library.
    Apply,
    /// A fast-style model per marked painting, on the training set.
    Train,
}

impl Kind {
    /// Every kind the picker offers, in its order.
    const ALL: [Kind; 5] = [
        Kind::Stylize,
        Kind::Texture,
        Kind::Analogy,
        Kind::Apply,
        Kind::Train,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Stylize => stylize::KIND,
            Kind::Texture => texture::KIND,
            Kind::Analogy => analogy::KIND,
            Kind::Apply => apply::KIND,
            Kind::Train => train::KIND,
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
        }
    }

    /// Whether the kind takes the content photo.
    pub fn takes_content(self) -> bool {
        match self {
            Kind::Stylize | Kind::Analogy | Kind::Apply => true,
            Kind::Texture | Kind::Train => false,
        }
    }

    /// Whether the kind is a Gatys optimisation: it takes the presets and
    /// the memory estimate (both are of a `RunSpec`).
    pub fn gatys(self) -> bool {
        match self {
            Kind::Stylize | Kind::Texture => true,
            Kind::Analogy | Kind::Apply | Kind::Train => false,
        }
    }

    /// Whether several marked styles may blend into one run.
    pub fn blends(self) -> bool {
        match self {
            Kind::Stylize => true,
            Kind::Texture | Kind::Analogy | Kind::Apply | Kind::Train => false,
        }
    }

    /// Whether the kind takes marked paintings at all.
    pub fn takes_styles(self) -> bool {
        !matches!(self, Kind::Apply)
    }
}
