//! Shared infrastructure of every method: errors, the device and its memory, image
//! input and output, the library of images, progress reporting.

pub mod cudart;
pub mod device;
pub mod error;
pub mod flow;
pub mod image_io;
pub mod input;
pub mod label_map;
pub mod library;
pub mod mask;
pub mod memory;
pub mod mix_weights;
pub mod output;
pub mod pth;
pub mod sink;
