//! Riding out a store that is away for a while (a PostgreSQL server that
//! restarts, a network cut): the worker keeps its run and tries the same
//! call again, waiting longer each time, instead of stopping.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::sleep_unless;
use crate::queue::error::StoreResult;

/// How long the worker keeps trying a store that is away; after that the
/// error stands (its run, still running in the store, is recovered by the
/// next worker as its lease expires).
pub const PATIENCE: Duration = Duration::from_secs(600);

/// The first wait after a failed call; each next one is twice as long, up to
/// [`MAX_WAIT`].
const FIRST_WAIT: Duration = Duration::from_millis(250);
const MAX_WAIT: Duration = Duration::from_secs(5);

/// `call` until it goes through or is refused for good (any error that is
/// not the store being away), `stop` is set, or [`PATIENCE`] has passed.
/// Each change `call` makes is conditional on the run's status and owner,
/// so a retry never does twice what went through once.
pub(super) fn retrying<T>(
    stop: &AtomicBool,
    mut call: impl FnMut() -> StoreResult<T>,
) -> StoreResult<T> {
    let start = Instant::now();
    let mut wait = FIRST_WAIT;
    loop {
        match call() {
            Err(e)
                if e.is_transient()
                    && !stop.load(Ordering::SeqCst)
                    && start.elapsed() < PATIENCE =>
            {
                sleep_unless(stop, wait);
                wait = (wait * 2).min(MAX_WAIT);
            }
            r => return r,
        }
    }
}
