//! The `analogy` kind: Deep Image Analogy of a photo A and a painting B′
//! ([`crate::engine::analogy`]), giving A′ and B and the flow between them.

pub mod run;

use serde::{Deserialize, Serialize};

use super::input::Input;
use super::summary::Summary;
use crate::engine::analogy::{AnalogyProgress, AnalogySpec, Phase, Timings, LAYERS};
use crate::engine::Error;
use crate::jobs::Role;

pub mod build;

pub const KIND: &str = "analogy";

pub type Spec = AnalogySpec;
/// Per layer and phase.
pub type Progress = AnalogyProgress;

/// An analogy has no intermediate state worth keeping: a stopped one starts
/// again.
#[derive(Clone, Debug, PartialEq)]
pub struct Resume;

/// What an analogy leaves in its run folder besides A′ (`output.png`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// File names in the run folder.
    pub b: String,
    pub flow: String,
    pub flow_picture: String,
    pub timings: Timings,
    /// Share of A's positions whose match is themselves (1.0 on identical inputs).
    pub identity_share: f64,
}

/// The files an analogy job writes into its run folder (A′ first, then B,
/// the A→B′ field and its picture, the B′→A field and its picture), besides
/// `output.png` (A′ again, what every kind's lists show).
pub const FILES: [&str; 6] = [
    "a-prime.png",
    "a-prime.b.png",
    "a-prime.flo",
    "a-prime.flow.png",
    "a-prime.b.flo",
    "a-prime.b.flow.png",
];

/// Phases of the whole run: two per layer.
pub fn phases() -> usize {
    LAYERS.len() * 2
}

/// Phases done before (and including the start of) `p`'s.
pub fn phase_index(p: &Progress) -> usize {
    let phase = match p.phase {
        Phase::PatchMatch => 0,
        Phase::Reconstruction => 1,
    };
    (p.level.saturating_sub(1)) * 2 + phase
}

pub fn summary(p: &Progress) -> Summary {
    let mut s = Summary::counted(KIND, phase_index(p), phases(), 0.0);
    s.title = format!("{} {} {}/{}", p.layer, p.phase, p.iteration, p.of);
    s
}

/// The checked inputs A and B′, with absolute paths written back.
pub fn inputs(spec: &mut Spec, names: [Option<String>; 2]) -> Result<Vec<Input>, Error> {
    let [na, nb] = names;
    let a = Input::checked(Role::A, na, &spec.a, spec.pixel_limit)?;
    let b = Input::checked(Role::BPrime, nb, &spec.b_prime, spec.pixel_limit)?;
    spec.a = a.path.clone();
    spec.b_prime = b.path.clone();
    Ok(vec![a, b])
}

/// An analogy's own settings (size, weight level, iterations).
pub fn params(s: &Spec) -> super::params::Params {
    super::params::Params {
        size: s.size.to_string(),
        length: s.iterations.to_string(),
        pairs: vec![
            ("size", format!("{} px", s.size)),
            ("level", s.weight_level.to_string()),
            ("iterations", s.iterations.to_string()),
            ("patchmatch", s.patchmatch_iterations.to_string()),
            ("fast", if s.fast { "yes" } else { "no" }.to_string()),
        ],
    }
}

/// What an analogy is, by its inputs' names: `analogy of a and b`.
pub fn title(name: &dyn Fn(Role) -> String) -> String {
    format!("{KIND} of {} and {}", name(Role::A), name(Role::BPrime))
}

/// `runs show`'s lines of a finished analogy.
pub fn outcome_lines(o: &Outcome) -> Vec<(&'static str, String)> {
    vec![(
        "analogy",
        format!(
            "B {}, flow {} (picture {}), {:.1} s",
            o.b, o.flow, o.flow_picture, o.timings.total
        ),
    )]
}

/// Live and History: the layer and phase it is at, then its timings, and
/// B and the A→B′ field beside A′.
pub fn view(seen: super::view::Seen<'_>) -> super::view::View {
    let mut v = super::view::View::default();
    if let Some(super::Progress::Analogy(p)) = seen.live {
        v.lines.push(format!(
            "layer {} ({}/5) · {} {}/{}",
            p.layer, p.level, p.phase, p.iteration, p.of
        ));
    }
    if let Some(super::Outcome::Analogy(o)) = seen.outcome {
        v.lines.push(format!(
            "PatchMatch {:.1} s · reconstruction {:.1} s · total {:.1} s · identity {:.0}%",
            o.timings.patchmatch,
            o.timings.reconstruction,
            o.timings.total,
            o.identity_share * 100.0
        ));
        v.extra_images = vec![
            (" B ", o.b.clone().into()),
            (" A→B′ field ", o.flow_picture.clone().into()),
        ];
    }
    v
}
