//! What an analogy run needs, as the queue will store it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::image_io::DEFAULT_PIXEL_LIMIT;

/// One Deep Image Analogy: A (structure) and B′ (appearance) in, A′ and B out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalogySpec {
    pub a: PathBuf,
    pub b_prime: PathBuf,
    /// Longer side of both working images, px (each keeps its aspect).
    pub size: u32,
    /// How much of A's own features A′ keeps per layer: 1, 2 or 3 (the
    /// official levels; 3 keeps the most structure).
    pub weight_level: u8,
    /// L-BFGS iterations per reconstruction.
    pub iterations: usize,
    /// PatchMatch iterations per layer and direction.
    pub patchmatch_iterations: usize,
    /// Skip the reconstruction optimisation: warp the next layer's features
    /// directly (much faster, blurrier correspondences).
    pub fast: bool,
    pub seed: u64,
    pub pixel_limit: u64,
}

impl Default for AnalogySpec {
    fn default() -> Self {
        Self {
            a: PathBuf::new(),
            b_prime: PathBuf::new(),
            size: 224,
            weight_level: 2,
            iterations: 100,
            patchmatch_iterations: 10,
            fast: false,
            seed: 0,
            pixel_limit: DEFAULT_PIXEL_LIMIT,
        }
    }
}

/// Smallest working size: relu5_1 is 1/16 of the image, and it needs a few
/// positions to match.
pub const MIN_SIZE: u32 = 32;
/// Largest working size (the official code allows 700 px per side).
pub const MAX_SIZE: u32 = 1024;

impl AnalogySpec {
    pub fn validate(&self) -> Result<()> {
        if !(MIN_SIZE..=MAX_SIZE).contains(&self.size) {
            return Err(Error::invalid(
                "size",
                format!("{} (use {MIN_SIZE} to {MAX_SIZE} px)", self.size),
            ));
        }
        if !(1..=3).contains(&self.weight_level) {
            return Err(Error::invalid(
                "weight level",
                format!("{} (use 1, 2 or 3)", self.weight_level),
            ));
        }
        if self.iterations == 0 && !self.fast {
            return Err(Error::invalid(
                "iterations",
                "0 (at least 1, or --fast to skip the reconstruction)",
            ));
        }
        if self.patchmatch_iterations == 0 {
            return Err(Error::invalid("patchmatch iterations", "0 (at least 1)"));
        }
        Ok(())
    }

    /// Blend weights of A's (and B′'s) own features, relu5_1 … relu1_1, as the
    /// official `weightLevel`.
    pub fn blend_weights(&self) -> [f64; 5] {
        match self.weight_level {
            1 => [1.0, 0.7, 0.6, 0.5, 0.0],
            2 => [1.0, 0.8, 0.7, 0.6, 0.1],
            _ => [1.0, 0.9, 0.8, 0.7, 0.2],
        }
    }
}
