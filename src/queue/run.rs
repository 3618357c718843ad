//! A run as the store keeps it: its job (kind and spec), inputs, status and
//! results.

use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::engine::gatys::spec::RunSpec;
use crate::jobs::{Job, Outcome, Progress, Role, Summary};

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

pub use crate::jobs::stylize::FinalLosses;
pub use crate::jobs::Input;

/// A run's job as stored: one this build can run, or one it cannot read (a
/// kind from a newer atelier, a damaged spec), which is still listed.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)] // one per run row; boxing buys nothing here
pub enum StoredJob {
    Known(Job),
    Unknown(UnknownJob),
}

/// A stored job this build cannot parse: kept as it is, with the reason.
#[derive(Clone, Debug, Serialize)]
pub struct UnknownJob {
    pub kind: String,
    pub spec: serde_json::Value,
    pub unreadable: String,
}

impl StoredJob {
    pub fn kind(&self) -> &str {
        match self {
            StoredJob::Known(j) => j.kind(),
            StoredJob::Unknown(u) => &u.kind,
        }
    }
}

impl Run {
    /// One line for a run a worker starts: id, kind, inputs and shape.
    pub fn started_line(&self) -> String {
        format!("run {}: started ({})", self.id, self.describe())
    }

    /// What the run does, in a few words: `chelsea × irises, 64 px, 12 steps`,
    /// `texture of irises, 64 px, 12 steps`.
    pub fn describe(&self) -> String {
        match &self.job {
            StoredJob::Known(j) => j.describe(&|role| self.input_name(role)),
            StoredJob::Unknown(u) => format!("{} (not readable by this build)", u.kind),
        }
    }

    /// Short name of an input for display: its library name, else its file stem.
    pub fn input_name(&self, role: Role) -> String {
        self.inputs
            .iter()
            .find(|i| i.role == role)
            .map(Input::display_name)
            .unwrap_or_default()
    }

    pub fn kind(&self) -> &str {
        self.job.kind()
    }

    /// The job, when this build can read it.
    pub fn job(&self) -> Option<&Job> {
        match &self.job {
            StoredJob::Known(j) => Some(j),
            StoredJob::Unknown(_) => None,
        }
    }

    /// The optimisation parameters of a Gatys kind (stylize, texture).
    pub fn spec(&self) -> Option<&RunSpec> {
        self.job().and_then(Job::gatys)
    }

    /// The optimisation parameters for display: [`Run::spec`], or the
    /// defaults for a run without any (an unknown kind), so a list can show
    /// every row.
    pub fn params(&self) -> &RunSpec {
        static DEFAULT: std::sync::LazyLock<RunSpec> = std::sync::LazyLock::new(RunSpec::default);
        self.spec().unwrap_or(&DEFAULT)
    }

    /// The run's own parameters for display (`None`: a kind this build
    /// cannot read).
    pub fn job_params(&self) -> Option<crate::jobs::Params> {
        self.job().map(crate::jobs::Job::params)
    }

    /// The final total loss of a finished run of a kind that has one
    /// (stylize, texture, train): what the lists' loss column shows.
    pub fn final_loss(&self) -> Option<f64> {
        let h = self.outcome.as_ref()?.headline();
        (h.label == "total" && h.value.is_finite()).then_some(h.value)
    }

    /// Final losses of a finished Gatys-kind run.
    pub fn losses(&self) -> Option<FinalLosses> {
        self.outcome
            .as_ref()
            .and_then(|o| o.gatys())
            .map(|o| o.losses)
    }

    /// Evaluations of a finished Gatys-kind run.
    pub fn evals(&self) -> Option<i64> {
        self.outcome
            .as_ref()
            .and_then(|o| o.gatys())
            .map(|o| o.evals)
    }

    /// The generic view of the run, with its latest progress if running.
    pub fn summary(&self, progress: Option<&Progress>) -> Summary {
        let title = self.describe();
        match (progress, self.job()) {
            (Some(p), _) => Summary::from(p).with_title(title),
            (None, Some(j)) => {
                let done = self.evals().unwrap_or(0).max(0) as usize;
                let s = Summary::counted(j.kind(), done, j.budget(), 0.0).with_title(title);
                match self.outcome.as_ref().map(Outcome::headline) {
                    Some(h) => s.with_headline(h),
                    None => s,
                }
            }
            (None, None) => Summary::counted("unknown", 0, 0, 0.0).with_title(title),
        }
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
    /// Serialised as `kind` and `spec` beside the other fields.
    #[serde(flatten)]
    pub job: StoredJob,
    pub inputs: Vec<Input>,
    pub output: Option<PathBuf>,
    pub device: Option<String>,
    pub worker: Option<String>,
    pub started: Option<f64>,
    pub finished: Option<f64>,
    pub heartbeat: Option<f64>,
    /// The kind's outcome of a finished run.
    pub outcome: Option<Outcome>,
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub attempts: i64,
    /// A snapshot or checkpoint to resume from when the run is taken up again.
    pub resume_from: Option<PathBuf>,
    /// Steps already done before `resume_from` was written.
    pub resume_step: Option<i64>,
    /// How many times the run's worker died while running it.
    pub crashes: i64,
    /// The kind of device the run asks for (`cpu`, `cuda`; `None`: any).
    pub device_kind: Option<String>,
    /// The spec fields the worker fills with its device's defaults.
    pub device_defaults: DeviceDefaults,
}

/// Which of a Gatys run's parameters come from the worker's device
/// (`queue add` was not given them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceDefaults {
    pub size: bool,
    pub steps: bool,
}

impl DeviceDefaults {
    /// The column's text: `size,steps`, `size`, `steps`; `None` when neither.
    pub fn to_column(self) -> Option<String> {
        let names: Vec<&str> = [(self.size, "size"), (self.steps, "steps")]
            .into_iter()
            .filter_map(|(on, n)| on.then_some(n))
            .collect();
        (!names.is_empty()).then(|| names.join(","))
    }

    pub fn from_column(s: Option<&str>) -> Self {
        let has = |n: &str| s.is_some_and(|s| s.split(',').any(|x| x.trim() == n));
        DeviceDefaults {
            size: has("size"),
            steps: has("steps"),
        }
    }

    pub fn any(self) -> bool {
        self.size || self.steps
    }
}

/// One evaluation's losses of a Gatys-kind run: its series side by side
/// (what the Live chart and `runs export` read).
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

/// One value of one series of a run at one step, as the store keeps them: a
/// kind records whatever series it has.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub step: i64,
    pub series: String,
    pub value: f64,
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
