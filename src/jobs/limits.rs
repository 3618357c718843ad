//! The limits every front end applies to what it queues or runs, built from
//! the config at the edge (`Config::limits`): jobs never read the config.

use crate::engine::gatys::spec::MAX_SIZE;
use crate::engine::infra::image_io::DEFAULT_PIXEL_LIMIT;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// `[apply] max_size`: the longest side an apply resizes photos to.
    pub apply_max_size: u32,
    /// `[run] pixel_limit`: images with more pixels are refused unread.
    pub pixel_limit: u64,
}

impl Default for Limits {
    /// The built-in ceilings (what the config's defaults stay within).
    fn default() -> Self {
        Limits {
            apply_max_size: MAX_SIZE,
            pixel_limit: DEFAULT_PIXEL_LIMIT,
        }
    }
}
