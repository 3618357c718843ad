//! A run's row as any backend reads it, turned into a [`Run`] in one place.

use std::path::PathBuf;

use crate::jobs::{Job, Outcome};
use crate::queue::run::{DeviceDefaults, Input, Run, StoredJob, UnknownJob};

/// The stored columns of a run, as text and numbers.
#[derive(Clone, Debug, Default)]
pub struct RunRecord {
    pub id: i64,
    pub created: f64,
    pub status: String,
    pub priority: i64,
    pub kind: String,
    pub spec: String,
    pub inputs: String,
    pub output: Option<String>,
    pub device: Option<String>,
    pub worker: Option<String>,
    pub started: Option<f64>,
    pub finished: Option<f64>,
    pub heartbeat: Option<f64>,
    pub outcome: Option<String>,
    pub error: Option<String>,
    pub cancel_requested: bool,
    pub attempts: i64,
    pub resume_from: Option<String>,
    pub resume_step: Option<i64>,
    pub crashes: i64,
    pub device_kind: Option<String>,
    pub device_defaults: Option<String>,
}

impl RunRecord {
    /// The run; a spec or inputs this build cannot read make an
    /// unknown-kind run (listed, never run), only an unknown status fails.
    pub fn into_run(self) -> Result<Run, String> {
        let status = self.status.parse()?;
        let inputs: Result<Vec<Input>, String> =
            serde_json::from_str(&self.inputs).map_err(|e| format!("stored inputs: {e}"));
        let parsed = Job::from_parts(&self.kind, &self.spec)
            .and_then(|job| inputs.as_ref().map(|_| job).map_err(String::clone));
        let job = match parsed {
            Ok(job) => StoredJob::Known(job),
            Err(reason) => StoredJob::Unknown(UnknownJob {
                kind: self.kind.clone(),
                spec: serde_json::from_str(&self.spec)
                    .unwrap_or(serde_json::Value::String(self.spec)),
                unreadable: reason,
            }),
        };
        let outcome = self
            .outcome
            .and_then(|o| Outcome::from_json(&self.kind, &o));
        Ok(Run {
            id: self.id,
            created: self.created,
            status,
            priority: self.priority,
            job,
            inputs: inputs.unwrap_or_default(),
            output: self.output.map(PathBuf::from),
            device: self.device,
            worker: self.worker,
            started: self.started,
            finished: self.finished,
            heartbeat: self.heartbeat,
            outcome,
            error: self.error,
            cancel_requested: self.cancel_requested,
            attempts: self.attempts,
            resume_from: self.resume_from.map(PathBuf::from),
            resume_step: self.resume_step,
            crashes: self.crashes,
            device_kind: self.device_kind,
            device_defaults: DeviceDefaults::from_column(self.device_defaults.as_deref()),
        })
    }
}
