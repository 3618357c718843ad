//! A transfer's loss samples kept up to date incrementally: a view polling a
//! long run (100 000 steps of a training run) reads only the steps it has not
//! seen, and reloads only when the run was taken up again (a resumed attempt
//! rewrites the steps after its resume point).

use super::error::StoreResult;
use super::run::{Point, Sample};
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
            let new = pivot_losses(&store.samples_since(run, after)?);
            self.samples.extend(new);
        }
        Ok(&self.samples)
    }
}

/// A transfer's four loss series side by side, per step.
pub(crate) fn pivot_losses(points: &[Point]) -> Vec<Sample> {
    let mut out: Vec<Sample> = Vec::new();
    let mut seen = [false; 4];
    let mut cur: Option<Sample> = None;
    let flush = |cur: &mut Option<Sample>, seen: &mut [bool; 4], out: &mut Vec<Sample>| {
        if let Some(s) = cur.take() {
            if seen.iter().all(|b| *b) {
                out.push(s);
            }
        }
        *seen = [false; 4];
    };
    for p in points {
        if cur.is_some_and(|c| c.eval != p.step) {
            flush(&mut cur, &mut seen, &mut out);
        }
        let s = cur.get_or_insert(Sample {
            eval: p.step,
            style: 0.0,
            content: 0.0,
            tv: 0.0,
            total: 0.0,
            seconds: p.seconds,
        });
        let slot = match p.series.as_str() {
            "style" => (&mut s.style, 0),
            "content" => (&mut s.content, 1),
            "tv" => (&mut s.tv, 2),
            "total" => (&mut s.total, 3),
            _ => continue,
        };
        *slot.0 = p.value;
        seen[slot.1] = true;
    }
    flush(&mut cur, &mut seen, &mut out);
    out
}
