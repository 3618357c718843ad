//! Deep Image Analogy (Liao, Yao, Yuan, Hua & Kang, "Visual attribute transfer
//! through deep image analogy", SIGGRAPH 2017), after the official
//! msracver/Deep-Image-Analogy: dense correspondences between A and B′ found
//! coarse to fine on VGG19 features by a bidirectional PatchMatch, giving A′
//! (A's structure, B′'s appearance) and B (B′'s structure, A's appearance).
//!
//! The job kind's parts: [`AnalogySpec`] in, [`AnalogyProgress`] while it
//! runs (through the one [`crate::engine::infra::sink::Sink`], which can stop it), [`AnalogyOutcome`]
//! (the files written) out.

pub mod features;
pub mod nnf;
mod output;
pub mod patchmatch;
mod pipeline;
mod progress;
pub mod reconstruct;
mod spec;
pub mod vote;

pub use nnf::{Nnf, FLO_FORMAT};
pub use output::{contact_sheet, output_paths, write, OutputPaths};
pub use pipeline::{run, working_images, Analogy, IMAGE_PATCH, LAYERS, PATCH, RADIUS};
pub use progress::{AnalogyOutcome, AnalogyProgress, Phase, Timings};
pub use spec::{AnalogySpec, MAX_SIZE, MIN_SIZE};
