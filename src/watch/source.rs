//! Where events come from: notify's native watcher (inotify) or its polling
//! watcher (for NFS/SMB, where inotify sees nothing of other machines' writes),
//! both behind notify-debouncer-full, which pairs renames and merges bursts.

use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::Duration;

use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
use notify::{EventKind, PollWatcher, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{
    new_debouncer_opt, DebounceEventResult, Debouncer, NoCache, RecommendedCache,
};

use super::rules::Backend;

/// A running watcher; dropping it stops it.
pub enum Source {
    Native(Debouncer<RecommendedWatcher, RecommendedCache>),
    Poll(Debouncer<PollWatcher, NoCache>),
}

impl Source {
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Native(_) => "native",
            Source::Poll(_) => "poll",
        }
    }
}

/// What an event means for the inbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Something was written to this file; `closed` when the writer is done
    /// (close after write, or renamed into place).
    File { path: PathBuf, closed: bool },
    /// A folder appeared (created or moved in): scan it.
    Folder(PathBuf),
    /// Renamed or moved away.
    Left(PathBuf),
    /// The watcher lost events: scan everything.
    Rescan,
}

/// Filesystems where inotify does not see writes made by other machines.
fn is_network_fs(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs writes into the zeroed struct we own; `c` is NUL-terminated.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut s) } != 0 {
        return false;
    }
    const NFS: i64 = 0x6969;
    const SMB: i64 = 0x517B;
    const CIFS: i64 = 0xFF53_4D42;
    const SMB2: i64 = 0xFE53_4D42;
    const FUSE: i64 = 0x6573_5546;
    const NCP: i64 = 0x564C;
    let t = s.f_type as i64;
    [NFS, SMB, CIFS, SMB2, FUSE, NCP].contains(&t)
}

/// Forwards a source's events, tagged with its rule number (one type for
/// every call, so either backend can take it).
fn to_channel(
    tx: Sender<(usize, DebounceEventResult)>,
    rule: usize,
) -> impl FnMut(DebounceEventResult) + Send + 'static {
    move |r| {
        let _ = tx.send((rule, r));
    }
}

/// Starts watching `inbox` for rule number `rule`; events go to `tx`. With
/// `Backend::Auto`, network filesystems are polled, and a native watcher that
/// cannot start (e.g. inotify watch limit) falls back to polling. Returns the
/// source and, when it fell back, why.
pub fn start(
    rule: usize,
    inbox: &Path,
    recursive: bool,
    backend: Backend,
    poll_interval: Duration,
    debounce: Duration,
    tx: Sender<(usize, DebounceEventResult)>,
) -> Result<(Source, Option<String>), String> {
    let mode = if recursive {
        RecursiveMode::Recursive
    } else {
        RecursiveMode::NonRecursive
    };
    let handler = to_channel(tx.clone(), rule);
    let poll = |handler| -> Result<Source, String> {
        let config = notify::Config::default()
            .with_poll_interval(poll_interval)
            .with_follow_symlinks(false);
        let mut d = new_debouncer_opt::<_, PollWatcher, NoCache>(
            debounce,
            None,
            handler,
            NoCache::new(),
            config,
        )
        .map_err(|e| e.to_string())?;
        d.watch(inbox, mode).map_err(|e| e.to_string())?;
        Ok(Source::Poll(d))
    };
    let native = |handler| -> Result<Source, String> {
        let config = notify::Config::default().with_follow_symlinks(false);
        let mut d = new_debouncer_opt::<_, RecommendedWatcher, RecommendedCache>(
            debounce,
            None,
            handler,
            RecommendedCache::new(),
            config,
        )
        .map_err(|e| e.to_string())?;
        d.watch(inbox, mode).map_err(|e| e.to_string())?;
        Ok(Source::Native(d))
    };
    match backend {
        Backend::Poll => Ok((poll(handler)?, None)),
        Backend::Native => Ok((native(handler)?, None)),
        Backend::Auto if is_network_fs(inbox) => {
            Ok((poll(handler)?, Some("network filesystem: polling".into())))
        }
        Backend::Auto => match native(handler) {
            Ok(s) => Ok((s, None)),
            Err(e) => {
                let handler = to_channel(tx, rule);
                Ok((
                    poll(handler)?,
                    Some(format!("native watcher failed ({e}): polling")),
                ))
            }
        },
    }
}

/// What a debounced event means for the inbox; `polled` events carry no close
/// information, so they count as closed and only the quiet period applies.
pub fn classify(event: &notify::Event, polled: bool) -> Vec<Change> {
    if event.need_rescan() {
        return vec![Change::Rescan];
    }
    let file = |p: &PathBuf, closed: bool| {
        if p.is_dir() {
            Change::Folder(p.clone())
        } else {
            Change::File {
                path: p.clone(),
                closed: closed || polled,
            }
        }
    };
    let paths = &event.paths;
    match event.kind {
        EventKind::Create(CreateKind::Folder) => {
            paths.iter().cloned().map(Change::Folder).collect()
        }
        EventKind::Create(_) => paths.iter().map(|p| file(p, false)).collect(),
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
            paths.iter().map(|p| file(p, true)).collect()
        }
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => {
            let mut out = Vec::new();
            if let Some(from) = paths.first() {
                out.push(Change::Left(from.clone()));
            }
            if let Some(to) = paths.get(1) {
                out.push(file(to, true));
            }
            out
        }
        EventKind::Modify(ModifyKind::Name(RenameMode::From)) => {
            paths.iter().cloned().map(Change::Left).collect()
        }
        EventKind::Modify(ModifyKind::Name(_)) => paths
            .iter()
            .map(|p| {
                if p.exists() || p.symlink_metadata().is_ok() {
                    file(p, true)
                } else {
                    Change::Left(p.clone())
                }
            })
            .collect(),
        EventKind::Modify(_) => paths.iter().map(|p| file(p, false)).collect(),
        // Removals are noticed when the pending file is examined; reads are ours.
        _ => Vec::new(),
    }
}
