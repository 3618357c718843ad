//! What an analogy reports while it runs, and what it leaves behind.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::engine::nets::vgg::Layer;

/// The two phases of each layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    PatchMatch,
    Reconstruction,
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Phase::PatchMatch => "PatchMatch",
            Phase::Reconstruction => "reconstruction",
        })
    }
}

/// One step of an analogy: at `layer` (the `level`-th of 5, relu5_1 first),
/// in `phase`, step `iteration` of `of`. PatchMatch counts its iterations over
/// both directions (A→B′ then B′→A); reconstruction counts L-BFGS evaluations
/// of both sides (A′ then B), each side at most `max_eval` of them (the
/// optimiser usually stops earlier, so `of` is a bound).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalogyProgress {
    pub layer: Layer,
    pub level: usize,
    pub phase: Phase,
    pub iteration: usize,
    pub of: usize,
}

/// Seconds spent, split as the benchmark reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timings {
    pub patchmatch: f64,
    pub reconstruction: f64,
    pub total: f64,
}

impl Timings {
    /// Everything else: features, blending, voting, upsampling.
    pub fn rest(&self) -> f64 {
        (self.total - self.patchmatch - self.reconstruction).max(0.0)
    }
}

/// The files an analogy wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalogyOutcome {
    /// A′: A's structure with B′'s appearance.
    pub a_prime: PathBuf,
    /// B: B′'s structure with A's appearance.
    pub b: PathBuf,
    /// The A→B′ field (`.flo`) and its picture.
    pub flow_ab: PathBuf,
    pub flow_ab_picture: PathBuf,
    /// The B′→A field and its picture.
    pub flow_ba: PathBuf,
    pub flow_ba_picture: PathBuf,
    pub timings: Timings,
}
