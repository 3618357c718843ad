//! Gatys et al.: the optimisation of an image (transfer loop, run spec, the
//! multi-scale pyramid, tiling of large images, MRF patches).

pub mod guides;
pub mod mrf;
pub mod pyramid;
pub mod spec;
pub mod tiling;
pub mod transfer;
