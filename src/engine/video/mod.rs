//! Video: frames in and out through the ffmpeg command line, and what keeps
//! consecutive stylized frames steady (Ruder et al. 2016): the temporal loss
//! of a Gatys frame and the blend of a feed-forward frame with the previous
//! output warped by the optical flow of [`crate::engine::motion`].
//!
//! ffmpeg and ffprobe are run as programs (`std::process`); without them a
//! video is refused in one line, and a folder of frames still works.

pub mod clip;
pub mod decode;
pub mod encode;
pub mod estimate;
pub mod temporal;
pub mod tools;

pub use clip::{Clip, ClipInfo, Rate};
pub use decode::Frames;
pub use encode::{encode, Encoding};
pub use temporal::{blend, carried, flicker, Carried};
