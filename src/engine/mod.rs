//! The engine: image io, VGG19 features, losses, optimizers and the transfer
//! loop. It knows nothing of storage, watchers or screens.

pub mod analogy;
pub mod arbitrary;
pub mod color;
pub mod cudart;
pub mod device;
pub mod error;
pub mod fast;
pub mod flow;
pub mod image_io;
pub mod input;
pub mod library;
pub mod losses;
pub mod memory;
pub mod mix_weights;
pub mod mrf;
pub mod optim;
pub mod output;
pub mod pth;
pub mod pyramid;
pub mod sink;
pub mod spec;
pub mod tiling;
pub mod transfer;
pub mod vgg;
pub mod weights;

pub use error::{Error, Result};
