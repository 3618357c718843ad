//! How an `analogy` job runs: the analogy of A and B′, then its results
//! written, A′ at the path asked and the rest beside it. The worker and
//! `atelier analogy` call it with their own sink.

use std::path::Path;

use image::RgbImage;

use super::{Progress, Spec};
use crate::engine::analogy::{self, Analogy, AnalogyOutcome};
use crate::engine::infra::sink::Sink;
use crate::engine::nets::vgg::Vgg19;
use crate::engine::Error;

/// Runs the analogy of `a` and `b_prime` (decoded from the spec's paths) on
/// `vgg` and writes its results, A′ at `out` (never over a file). A stop
/// writes nothing.
pub fn run(
    spec: &Spec,
    vgg: &Vgg19,
    (a, b_prime): (&RgbImage, &RgbImage),
    out: &Path,
    sink: &mut dyn Sink<Progress>,
) -> Result<(Analogy, AnalogyOutcome), Error> {
    let done = analogy::run(vgg, spec, a, b_prime, sink)?;
    sink.finish()?;
    let written = analogy::write(&done, spec, out)?;
    Ok((done, written))
}
