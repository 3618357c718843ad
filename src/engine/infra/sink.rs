//! Where long work (an optimisation, a training run, an analogy) reports as it
//! goes: one sink for every kind of work, as ripgrep's `Sink`. Each call's
//! return value carries the caller's answer: `Ok(Flow::Stop)` stops the work
//! (it then returns [`crate::engine::Error::Cancelled`] and writes nothing), an error
//! ends it with that error.

use std::path::Path;

use tch::Tensor;

use crate::engine::infra::error::Result;
use crate::engine::infra::flow::Flow;

/// Receives the progress `P` of one kind of work (the kind's own progress
/// type), preview images, checkpoints and the end.
pub trait Sink<P> {
    /// After every step (an evaluation, a training batch).
    fn progress(&mut self, progress: &P) -> Result<Flow>;
    /// Every how many steps [`Sink::preview`] is called (0: never).
    fn preview_every(&self) -> usize {
        0
    }
    /// The current result after step `step`, as the output would be
    /// (`[1, 3, H, W]` in [0, 1] on the CPU). For work whose state is its image
    /// (stylize, texture) this is also what a resumed run starts from.
    fn preview(&mut self, _step: usize, _image: &Tensor) -> Result<Flow> {
        Ok(Flow::Continue)
    }
    /// The work wrote a checkpoint it can resume from (training kinds).
    fn checkpoint(&mut self, _step: usize, _path: &Path) -> Result<Flow> {
        Ok(Flow::Continue)
    }
    /// The work is done and about to return its result: a last chance to
    /// flush what was buffered.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A closure over each step as a sink that takes no previews or checkpoints:
/// `&mut Each(|p: &P| Flow::Continue)`.
pub struct Each<F>(pub F);

impl<P, F: FnMut(&P) -> Flow> Sink<P> for Each<F> {
    fn progress(&mut self, p: &P) -> Result<Flow> {
        Ok((self.0)(p))
    }
}
