//! Whether an image file is complete: the check lives in the engine's input
//! check (the image loader uses it), re-exported here for the watcher.

pub use crate::engine::infra::input::check_complete;
