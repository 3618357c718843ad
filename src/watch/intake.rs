//! Taking one arrived file: refuse what must not be read, hash it, skip
//! content the rule already has, check it decodes (an image, or a video
//! ffprobe reads), and queue one run per style together with its ledger entry.

use std::path::{Path, PathBuf};

use super::rules::Rule;
use crate::engine::infra::image_io::load_rgb;
use crate::engine::video::clip::is_video_file;
use crate::engine::video::Clip;
use crate::jobs::video::build::as_video;
use crate::jobs::Role;
use crate::queue::{Input, StoreResult, WatchedRun};
use crate::queue::{Store, WatchItem};

/// What became of an arrived file.
#[derive(Debug)]
pub enum Taken {
    Queued(Vec<i64>),
    /// The rule already has this content.
    Duplicate(WatchItem),
    Failed(String),
}

/// The reason shown for a file that cannot be read.
pub fn read_failure_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "deleted before it was processed".into(),
        std::io::ErrorKind::PermissionDenied => "cannot read it: permission denied".into(),
        _ => format!("cannot read it: {e}"),
    }
}

/// An engine error's message without the path in front (the status shows
/// it beside the reason).
fn strip(path: &Path, e: crate::engine::Error) -> String {
    match &e {
        crate::engine::Error::NotFound(_) => return "deleted before it was processed".into(),
        crate::engine::Error::Io { error, .. } => return read_failure_reason(error),
        _ => {}
    }
    let msg = e.to_string();
    let prefix = format!("{}: ", path.display());
    msg.strip_prefix(&prefix).map(str::to_string).unwrap_or(msg)
}

/// A symlink is followed only when it points inside the inbox (then its
/// target's content is what counts, and the ledger keeps it to one run).
fn check_link(rule: &Rule, path: &Path) -> Result<PathBuf, String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| read_failure_reason(&e))?;
    if !meta.file_type().is_symlink() {
        return Ok(path.to_path_buf());
    }
    let target = std::fs::read_link(path)
        .map(|t| t.display().to_string())
        .unwrap_or_default();
    match std::fs::canonicalize(path) {
        Ok(real) if real.starts_with(&rule.inbox) && !rule.excluded(&real) => Ok(path.into()),
        Ok(real) => Err(format!(
            "symlink to {}, outside the inbox: not followed",
            real.display()
        )),
        Err(_) => Err(format!("symlink to {target}, which does not exist")),
    }
}

/// Whether `path` is a complete image within the pixel limit; the reason
/// without the path in front (the status shows it beside the reason).
fn check_image(path: &Path, pixel_limit: u64) -> Result<(), String> {
    // The engine's loader refuses special and truncated files itself.
    load_rgb(path, pixel_limit)
        .map(drop)
        .map_err(|e| strip(path, e))
}

/// Whether `path` is a video ffprobe can read with frames of a usable size:
/// its frame count.
fn check_video(path: &Path, pixel_limit: u64) -> Result<u64, String> {
    Clip::open(path, pixel_limit)
        .map(|c| c.info().frames)
        .map_err(|e| strip(path, e))
}

/// Takes the file at `path` for `rule`: an image as the rule's runs, a
/// video ([`is_video_file`]) as the video runs of the same settings.
pub fn take(store: &Store, rule: &Rule, path: &Path) -> StoreResult<Taken> {
    let path_key = format!("path:{}", path.display());
    let fail_path = |reason: String| -> StoreResult<Taken> {
        store.record_watch_failure(&rule.name, &path_key, None, path, &reason)?;
        Ok(Taken::Failed(reason))
    };
    if let Err(reason) = check_link(rule, path) {
        return fail_path(reason);
    }
    // Opens only a regular file, without blocking (a FIFO must not hang the watcher).
    let sha = match crate::engine::nets::weights::sha256_file(path) {
        Ok(s) => s,
        Err(e) => return fail_path(strip(path, e)),
    };
    store.clear_watch_path_failure(&rule.name, path)?;
    if let Some(item) = store.watch_item(&rule.name, &sha)? {
        return Ok(Taken::Duplicate(item));
    }
    let video = is_video_file(path);
    let checked = match video {
        true => check_video(path, rule.spec.pixel_limit),
        false => check_image(path, rule.spec.pixel_limit).map(|_| 0),
    };
    let frames = match checked {
        Ok(f) => f,
        Err(reason) => {
            store.record_watch_failure(&rule.name, &sha, Some(&sha), path, &reason)?;
            return Ok(Taken::Failed(reason));
        }
    };
    let content = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let stem = content
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let arrival = Input::hashed(
        Role::Content,
        Some(stem.clone()),
        content.clone(),
        sha.clone(),
    );
    let mut runs = rule.watched_runs(arrival);
    if video {
        runs = runs
            .into_iter()
            .map(|r| WatchedRun {
                job: as_video(r.job, frames),
                ..r
            })
            .collect();
    }
    match store.queue_watched(&rule.name, &sha, &content, &runs, rule.priority)? {
        Some(ids) => Ok(Taken::Queued(ids)),
        // Another watcher got there between our look-up and our insert.
        None => match store.watch_item(&rule.name, &sha)? {
            Some(item) => Ok(Taken::Duplicate(item)),
            None => Ok(Taken::Failed("ledger conflict".into())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_files_get_a_clear_reason() {
        // Tests run as root, where chmod 000 does not stop reads; the mapping
        // from the OS error is what `take` reports, so check it directly.
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(
            read_failure_reason(&denied),
            "cannot read it: permission denied"
        );
        let gone = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(
            read_failure_reason(&gone),
            "deleted before it was processed"
        );
    }
}
