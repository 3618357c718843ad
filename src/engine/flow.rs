//! Whether long work should go on: the answer every observer of a loop (an
//! optimisation, a training run, an analogy) gives after each step. It lives
//! apart from any one loop so optimisers and training loops share it.

/// Whether the work should go on after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}
