//! The networks and losses every method builds on: VGG19 and its weights, the
//! Gram and content losses, colour handling.

pub mod color;
pub mod losses;
pub mod vgg;
pub mod weights;
