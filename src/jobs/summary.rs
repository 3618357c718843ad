//! The one view of a job's progress that generic code reads: the Queue pane,
//! the status bar, CLI progress and `runs ls` (as yazi's `TaskSummary`).

use std::time::Duration;

use serde::Serialize;

/// A job's figure worth showing in a list (a loss, an accuracy, …).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Headline {
    pub label: &'static str,
    pub value: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub kind: &'static str,
    /// Filled by whoever knows the run (its inputs); empty from progress alone.
    pub title: String,
    pub done: u64,
    pub total: u64,
    /// Steps per second.
    pub rate: Option<f64>,
    pub eta: Option<Duration>,
    pub headline: Option<Headline>,
}

impl Summary {
    /// A summary of `done` of `total` steps after `secs` seconds.
    pub fn counted(kind: &'static str, done: usize, total: usize, secs: f64) -> Summary {
        let rate = (secs > 0.0 && done > 0).then(|| done as f64 / secs);
        let eta = rate
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| Duration::from_secs_f64((total.saturating_sub(done)) as f64 / r))
            .filter(|d| d.as_secs() < 10 * 365 * 86_400);
        Summary {
            kind,
            title: String::new(),
            done: done as u64,
            total: total as u64,
            rate,
            eta,
            headline: None,
        }
    }

    pub fn with_headline(self, h: Headline) -> Summary {
        Summary {
            headline: Some(h),
            ..self
        }
    }

    pub fn with_title(self, title: String) -> Summary {
        Summary { title, ..self }
    }

    /// Done as a fraction in [0, 1].
    pub fn fraction(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            (self.done as f64 / self.total as f64).clamp(0.0, 1.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_eta_follow_the_counts() {
        let s = Summary::counted("stylize", 10, 30, 5.0);
        assert_eq!(s.rate, Some(2.0));
        assert_eq!(s.eta, Some(Duration::from_secs(10)));
        assert!((s.fraction() - 1.0 / 3.0).abs() < 1e-12);
        let none = Summary::counted("stylize", 0, 30, 0.0);
        assert_eq!((none.rate, none.eta, none.fraction()), (None, None, 0.0));
    }
}
