//! Getting results to the rule's output folder: when a run is done its
//! `runs/<id>/output.png` (which carries the run id and spec in its text
//! chunks) is copied to `<output>/<input stem>__<style>.png` through a hidden
//! temporary file and a no-clobber rename, so nothing is overwritten and no
//! half-written file is ever visible. The chosen path is recorded before the
//! copy, so after a crash a finished copy is recognised, not made twice.
//! Inputs are moved to `processed/` only after all their outputs are settled.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::rules::Rule;
use crate::engine::infra::image_io::unique_path;
use crate::jobs::video::build::{QUEUED_CONTAINER, QUEUED_VIDEO};
use crate::queue::{PendingOutput, Status, Store, StoreResult};

/// What became of a pending output on this look.
#[derive(Debug)]
pub enum Delivery {
    /// Its run is not finished yet.
    Waiting,
    Delivered(PathBuf),
    Failed(String),
}

fn same_bytes(a: &Path, b: &Path) -> bool {
    match (std::fs::read(a), std::fs::read(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Copies `src` to a new file in `dir` named from `wanted` (or `-2`, `-3`…),
/// atomically; returns the path written.
fn copy_noclobber(src: &Path, wanted: &Path, record: &dyn Fn(&Path)) -> Result<PathBuf, String> {
    let dir = wanted.parent().unwrap_or(Path::new("."));
    let bytes = std::fs::read(src).map_err(|e| format!("reading {}: {e}", src.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".atelier-")
        .suffix(".png.part")
        .tempfile_in(dir)
        .map_err(|e| format!("writing in {}: {e}", dir.display()))?;
    tmp.write_all(&bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| format!("writing in {}: {e}", dir.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    for _ in 0..1000 {
        let target = unique_path(wanted);
        record(&target);
        match tmp.persist_noclobber(&target) {
            Ok(_) => return Ok(target),
            // Someone took the name between our look and the rename: next one.
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => tmp = e.file,
            Err(e) => return Err(format!("writing {}: {}", target.display(), e.error)),
        }
    }
    Err(format!("no free name for {}", wanted.display()))
}

/// Looks at one pending output and delivers it if its run is done.
pub fn deliver(store: &Store, o: &PendingOutput) -> StoreResult<Delivery> {
    let result = match o.status {
        None => Err(format!("run {} was deleted", o.run_id)),
        Some(Status::Done) => {
            // A video run delivers its video; any other its output image.
            let video = store.run_dir(o.run_id).join(QUEUED_VIDEO);
            let (src, ext) = match video.is_file() {
                true => (video, QUEUED_CONTAINER),
                false => (
                    o.run_output
                        .clone()
                        .unwrap_or_else(|| store.run_dir(o.run_id).join("output.png")),
                    "png",
                ),
            };
            match &o.target {
                // A copy finished before a crash: it is the delivery.
                Some(t) if same_bytes(&src, t) => Ok(t.clone()),
                _ => {
                    let stem = o
                        .item_path
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "image".into());
                    let wanted = o.output_dir.join(format!("{stem}__{}.{ext}", o.style));
                    if let Err(e) = std::fs::create_dir_all(&o.output_dir) {
                        return Ok(Delivery::Failed(format!(
                            "output folder {}: {e}",
                            o.output_dir.display()
                        )));
                    }
                    let record = |t: &Path| {
                        let _ = store.set_output_target(o.run_id, t);
                    };
                    copy_noclobber(&src, &wanted, &record)
                }
            }
        }
        Some(Status::Failed) => Err(format!(
            "run {} failed: {}",
            o.run_id,
            o.run_error.as_deref().unwrap_or("no reason recorded")
        )),
        Some(Status::Cancelled) => Err(format!("run {} was cancelled", o.run_id)),
        Some(_) => return Ok(Delivery::Waiting),
    };
    match result {
        Ok(p) => {
            store.finish_output(o.run_id, Ok(&p))?;
            Ok(Delivery::Delivered(p))
        }
        Err(reason) => {
            store.finish_output(o.run_id, Err(&reason))?;
            Ok(Delivery::Failed(reason))
        }
    }
}

/// Whether two paths are one file (hard links of each other).
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::symlink_metadata(a), std::fs::symlink_metadata(b)) {
        (Ok(x), Ok(y)) => (x.dev(), x.ino()) == (y.dev(), y.ino()),
        _ => false,
    }
}

/// Moves a settled input into `processed/` (keeping its place below the
/// inbox), never replacing a file there. Returns where it went, or `None`
/// when it is no longer in the inbox.
pub fn move_processed(rule: &Rule, input: &Path) -> Result<Option<PathBuf>, String> {
    if std::fs::symlink_metadata(input).is_err() {
        return Ok(None);
    }
    let rel = input
        .strip_prefix(&rule.inbox)
        .ok()
        .map(Path::to_path_buf)
        .or_else(|| input.file_name().map(PathBuf::from))
        .ok_or_else(|| format!("{}: no file name", input.display()))?;
    let wanted = rule.processed.join(rel);
    if let Some(dir) = wanted.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    // Linked there before a crash, not yet removed from the inbox: finish that.
    if same_file(input, &wanted) {
        std::fs::remove_file(input).map_err(|e| format!("{}: {e}", input.display()))?;
        return Ok(Some(wanted));
    }
    for _ in 0..1000 {
        let to = unique_path(&wanted);
        // A hard link refuses to replace an existing file, unlike rename.
        match std::fs::hard_link(input, &to) {
            Ok(()) => {
                std::fs::remove_file(input).map_err(|e| format!("{}: {e}", input.display()))?;
                return Ok(Some(to));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) => {
                // Filesystems without hard links: rename after the check.
                std::fs::rename(input, &to).map_err(|e| format!("{}: {e}", input.display()))?;
                return Ok(Some(to));
            }
        }
    }
    Err(format!("no free name for {}", wanted.display()))
}
