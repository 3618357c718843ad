//! A run as the store keeps it: its spec, inputs, status and results.

use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::engine::spec::RunSpec;

/// Life cycle: queued → running → done | failed | cancelled | interrupted.
/// An interrupted run (its worker died) can be queued again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
    Interrupted,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Queued,
        Status::Running,
        Status::Done,
        Status::Failed,
        Status::Cancelled,
        Status::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::Interrupted => "interrupted",
        }
    }

    /// Whether the run has ended for good.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Done | Status::Failed | Status::Cancelled)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                format!("unknown status '{s}' (use queued, running, done, failed, cancelled or interrupted)")
            })
    }
}

/// An input file with the sha256 of its contents when the run was queued.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Input {
    pub role: String,
    /// The library name the user gave (e.g. `wheat-field-with-cypresses`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub path: PathBuf,
    pub sha256: String,
}

/// Final losses of a finished run (those of the image written).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FinalLosses {
    pub style: f64,
    pub content: f64,
    pub tv: f64,
    pub total: f64,
}

impl Input {
    /// Short name for display: its library name, else its file stem.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| {
            self.path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
    }
}

impl Run {
    /// One line for a run a worker starts: id, inputs, size and steps.
    pub fn started_line(&self) -> String {
        format!(
            "run {}: started ({} × {}, {} px, {} steps)",
            self.id,
            self.input_name("content"),
            self.input_name("style"),
            self.spec.size,
            self.spec.steps
        )
    }

    /// Short name of an input for display: its library name, else its file stem.
    pub fn input_name(&self, role: &str) -> String {
        self.inputs
            .iter()
            .find(|i| i.role == role)
            .map(Input::display_name)
            .unwrap_or_default()
    }
}

/// One row of the runs table.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    pub id: i64,
    /// Unix seconds.
    pub created: f64,
    pub status: Status,
    pub priority: i64,
    pub spec: RunSpec,
    pub inputs: Vec<Input>,
    pub output: Option<PathBuf>,
    pub device: Option<String>,
    pub worker: Option<String>,
    pub started: Option<f64>,
    pub finished: Option<f64>,
    pub heartbeat: Option<f64>,
    pub evals: Option<i64>,
    pub best_eval: Option<i64>,
    pub stop: Option<String>,
    pub losses: Option<FinalLosses>,
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub attempts: i64,
    /// A snapshot to resume from when the run is taken up again.
    pub resume_from: Option<PathBuf>,
    /// Evaluations already done before `resume_from` was written.
    pub resume_eval: Option<i64>,
}

/// One loss sample of a run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub eval: i64,
    pub style: f64,
    pub content: f64,
    pub tv: f64,
    pub total: f64,
    /// Seconds since the run (this attempt) started.
    pub seconds: f64,
}

/// Unix time now, in seconds.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `YYYY-MM-DD HH:MM` (UTC) for a unix time.
pub fn format_time(t: f64) -> String {
    let secs = t as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_dates() {
        assert_eq!(format_time(0.0), "1970-01-01 00:00");
        assert_eq!(format_time(1_795_000_000.0), "2026-11-18 11:06");
    }

    #[test]
    fn statuses_parse() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
        }
        assert!("finished".parse::<Status>().is_err());
    }
}
