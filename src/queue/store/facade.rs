//! [`Store`]: what the worker, the watcher and the front ends use. It opens
//! a backend (SQLite in the data folder, or the PostgreSQL server the front
//! end chose) and does the file-system part
//! around it: run folders, ids clear of leftover folders, the liveness of a
//! worker process on this host, partial files of a crashed run.

use std::path::{Path, PathBuf};

use super::postgres::{self, PostgresBackend};
use super::sqlite::{SqliteBackend, DB_FILE};
use super::MAX_CRASHES;
use super::{Backend, Checkpoint, Claim, Filter, Finish, NewRun, OnInterrupted, WorkerInfo};
use crate::engine::gatys::spec::RunSpec;
use crate::engine::infra::device::DeviceKind;
use crate::jobs::{stylize, Job, Outcome, RunFiles};
use crate::queue::error::{StoreError, StoreResult};
use crate::queue::run::{format_time, now, DeviceDefaults, Input, Point, Run, Sample, Status};
use crate::queue::runs_fs::{self, hostname, local_pid, process_alive, remove_partial_files};
use crate::queue::samples::pivot_losses;

pub struct Store {
    pub(in crate::queue) backend: Box<dyn Backend>,
    /// Where the backend keeps its data (the SQLite file, or the server's
    /// URL without its password).
    path: PathBuf,
    data_dir: PathBuf,
    /// What [`Store::open_at`] was given, to open the same store again.
    location: Option<String>,
    /// The files this process hashed ([`Store::file_sha256`]).
    pub(super) digests: super::digests::Digests,
}

impl Store {
    /// Opens (creating if needed) the store this process chose
    /// ([`super::choose`]; by default the SQLite file in `data_dir`), its
    /// run folders in `data_dir`. A database that is not atelier's is
    /// refused and left untouched.
    pub fn open(data_dir: &Path) -> StoreResult<Self> {
        Store::open_at(data_dir, super::chosen().as_deref())
    }

    /// Opens the store at `location`: a `postgres://` URL, a SQLite file's
    /// path, or (`None`) the SQLite file in `data_dir`.
    pub fn open_at(data_dir: &Path, location: Option<&str>) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::io(data_dir, e))?;
        let mut store = if let Some(url) = location.filter(|l| postgres::is_url(l)) {
            let backend = PostgresBackend::open(url)?;
            let label = backend.label().to_path_buf();
            Store::with_backend(Box::new(backend), label, data_dir)
        } else {
            let path = location.map_or_else(|| data_dir.join(DB_FILE), PathBuf::from);
            let backend = SqliteBackend::open(&path)?;
            Store::with_backend(Box::new(backend), path, data_dir)
        };
        store.location = location.map(str::to_string);
        Ok(store)
    }

    /// Opens this store again, for a thread of its own (a store is one
    /// connection, used by one thread).
    pub(crate) fn opener(&self) -> impl Fn() -> StoreResult<Store> + Send + 'static {
        let (dir, location) = (self.data_dir.clone(), self.location.clone());
        move || match &location {
            Some(l) => Store::open_at(&dir, Some(l)),
            None => Store::open(&dir),
        }
    }

    /// A store on `backend` (found at `path`), its run folders in `data_dir`.
    pub fn with_backend(backend: Box<dyn Backend>, path: PathBuf, data_dir: &Path) -> Self {
        Store {
            backend,
            path,
            data_dir: data_dir.to_path_buf(),
            location: None,
            digests: Default::default(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The folder holding a run's files (output, snapshots, thumbnail).
    pub fn run_dir(&self, id: i64) -> PathBuf {
        self.files(id).dir
    }

    /// The names of a run's files.
    pub fn files(&self, id: i64) -> RunFiles {
        RunFiles::new(&self.data_dir, id)
    }

    /// The lowest id a new run may take here: a database emptied or
    /// replaced next to old run folders must never make a new run write
    /// into an old one's.
    pub(crate) fn min_run_id(&self) -> i64 {
        runs_fs::min_run_id(&self.data_dir.join("runs"))
    }

    /// A validated job as the backend stores it.
    pub(crate) fn new_run(
        job: &Job,
        inputs: &[Input],
        priority: i64,
        kind: Option<DeviceKind>,
        defaults: DeviceDefaults,
    ) -> StoreResult<NewRun> {
        job.validate()?;
        let spec = job
            .spec_json()
            .map_err(|e| StoreError::Spec(e.to_string()))?;
        let inputs = serde_json::to_string(inputs).map_err(|e| StoreError::Spec(e.to_string()))?;
        Ok(NewRun {
            kind: job.kind().to_string(),
            spec,
            inputs,
            priority,
            device_kind: kind,
            device_defaults: defaults.to_column(),
        })
    }

    /// Queues a validated stylize spec; returns the new run's id.
    pub fn add(&self, spec: &RunSpec, inputs: &[Input], priority: i64) -> StoreResult<i64> {
        self.add_job(&Job::Stylize(spec.clone()), inputs, priority)
    }

    /// Queues a validated job of any kind; returns the new run's id.
    pub fn add_job(&self, job: &Job, inputs: &[Input], priority: i64) -> StoreResult<i64> {
        self.add_job_on(job, inputs, priority, None, DeviceDefaults::default())
    }

    /// [`Store::add_job`] for a kind of device (`None`: any), with the spec
    /// fields `defaults` names left to the worker's device.
    pub fn add_job_on(
        &self,
        job: &Job,
        inputs: &[Input],
        priority: i64,
        kind: Option<DeviceKind>,
        defaults: DeviceDefaults,
    ) -> StoreResult<i64> {
        let run = Store::new_run(job, inputs, priority, kind, defaults)?;
        // Its files first: a worker on another host may take it at once.
        self.put_inputs(inputs)?;
        self.backend.enqueue(&run, self.min_run_id())
    }

    /// Replaces the job of a run `worker` holds (its device's defaults
    /// filled in at claim time), so the run's record says what ran.
    pub fn set_job(&self, id: i64, worker: &str, job: &Job) -> StoreResult<()> {
        let spec = job
            .spec_json()
            .map_err(|e| StoreError::Spec(e.to_string()))?;
        self.backend.set_spec(id, worker, &spec)
    }

    pub fn get(&self, id: i64) -> StoreResult<Run> {
        self.backend.get(id)
    }

    /// Runs matching `filter`, in its order, its page.
    pub fn list(&self, filter: &Filter) -> StoreResult<Vec<Run>> {
        self.backend.list(filter)
    }

    /// How many runs match `filter` (its page aside).
    pub fn count(&self, filter: &Filter) -> StoreResult<usize> {
        self.backend.count(filter)
    }

    /// Running runs, then queued runs in the order they will be taken.
    pub fn queue(&self) -> StoreResult<Vec<Run>> {
        self.backend.queue()
    }

    /// Takes the next queued run for `worker`, atomically: two workers can
    /// never take the same run. Only runs of a kind this build knows are
    /// taken (a newer atelier's wait for it), and only runs that ask for no
    /// device kind or for `device`'s.
    pub fn claim(&self, worker: &str, device: &str) -> StoreResult<Option<Run>> {
        let device_kind = if device.starts_with("cuda") {
            DeviceKind::Cuda
        } else {
            DeviceKind::Cpu
        };
        self.backend.claim(&Claim {
            worker,
            device,
            device_kind,
            kinds: &Job::KINDS,
        })
    }

    /// Records that `worker` is alive and on `run`; `false` when the run is
    /// no longer its.
    pub fn heartbeat(&self, run: i64, worker: &str) -> StoreResult<bool> {
        self.backend.heartbeat(run, worker)
    }

    /// Appends samples of any series at once (samples of a resumed attempt
    /// replace those with the same step and series).
    pub fn add_points(&mut self, run: i64, points: &[Point]) -> StoreResult<()> {
        self.backend.add_points(run, points)
    }

    /// Appends a transfer's loss samples (its four series).
    pub fn add_samples(&mut self, run: i64, samples: &[Sample]) -> StoreResult<()> {
        let points: Vec<Point> = samples
            .iter()
            .flat_map(|s| {
                let l = crate::engine::gatys::transfer::Losses {
                    style: s.style,
                    content: s.content,
                    tv: s.tv,
                    total: s.total,
                };
                stylize::series_values(&l).map(|(series, value)| Point {
                    step: s.eval,
                    series: series.into(),
                    value,
                    seconds: s.seconds,
                })
            })
            .collect();
        self.add_points(run, &points)
    }

    /// Samples of every series of a run after step `after_step`, in step
    /// order: a view that polls asks only for what is new.
    pub fn samples_since(&self, run: i64, after_step: i64) -> StoreResult<Vec<Point>> {
        self.backend.points_since(run, after_step)
    }

    /// A transfer's loss samples (its four series side by side), in
    /// evaluation order; steps missing a series are left out.
    pub fn samples(&self, run: i64) -> StoreResult<Vec<Sample>> {
        Ok(pivot_losses(&self.samples_since(run, i64::MIN)?))
    }

    /// A run's checkpoints, oldest first.
    pub fn checkpoints(&self, run: i64) -> StoreResult<Vec<Checkpoint>> {
        self.backend.checkpoints(run)
    }

    pub fn cancel_requested(&self, run: i64) -> StoreResult<bool> {
        self.backend.cancel_requested(run)
    }

    /// Marks a run running on `worker` done with its output and the kind's outcome.
    pub fn finish_done(
        &self,
        id: i64,
        worker: &str,
        output: &Path,
        outcome: &Outcome,
    ) -> StoreResult<()> {
        let outcome =
            serde_json::to_string(outcome).map_err(|e| StoreError::Spec(e.to_string()))?;
        let how = Finish::Done {
            output,
            outcome: &outcome,
        };
        self.backend.finish(id, worker, how)
    }

    pub fn finish_failed(&self, id: i64, worker: &str, error: &str) -> StoreResult<()> {
        self.backend.finish(id, worker, Finish::Failed { error })
    }

    pub fn finish_cancelled(&self, id: i64, worker: &str) -> StoreResult<()> {
        self.backend.finish(id, worker, Finish::Cancelled)
    }

    /// Puts a run of `worker` back at the head of the queue (the worker is
    /// stopping); it resumes from its last resume point.
    pub fn requeue(&self, id: i64, worker: &str) -> StoreResult<()> {
        self.backend.requeue(id, worker)
    }

    /// Records a snapshot or checkpoint the run of `worker` can resume from,
    /// after `step` steps. A checkpoint at the same path (the one snapshot an
    /// image-state kind overwrites) replaces the earlier rows for it.
    pub fn set_resume_point(
        &self,
        id: i64,
        worker: &str,
        path: &Path,
        step: i64,
    ) -> StoreResult<()> {
        self.backend.set_resume_point(id, worker, path, step)
    }

    /// Cancels a run: a queued or interrupted one at once; a running one is
    /// flagged, and its worker stops it within one evaluation. Returns the
    /// status after the call; a run that starts or ends meanwhile is not
    /// mistaken.
    pub fn cancel(&self, id: i64) -> StoreResult<Status> {
        self.backend.cancel(id)
    }

    /// Moves a queued run to 1-based place `to` in the queue. It takes the
    /// priority of the run it lands beside so the order stays consistent.
    pub fn move_to(&mut self, id: i64, to: usize) -> StoreResult<()> {
        self.backend.move_to(id, to)
    }

    pub fn set_priority(&self, id: i64, priority: i64) -> StoreResult<()> {
        self.backend.set_priority(id, priority)
    }

    /// Deletes a run that is not running, with its samples and files.
    pub fn delete(&self, id: i64) -> StoreResult<()> {
        self.backend.delete(id)?;
        let dir = self.run_dir(id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        }
        Ok(())
    }

    pub fn register_worker(&self, id: &str, device: &str) -> StoreResult<()> {
        self.backend
            .register_worker(id, std::process::id(), &hostname(), device)
    }

    /// Registers worker `id` on the device `choose` picks given the devices
    /// of the live workers on this host (a process that exists; two workers
    /// starting at once never pick the same device). Returns the device's
    /// name.
    pub fn register_worker_choosing(
        &self,
        id: &str,
        mut choose: impl FnMut(&[String]) -> String,
    ) -> StoreResult<String> {
        let host = hostname();
        self.backend
            .register_worker_choosing(id, std::process::id(), &host, &mut |workers| {
                // Another host's GPUs are not this host's: only local workers count.
                let taken: Vec<String> = workers
                    .iter()
                    .filter(|w| {
                        w.id != id
                            && w.host == host
                            && u32::try_from(w.pid).is_ok_and(process_alive)
                    })
                    .map(|w| w.device.clone())
                    .collect();
                choose(&taken)
            })
    }

    pub fn worker_idle(&self, id: &str) -> StoreResult<()> {
        self.backend.worker_idle(id)
    }

    pub fn unregister_worker(&self, id: &str) -> StoreResult<()> {
        self.backend.unregister_worker(id)
    }

    pub fn workers(&self) -> StoreResult<Vec<WorkerInfo>> {
        self.backend.workers()
    }

    /// Marks running runs whose worker is gone as interrupted: on this host, its
    /// process no longer exists (a live one is never gone); on another host,
    /// no heartbeat for `stale_after` seconds. Each counts as a crash of the
    /// run; at [`MAX_CRASHES`] the run is failed with that reason instead.
    /// Removes their half-written temporary files and returns their ids.
    pub fn recover(&self, stale_after: f64) -> StoreResult<Vec<i64>> {
        let host = hostname();
        let mut dead = Vec::new();
        for run in self.backend.running()? {
            // On this host the process table is the truth: a live PID is
            // never gone (an evaluation may outlast any heartbeat timeout),
            // a dead one is gone at once. Elsewhere only heartbeats tell.
            let gone = match run.worker.as_deref().and_then(|w| local_pid(w, &host)) {
                Some(pid) => !process_alive(pid),
                None => run.heartbeat_age.is_none_or(|age| age > stale_after),
            };
            if !gone {
                continue;
            }
            let crashes = run.crashes + 1;
            let (to, error) = if crashes >= MAX_CRASHES {
                // Its last sign of life is the nearest to the crash.
                let last = format_time(run.heartbeat.unwrap_or_else(now));
                let error = format!("crashed its worker {crashes} times; last at {last} UTC");
                (Status::Failed, error)
            } else {
                let error = "its worker stopped responding".to_string();
                (Status::Interrupted, error)
            };
            if self.backend.interrupt(&run, to, &error)? {
                remove_partial_files(&self.run_dir(run.id));
                dead.push(run.id);
            }
        }
        Ok(dead)
    }

    /// Applies the policy for interrupted runs: `resume` and `restart` queue them
    /// again (restart forgets the snapshot); `leave` keeps them interrupted.
    pub fn requeue_interrupted(&self, policy: OnInterrupted) -> StoreResult<usize> {
        self.backend.requeue_interrupted(policy)
    }
}
