//! Motion between video frames: optical flow, warping an image by a flow,
//! and where a flow can be trusted. Used by video stylization to keep
//! consecutive frames steady (Ruder et al. 2016).
//!
//! Conventions, shared by every function here: images are `1×C×H×W` float
//! tensors (any device); a flow is `1×2×H×W` in pixels, channel 0 = dx,
//! channel 1 = dy; the flow `f` from `a` to `b` satisfies
//! `a(x) ≈ b(x + f(x))`, so `warp(b, f) ≈ a`.

pub mod consistency;
pub mod epe;
pub mod estimate;
mod filters;
mod tvl1;
pub mod warp;

pub use consistency::reliable;
pub use epe::end_point_error;
pub use estimate::{estimate, estimate_from, FlowOptions};
pub use warp::{lands_inside, warp};
