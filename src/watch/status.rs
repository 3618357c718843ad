//! What the watcher tells the outside: events as they happen, and a shared
//! handle with each rule's state, counts, recent failures and recent events,
//! which a front end (the CLI now, the TUI's watch pane later) reads and
//! through which it can switch rules on and off.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use crate::queue::run::now;
use crate::queue::{RuleCounts, WatchFailure};

/// Something that happened to a rule.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WatchEvent {
    /// The rule is watching (with the backend actually used).
    Watching {
        rule: String,
        inbox: PathBuf,
        backend: String,
        note: Option<String>,
    },
    Stopped {
        rule: String,
    },
    /// The rule is paused (from a front end; kept in the database): files
    /// arriving meanwhile are taken when it is resumed.
    Paused {
        rule: String,
    },
    Queued {
        rule: String,
        path: PathBuf,
        runs: Vec<i64>,
    },
    /// Content the rule already has (under this or another name).
    Duplicate {
        rule: String,
        path: PathBuf,
        of: PathBuf,
    },
    /// An input that will not be processed, and why.
    Failed {
        rule: String,
        path: PathBuf,
        reason: String,
    },
    Delivered {
        rule: String,
        run: i64,
        path: PathBuf,
    },
    /// A run whose result will not come (failed, cancelled, deleted).
    OutputFailed {
        rule: String,
        run: i64,
        reason: String,
    },
    Moved {
        rule: String,
        from: PathBuf,
        to: PathBuf,
    },
    /// The rule's model file was replaced: later arrivals use the new one,
    /// and arrivals that failed because of the change are queued again.
    ModelChanged {
        rule: String,
        model: PathBuf,
        sha256: String,
    },
    /// Trouble with the rule itself (watcher errors, a vanished inbox).
    Error {
        rule: String,
        message: String,
    },
}

impl WatchEvent {
    pub fn rule(&self) -> &str {
        match self {
            WatchEvent::Watching { rule, .. }
            | WatchEvent::Stopped { rule }
            | WatchEvent::Paused { rule }
            | WatchEvent::Queued { rule, .. }
            | WatchEvent::Duplicate { rule, .. }
            | WatchEvent::Failed { rule, .. }
            | WatchEvent::Delivered { rule, .. }
            | WatchEvent::OutputFailed { rule, .. }
            | WatchEvent::Moved { rule, .. }
            | WatchEvent::ModelChanged { rule, .. }
            | WatchEvent::Error { rule, .. } => rule,
        }
    }
}

impl std::fmt::Display for WatchEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WatchEvent::Watching {
                rule,
                inbox,
                backend,
                note,
            } => {
                write!(f, "[{rule}] watching {} ({backend})", inbox.display())?;
                if let Some(n) = note {
                    write!(f, ": {n}")?;
                }
                Ok(())
            }
            WatchEvent::Stopped { rule } => write!(f, "[{rule}] stopped"),
            WatchEvent::Paused { rule } => write!(f, "[{rule}] paused"),
            WatchEvent::Queued { rule, path, runs } => {
                write!(f, "[{rule}] {}: queued runs {runs:?}", path.display())
            }
            WatchEvent::Duplicate { rule, path, of } => write!(
                f,
                "[{rule}] {}: same content as {}, already taken",
                path.display(),
                of.display()
            ),
            WatchEvent::Failed { rule, path, reason } => {
                write!(f, "[{rule}] {}: failed: {reason}", path.display())
            }
            WatchEvent::Delivered { rule, run, path } => {
                write!(f, "[{rule}] run {run}: wrote {}", path.display())
            }
            WatchEvent::OutputFailed { rule, run, reason } => {
                write!(f, "[{rule}] run {run}: no output: {reason}")
            }
            WatchEvent::Moved { rule, from, to } => {
                write!(f, "[{rule}] moved {} to {}", from.display(), to.display())
            }
            WatchEvent::ModelChanged {
                rule,
                model,
                sha256,
            } => write!(
                f,
                "[{rule}] model {} changed: read again (sha256 {}…)",
                model.display(),
                &sha256[..12.min(sha256.len())]
            ),
            WatchEvent::Error { rule, message } => write!(f, "[{rule}] error: {message}"),
        }
    }
}

/// One rule as a status display shows it.
#[derive(Clone, Debug, Serialize)]
pub struct RuleState {
    pub name: String,
    pub inbox: PathBuf,
    pub output: PathBuf,
    pub styles: Vec<String>,
    pub preset: Option<String>,
    pub enabled: bool,
    /// Paused from a front end (the TUI's Watch pane); kept in the database.
    pub paused: bool,
    /// The backend in use ("native" or "poll"), `None` while not watching.
    pub backend: Option<String>,
    /// Files seen and waiting to settle.
    pub arriving: usize,
    pub counts: RuleCounts,
    /// Most recent failures with their reasons.
    pub failures: Vec<WatchFailure>,
    pub last_error: Option<String>,
}

/// How many events the handle keeps.
const RECENT: usize = 200;

#[derive(Debug, Default)]
struct Shared {
    rules: Vec<RuleState>,
    /// (unix seconds, event), oldest first.
    events: VecDeque<(f64, WatchEvent)>,
}

/// A cheap, clonable view of a running watcher, safe to read from another thread.
#[derive(Clone, Debug, Default)]
pub struct WatchHandle(Arc<Mutex<Shared>>);

impl WatchHandle {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic elsewhere must not take the status display down with it.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every rule's state, in config order.
    pub fn rules(&self) -> Vec<RuleState> {
        self.lock().rules.clone()
    }

    /// The most recent events (up to 200), oldest first, with unix times.
    pub fn recent_events(&self) -> Vec<(f64, WatchEvent)> {
        self.lock().events.iter().cloned().collect()
    }

    pub(super) fn set_rules(&self, rules: Vec<RuleState>) {
        self.lock().rules = rules;
    }

    pub(super) fn update(&self, name: &str, f: impl FnOnce(&mut RuleState)) {
        if let Some(r) = self.lock().rules.iter_mut().find(|r| r.name == name) {
            f(r);
        }
    }

    pub(super) fn push(&self, e: WatchEvent) {
        let mut s = self.lock();
        if let WatchEvent::Error { rule, message } = &e {
            if let Some(r) = s.rules.iter_mut().find(|r| &r.name == rule) {
                r.last_error = Some(message.clone());
            }
        }
        s.events.push_back((now(), e));
        while s.events.len() > RECENT {
            s.events.pop_front();
        }
    }
}
