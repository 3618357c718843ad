//! The one output policy: every file atelier writes (outputs, summaries,
//! snapshots, textures, run folders' files) goes through [`OutputPolicy`].
//! An existing file is refused unless forced; an input of the run is never
//! written over, whatever the flags (same canonical path or same file:
//! device and inode); only a regular file or a symlink is ever replaced
//! (never `/dev/null`, a FIFO, a device or a folder); and the file is
//! written to a temporary file beside it, synced, then renamed into place,
//! so a failed write leaves no partial file and the old one untouched.

use std::fs::Metadata;
use std::io::{BufWriter, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::engine::infra::error::{Error, Result};

/// An injected write failure: the test seam for the writers. It is a field
/// of the policy, not a global or an environment variable, so a test can
/// fail one write in a release build without root, tmpfs or a full disk,
/// and no user setting can trigger it by accident.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Every write fails with an I/O error.
    Io,
    /// Writes succeed for this many bytes, then fail with "no space left".
    DiskFull { after: u64 },
}

/// How a run's files may be written: see the module docs.
#[derive(Clone, Debug, Default)]
pub struct OutputPolicy {
    force: bool,
    /// The run's inputs: canonical path and (device, inode).
    inputs: Vec<(PathBuf, (u64, u64))>,
    fault: Option<Fault>,
}

fn what(m: &Metadata) -> &'static str {
    let t = m.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

impl OutputPolicy {
    /// `force`: existing (regular) files may be replaced. `inputs`: the
    /// run's input files, never written over; missing ones are skipped.
    pub fn new<P: AsRef<Path>>(force: bool, inputs: &[P]) -> Self {
        let inputs = inputs
            .iter()
            .filter_map(|p| {
                let p = p.as_ref();
                let m = std::fs::metadata(p).ok()?;
                let canon = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
                Some((canon, (m.dev(), m.ino())))
            })
            .collect();
        OutputPolicy {
            force,
            inputs,
            fault: None,
        }
    }

    pub fn force(&self) -> bool {
        self.force
    }

    /// The same policy with writes failing as `fault` says (tests only).
    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = Some(fault);
        self
    }

    /// Whether `path` is one of the run's inputs (or the same file).
    fn is_input(&self, path: &Path) -> bool {
        let id = std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
        let canon = std::fs::canonicalize(path).ok();
        self.inputs
            .iter()
            .any(|(p, i)| Some(*i) == id || canon.as_ref() == Some(p))
    }

    /// Checks that `path` may be written, before the run starts (so no time
    /// is spent on a result that could not be written, and `--dry-run`
    /// refuses what the run would): its folder exists and is writable, it is
    /// not an input, not something other than a regular file or symlink,
    /// and does not exist unless forced.
    pub fn check(&self, path: &Path) -> Result<()> {
        let refuse = |reason: String| Error::NotAllowed {
            path: path.to_path_buf(),
            reason,
        };
        let dir = parent(path);
        if !dir.is_dir() {
            return Err(Error::Write {
                path: path.to_path_buf(),
                reason: format!("folder {} does not exist", dir.display()),
            });
        }
        if self.is_input(path) {
            return Err(refuse(
                "is an input of this run: atelier never writes over its inputs".into(),
            ));
        }
        match std::fs::symlink_metadata(path) {
            Err(_) => {}
            Ok(m) => {
                if m.file_type().is_symlink() {
                    // The link itself is replaced; refuse when it names a
                    // special file, where the user surely meant that file.
                    if let Ok(t) = std::fs::metadata(path) {
                        if !t.is_file() {
                            return Err(refuse(format!(
                                "a symlink to {}: atelier writes only regular files",
                                what(&t)
                            )));
                        }
                    }
                } else if !m.is_file() {
                    return Err(refuse(format!(
                        "{}: atelier writes only regular files",
                        what(&m)
                    )));
                }
                if !self.force {
                    return Err(Error::OutputExists(path.to_path_buf()));
                }
            }
        }
        tempfile::Builder::new()
            .prefix(".atelier-probe-")
            .tempfile_in(&dir)
            .map(drop)
            .map_err(|e| Error::Write {
                path: path.to_path_buf(),
                reason: format!(
                    "folder {} is not writable ({})",
                    dir.display(),
                    os_reason(&e)
                ),
            })
    }

    /// Refuses two outputs of one run that are the same file (e.g. `-o` and
    /// `--summary-json`), which would write one over the other.
    pub fn check_distinct(paths: &[&Path]) -> Result<()> {
        let key = |p: &Path| {
            let dir = std::fs::canonicalize(parent(p)).unwrap_or_else(|_| parent(p));
            dir.join(p.file_name().unwrap_or_default())
        };
        for (i, a) in paths.iter().enumerate() {
            for b in &paths[..i] {
                if key(a) == key(b) {
                    return Err(Error::NotAllowed {
                        path: a.to_path_buf(),
                        reason: format!(
                            "is also the output {}: give each output its own file",
                            b.display()
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// Writes `path` atomically through `fill`, under the policy (checked
    /// again at write time: the file system may have changed since).
    pub fn write(
        &self,
        path: &Path,
        fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<()> {
        self.check(path)?;
        let write_err = |e: std::io::Error| Error::Write {
            path: path.to_path_buf(),
            reason: os_reason(&e),
        };
        let tmp = tempfile::Builder::new()
            .prefix(".atelier-")
            .suffix(".part")
            .tempfile_in(parent(path))
            .map_err(write_err)?;
        {
            let mut w = Faulty {
                inner: BufWriter::new(tmp.as_file()),
                fault: self.fault,
                written: 0,
            };
            fill(&mut w).map_err(write_err)?;
            w.flush().map_err(write_err)?;
        }
        persist(tmp, path, self.force)
    }

    /// Writes `bytes` to `path` (see [`OutputPolicy::write`]).
    pub fn write_bytes(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        self.write(path, |w| w.write_all(bytes))
    }
}

/// Writes `bytes` to `path` atomically (a temporary file beside it, synced,
/// then renamed), over a file there only with `force`; the folder is made.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    let write_err = |e: std::io::Error| Error::Write {
        path: path.to_path_buf(),
        reason: os_reason(&e),
    };
    if !force && path.exists() {
        return Err(Error::OutputExists(path.to_path_buf()));
    }
    let dir = parent(path);
    std::fs::create_dir_all(&dir).map_err(write_err)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".atelier-")
        .suffix(".part")
        .tempfile_in(&dir)
        .map_err(write_err)?;
    tmp.write_all(bytes).map_err(write_err)?;
    persist(tmp, path, force)
}

/// Puts a written temporary file `tmp` (beside `path`) in place: made an
/// ordinary 0644 file, synced, renamed over `path` only with `force`.
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path, force: bool) -> Result<()> {
    let write_err = |e: std::io::Error| Error::Write {
        path: path.to_path_buf(),
        reason: os_reason(&e),
    };
    // tempfile creates 0600; an output is an ordinary file for the user.
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(write_err)?;
    tmp.as_file().sync_all().map_err(write_err)?;
    // Dropping `tmp` on any error below removes the temporary file.
    if force {
        tmp.persist(path).map_err(|e| write_err(e.error))?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                Error::OutputExists(path.to_path_buf())
            } else {
                write_err(e.error)
            }
        })?;
    }
    Ok(())
}

/// Whether an output path names a folder: an existing one, or any path
/// written with a trailing slash (`-o out/new/`).
pub fn names_folder(path: &Path) -> bool {
    path.is_dir() || path.as_os_str().as_encoded_bytes().ends_with(b"/")
}

/// Creates the output folder `dir` and its parents; a file where a folder
/// must be is named (and left alone).
pub fn create_folder(dir: &Path) -> Result<()> {
    // Without the trailing slash, so a file at that path is seen as one.
    let clean: PathBuf = dir.components().collect();
    if let Some(file) = clean.ancestors().find(|a| a.exists() && !a.is_dir()) {
        return Err(Error::Write {
            path: dir.to_path_buf(),
            reason: format!("{} is a file, not a folder", file.display()),
        });
    }
    std::fs::create_dir_all(&clean).map_err(|e| Error::Write {
        path: dir.to_path_buf(),
        reason: os_reason(&e),
    })
}

/// The image formats an output's extension may name (case aside); no
/// extension is PNG.
const IMAGE_EXTENSIONS: [(&str, image::ImageFormat); 7] = [
    ("png", image::ImageFormat::Png),
    ("jpg", image::ImageFormat::Jpeg),
    ("jpeg", image::ImageFormat::Jpeg),
    ("webp", image::ImageFormat::WebP),
    ("tif", image::ImageFormat::Tiff),
    ("tiff", image::ImageFormat::Tiff),
    ("bmp", image::ImageFormat::Bmp),
];

/// The format an output image is written in: the one its extension names;
/// an extension atelier cannot write is refused, naming those it can.
pub fn image_format(path: &Path) -> Result<image::ImageFormat> {
    let Some(ext) = path.extension() else {
        return Ok(image::ImageFormat::Png);
    };
    let ext = ext.to_string_lossy().to_lowercase();
    IMAGE_EXTENSIONS
        .iter()
        .find(|(e, _)| *e == ext)
        .map(|&(_, f)| f)
        .ok_or_else(|| Error::NotAllowed {
            path: path.to_path_buf(),
            reason: format!(
                "atelier cannot write '.{ext}' images: name the output .png, .jpg, .webp, .tiff or .bmp"
            ),
        })
}

/// The folder a path is in (`.` for a bare file name).
fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// An I/O error's message once: the OS message without std's
/// " (os error N)" suffix, whose text repeats it.
pub fn os_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

/// A writer that fails on demand (see [`Fault`]).
struct Faulty<W> {
    inner: W,
    fault: Option<Fault>,
    written: u64,
}

impl<W: Write> Write for Faulty<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = match self.fault {
            None => buf.len(),
            Some(Fault::Io) => return Err(std::io::Error::other("injected I/O error")),
            Some(Fault::DiskFull { after }) => {
                let left = after.saturating_sub(self.written);
                if left == 0 {
                    return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
                }
                buf.len().min(left as usize)
            }
        };
        let n = self.inner.write(&buf[..n])?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
