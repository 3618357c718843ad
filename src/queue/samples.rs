//! A transfer's loss samples kept up to date incrementally: a view polling a
//! long run (100 000 steps of a training run) reads only the steps it has not
//! seen, and reloads only when the run was taken up again (a resumed attempt
//! rewrites the steps after its resume point).

use super::error::StoreResult;
use super::run::Sample;
use super::store::Store;

#[derive(Debug, Default)]
pub struct LossCache {
    /// The run and attempt the samples are of.
    key: Option<(i64, i64)>,
    samples: Vec<Sample>,
}

impl LossCache {
    /// The samples of `run` (whose attempt number is `attempts`), reading
    /// only what is new since the last call.
    pub fn refresh(&mut self, store: &Store, run: i64, attempts: i64) -> StoreResult<&[Sample]> {
        if self.key != Some((run, attempts)) {
            self.key = Some((run, attempts));
            self.samples = store.samples(run)?;
        } else {
            let after = self.samples.last().map_or(i64::MIN, |s| s.eval);
            let new = super::store::pivot_losses(&store.samples_since(run, after)?);
            self.samples.extend(new);
        }
        Ok(&self.samples)
    }
}
