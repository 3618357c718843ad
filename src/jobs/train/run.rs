//! How a `train` job runs: the engine's training loop from the run's
//! checkpoint when it has one. Saving the model is the caller's (the worker
//! saves into the user's library, `atelier train` where `-o` says). The
//! worker and `atelier train` call it with their own sink.

use std::path::Path;

use super::{Progress, Resume};
use crate::engine::fast::train::{train, TrainOutcome, TrainSpec};
use crate::engine::infra::sink::Sink;
use crate::engine::nets::vgg::Vgg19;
use crate::engine::Error;

/// Trains `spec` on `vgg`, writing checkpoints to `checkpoint`, continuing
/// from `resume`. A stop asked at a checkpoint ends the training there,
/// with no model.
pub fn run(
    spec: &TrainSpec,
    vgg: &Vgg19,
    checkpoint: &Path,
    resume: Option<&Resume>,
    sink: &mut dyn Sink<Progress>,
) -> Result<TrainOutcome, Error> {
    let outcome = train(spec, vgg, checkpoint, resume, sink)?;
    sink.finish()?;
    Ok(outcome)
}
