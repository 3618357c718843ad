//! The history: every run, its samples, checkpoints and rollbacks.

use std::path::PathBuf;

use crate::queue::error::{StoreError, StoreResult};
use crate::queue::rollbacks::RollbackRecord;
use crate::queue::run::{Point, Run, Status};

/// Which runs to list, in which order, and which page of them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    pub statuses: Vec<Status>,
    /// Substring of a style input's path.
    pub style: Option<String>,
    /// What a person searches runs by (ASCII case-insensitive): a substring
    /// of the kind, the status, an input's name (else its file name), the
    /// output's file name or the error; or the run's id (`12` or `#12`).
    pub text: Option<String>,
    pub order: Order,
    /// Matching runs to skip before the first listed (a later page).
    pub offset: usize,
    pub limit: Option<usize>,
}

/// The order runs are listed in; newest first within equals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    #[default]
    Newest,
    /// Lowest final loss first; runs without one last.
    Loss,
    /// By status name.
    Status,
}

impl Filter {
    /// Whether `run` passes the status, style and text parts (not the page).
    pub fn matches(&self, run: &Run) -> bool {
        if !self.statuses.is_empty() && !self.statuses.contains(&run.status) {
            return false;
        }
        let style = self.style.as_ref().is_none_or(|s| {
            let s = s.to_lowercase();
            run.inputs.iter().any(|i| {
                i.role == crate::jobs::Role::Style
                    && i.path.to_string_lossy().to_lowercase().contains(&s)
            })
        });
        style && self.text.as_deref().is_none_or(|t| text_matches(run, t))
    }

    /// `runs` (newest first) as this filter lists them: matching, in its
    /// order, its page. For a backend that filters after reading.
    pub fn apply(&self, runs: &[Run]) -> Vec<Run> {
        self.arrange(runs)
            .into_iter()
            .skip(self.offset)
            .take(self.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    /// The runs of `runs` (newest first) that match, in this filter's order
    /// (its page aside).
    pub fn arrange<'a>(&self, runs: impl IntoIterator<Item = &'a Run>) -> Vec<&'a Run> {
        let mut v: Vec<&Run> = runs.into_iter().filter(|r| self.matches(r)).collect();
        self.sort(&mut v);
        v
    }

    /// Sorts runs given newest first into this filter's order (stable: ties
    /// stay newest first).
    fn sort<R: std::borrow::Borrow<Run>>(&self, v: &mut [R]) {
        match self.order {
            Order::Newest => {}
            Order::Loss => v.sort_by(|a, b| {
                let key = |r: &Run| r.final_loss().unwrap_or(f64::INFINITY);
                key(a.borrow()).total_cmp(&key(b.borrow()))
            }),
            Order::Status => v.sort_by_key(|r| r.borrow().status.as_str()),
        }
    }
}

/// The text search of [`Filter::text`].
fn text_matches(r: &Run, text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    let has = |s: &str| s.to_ascii_lowercase().contains(&t);
    let file_name = |p: &std::path::Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    has(r.kind())
        || has(r.status.as_str())
        || r.id.to_string() == t.trim_start_matches('#')
        || r.inputs.iter().any(|i| match &i.name {
            Some(n) => has(n),
            None => has(&file_name(&i.path)),
        })
        || r.output.as_deref().is_some_and(|o| has(&file_name(o)))
        || r.error.as_deref().is_some_and(has)
}

impl Filter {
    /// The runs of `runs` (newest first) that pass, in this filter's order
    /// and page: a backend gives the rows it selected, the rest is done here
    /// once. Newest first, it stops reading at the end of the page.
    pub(crate) fn take(
        &self,
        runs: impl IntoIterator<Item = StoreResult<Run>>,
    ) -> StoreResult<Vec<Run>> {
        let enough = match self.order {
            Order::Newest => self.limit.map(|l| l.saturating_add(self.offset)),
            _ => None,
        };
        let mut out = Vec::new();
        for run in runs {
            let run = run?;
            if !self.matches(&run) {
                continue;
            }
            out.push(run);
            if enough.is_some_and(|n| out.len() >= n) {
                break;
            }
        }
        self.sort(&mut out);
        Ok(out
            .into_iter()
            .skip(self.offset)
            .take(self.limit.unwrap_or(usize::MAX))
            .collect())
    }
}

/// A checkpoint a run wrote (or its latest snapshot, for image-state kinds).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Checkpoint {
    pub step: i64,
    pub path: PathBuf,
    pub created: f64,
}

pub trait HistoryStore {
    fn get(&self, run: i64) -> StoreResult<Run>;

    /// Runs matching `filter`, in its order, its page (`offset`, `limit`).
    fn list(&self, filter: &Filter) -> StoreResult<Vec<Run>>;

    /// How many runs match `filter` (its page aside).
    fn count(&self, filter: &Filter) -> StoreResult<usize> {
        let all = Filter {
            offset: 0,
            limit: None,
            ..filter.clone()
        };
        Ok(self.list(&all)?.len())
    }

    /// Records samples of any series at once (a resumed attempt's replace
    /// those with the same step and series).
    fn add_points(&self, run: i64, points: &[Point]) -> StoreResult<()>;

    /// Samples after step `after_step`, in step then series order.
    fn points_since(&self, run: i64, after_step: i64) -> StoreResult<Vec<Point>>;

    /// A run's checkpoints, oldest first.
    fn checkpoints(&self, run: i64) -> StoreResult<Vec<Checkpoint>>;

    /// Records rollbacks at once (a resumed attempt's replace one with the
    /// same evaluation).
    fn add_rollbacks(&self, run: i64, rollbacks: &[RollbackRecord]) -> StoreResult<()>;

    /// A run's rollbacks, in evaluation order.
    fn rollbacks(&self, run: i64) -> StoreResult<Vec<RollbackRecord>>;

    /// Deletes a run that is not running, with everything recorded of it;
    /// a running one is refused (`WrongStatus`).
    fn delete(&self, run: i64) -> StoreResult<()>;
}

/// The error of [`HistoryStore::delete`] for a run it did not delete,
/// whose status is now `status`.
pub(crate) fn not_deleted(run: i64, status: Status) -> StoreError {
    match status {
        Status::Running => StoreError::WrongStatus {
            id: run,
            status: status.to_string(),
            what: "cancel it first".into(),
        },
        // Deleted by another process meanwhile.
        _ => StoreError::NoSuchRun(run),
    }
}
