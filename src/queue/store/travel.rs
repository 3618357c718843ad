//! The facade's part of files that travel between hosts (see [`super::blobs`]):
//! inputs stored when a run is queued, fetched into this host's cache
//! (`blobs/` in the data folder) when a worker here lacks them, and a run's
//! folder stored when it is done, for any host to export. On a store that
//! keeps no files (SQLite) each of these does nothing.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::blobs::RunFile;
use super::queue::not_owner;
use super::Store;
use crate::engine::infra::input::open_regular;
use crate::engine::infra::output::persist;
use crate::engine::nets::weights::sha256_file;
use crate::jobs::{Job, RunFiles};
use crate::queue::error::{StoreError, StoreResult};
use crate::queue::run::{Input, Run, StoredJob};

/// The folder of the data folder holding the files fetched from the store.
pub const BLOBS_DIR: &str = "blobs";

impl Store {
    /// Whether this store keeps files for other hosts (a shared one).
    pub fn keeps_files(&self) -> bool {
        self.backend.keeps_blobs()
    }

    /// Stores the files of `inputs` by content, before their run is queued,
    /// so a worker on any host can run it. Datasets (folders) stay on their
    /// host.
    pub(crate) fn put_inputs(&self, inputs: &[Input]) -> StoreResult<()> {
        if !self.keeps_files() {
            return Ok(());
        }
        for i in inputs.iter().filter(|i| travels(i)) {
            let mut file = open_regular(&i.path)?;
            self.backend.put_blob(&i.sha256, &mut file, &i.path)?;
        }
        Ok(())
    }

    /// `run` as this host can run it: each input file missing here, or
    /// whose contents are not those queued, replaced by its copy from the
    /// store (fetched once into `blobs/`), in its inputs and in its job.
    /// A dataset missing here is an error: datasets do not travel.
    pub(crate) fn localize(&self, run: &Run) -> StoreResult<Run> {
        let mut run = run.clone();
        if !self.keeps_files() {
            return Ok(run);
        }
        let mut moved = HashMap::new();
        for input in &mut run.inputs {
            if input.role == crate::jobs::Role::Dataset && !input.path.is_dir() {
                return Err(StoreError::io(
                    &input.path,
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "the dataset is not on this host (datasets do not travel between \
                         hosts: copy it to this path here)",
                    ),
                ));
            }
            // Hashed once: the worker's check that the inputs are those
            // queued finds the hash remembered.
            if !travels(input)
                || self
                    .file_sha256(&input.path)
                    .is_ok_and(|h| h == input.sha256)
            {
                continue;
            }
            let cached = self.cached_input(input)?;
            moved.insert(
                input.path.to_string_lossy().into_owned(),
                cached.to_string_lossy().into_owned(),
            );
            input.path = cached;
        }
        if let (false, StoredJob::Known(job)) = (moved.is_empty(), &run.job) {
            run.job = StoredJob::Known(relocated(job, &moved)?);
        }
        Ok(run)
    }

    /// This host's copy of `input` from the store: `blobs/<sha256>.<ext>`,
    /// fetched unless it is there already.
    fn cached_input(&self, input: &Input) -> StoreResult<PathBuf> {
        let mut name = input.sha256.clone();
        if let Some(ext) = input.path.extension() {
            name = format!("{name}.{}", ext.to_string_lossy());
        }
        let cached = self.data_dir().join(BLOBS_DIR).join(name);
        // Written atomically under its hash: a file there is whole.
        if cached.is_file() {
            return Ok(cached);
        }
        if !self.fetch_blob(&input.sha256, &cached, true)? {
            return Err(StoreError::io(
                &input.path,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!(
                        "the {} is not on this host, and the store has no copy of it",
                        input.role
                    ),
                ),
            ));
        }
        Ok(cached)
    }

    /// Writes blob `sha256` to `dest` atomically (over a file there only
    /// with `force`), checking its hash; `false` when the store lacks it.
    fn fetch_blob(&self, sha256: &str, dest: &Path, force: bool) -> StoreResult<bool> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(".atelier-")
            .suffix(".part")
            .tempfile_in(dir)
            .map_err(|e| StoreError::io(dir, e))?;
        let got = {
            let mut w = Hashing {
                inner: BufWriter::new(tmp.as_file()),
                hash: Sha256::new(),
            };
            if !self.backend.get_blob(sha256, &mut w)? {
                return Ok(false);
            }
            w.inner.flush().map_err(|e| StoreError::io(dest, e))?;
            format!("{:x}", w.hash.finalize())
        };
        if got != sha256 {
            return Err(StoreError::io(
                dest,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("the store's copy is damaged (sha256 {got}, not {sha256})"),
                ),
            ));
        }
        persist(tmp, dest, force)?;
        self.remember_sha256(dest, sha256);
        Ok(true)
    }

    /// Stores the files of run `id`'s folder (output, thumbnail, snapshots,
    /// video) while it is running on `worker`, before it is finished, so a
    /// done run always has them in the store.
    pub(crate) fn put_run_files(&self, id: i64, worker: &str) -> StoreResult<()> {
        if !self.keeps_files() {
            return Ok(());
        }
        let dir = self.run_dir(id);
        let mut files = Vec::new();
        for (name, path) in folder_files(&dir)? {
            let sha256 = sha256_file(&path)?;
            let mut file = open_regular(&path)?;
            self.backend.put_blob(&sha256, &mut file, &path)?;
            files.push(RunFile { name, sha256 });
        }
        if self.backend.set_run_files(id, worker, &files)? {
            return Ok(());
        }
        let r = self.get(id)?;
        Err(not_owner(
            id,
            worker,
            Some((r.status.to_string(), r.worker)),
        ))
    }

    /// Writes `run`'s output into `dest` (never over a file) from the
    /// store's copy; `false` when the store has none.
    pub fn export_output(&self, run: &Run, dest: &Path) -> StoreResult<bool> {
        let Some(output) = &run.output else {
            return Ok(false);
        };
        let name = name_in_run(output, run.id);
        let file = self.backend.run_files(run.id)?;
        let Some(f) = file.iter().find(|f| f.name == name) else {
            return Ok(false);
        };
        self.fetch_blob(&f.sha256, dest, false)
    }
}

/// Whether `input` is a file stored by its recorded hash (a dataset stays
/// on its host; older rows and tests may hold a placeholder hash).
pub(super) fn travels(input: &Input) -> bool {
    input.role != crate::jobs::Role::Dataset && is_sha256(&input.sha256)
}

pub(crate) fn is_sha256(h: &str) -> bool {
    h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `job` with every path in `moved` replaced by where it is on this host.
/// Walks the job's JSON so that every kind's paths (photos, styles, masks,
/// models, clips) move without each kind listing them.
fn relocated(job: &Job, moved: &HashMap<String, String>) -> StoreResult<Job> {
    fn walk(v: &mut serde_json::Value, moved: &HashMap<String, String>) {
        match v {
            serde_json::Value::String(s) => {
                if let Some(to) = moved.get(s.as_str()) {
                    s.clone_from(to);
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|v| walk(v, moved)),
            serde_json::Value::Object(o) => o.values_mut().for_each(|v| walk(v, moved)),
            _ => {}
        }
    }
    let spec = |e: serde_json::Error| StoreError::Spec(e.to_string());
    let mut v = serde_json::to_value(job).map_err(spec)?;
    walk(&mut v, moved);
    serde_json::from_value(v).map_err(spec)
}

/// The regular files under `dir` by their `/`-separated names in it,
/// half-written temporary files left out.
fn folder_files(dir: &Path) -> StoreResult<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let mut todo = vec![(String::new(), dir.to_path_buf())];
    while let Some((prefix, d)) = todo.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::io(&d, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io(&d, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = entry
                .file_type()
                .map_err(|e| StoreError::io(entry.path(), e))?;
            if kind.is_dir() {
                todo.push((format!("{prefix}{name}/"), entry.path()));
            } else if kind.is_file() && !RunFiles::is_partial(&name) {
                out.push((format!("{prefix}{name}"), entry.path()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The name inside its run's folder of `path`, a file of run `id` written
/// on any host (`…/runs/<id>/output.png` is `output.png`).
fn name_in_run(path: &Path, id: i64) -> String {
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let id = id.to_string();
    let at = parts
        .windows(2)
        .rposition(|w| w[0] == "runs" && w[1] == id)
        .map_or(parts.len().saturating_sub(1), |i| i + 2);
    parts[at.min(parts.len())..].join("/")
}

/// A writer that hashes what goes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_file_is_named_inside_its_folder_on_any_host() {
        let p = Path::new("/home/ann/.local/share/atelier/runs/12/output.png");
        assert_eq!(name_in_run(p, 12), "output.png");
        assert_eq!(
            name_in_run(Path::new("/d/runs/7/frames/0001.png"), 7),
            "frames/0001.png"
        );
        assert_eq!(name_in_run(Path::new("/elsewhere/out.png"), 7), "out.png");
    }

    #[test]
    fn every_path_of_a_job_moves_to_its_copy() {
        let spec = crate::engine::gatys::spec::RunSpec {
            content: "/q/photo.png".into(),
            styles: vec![crate::engine::gatys::spec::StyleRef {
                path: "/q/style.jpg".into(),
                weight: 1.0,
            }],
            ..Default::default()
        };
        let moved = HashMap::from([
            ("/q/photo.png".to_string(), "/c/blobs/aa.png".to_string()),
            ("/q/style.jpg".to_string(), "/c/blobs/bb.jpg".to_string()),
        ]);
        let Job::Stylize(s) = relocated(&Job::Stylize(spec), &moved).unwrap() else {
            panic!("a stylize job stays one");
        };
        assert_eq!(s.content, Path::new("/c/blobs/aa.png"));
        assert_eq!(s.styles[0].path, Path::new("/c/blobs/bb.jpg"));
    }
}
