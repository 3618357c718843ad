//! The engine: image io, VGG19 features, losses, optimizers and the transfer
//! loop. It knows nothing of storage, watchers or screens.

pub mod analogy;
pub mod arbitrary;
pub mod fast;
pub mod gatys;
pub mod infra;
pub mod motion;
pub mod nets;
pub mod optim;
pub mod video;

pub use infra::error::{Error, Result};
