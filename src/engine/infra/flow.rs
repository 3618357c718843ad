//! Whether long work should go on: the answer every observer of a loop (an
//! optimisation, a training run, an analogy) gives after each step. It lives
//! apart from any one loop so optimisers and training loops share it.

use crate::engine::infra::error::{Error, Result};

/// Whether the work should go on after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

impl Flow {
    /// [`Error::Cancelled`] on a stop, so a loop ends with `?` right where
    /// its sink asked it to, before anything further is written.
    pub fn or_cancel(self) -> Result<()> {
        match self {
            Flow::Continue => Ok(()),
            Flow::Stop => Err(Error::Cancelled),
        }
    }
}
