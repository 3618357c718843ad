//! The engine's error type: every failure a user can cause names what went wrong.

use std::path::PathBuf;

/// Errors of the engine. Messages are one line, fit to show a user as they are.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // The field is not named `source`: thiserror would then chain it, and
    // `{:#}` would print the OS message twice.
    #[error("{path}: {}", super::output::os_reason(error))]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{0}: no such file")]
    NotFound(PathBuf),
    #[error("{0}: is a directory, not an image")]
    IsDirectory(PathBuf),
    #[error("{path}: {what}, not a file")]
    NotAFile { path: PathBuf, what: &'static str },
    #[error("{path}: {reason}")]
    NotAllowed { path: PathBuf, reason: String },
    #[error("{0}: empty file, not an image")]
    EmptyFile(PathBuf),
    #[error("{path}: not a readable image ({reason})")]
    Decode { path: PathBuf, reason: String },
    #[error("{path}: {width}x{height} is {pixels} pixels, over the limit of {limit} (refused before decoding)")]
    TooManyPixels {
        path: PathBuf,
        width: u32,
        height: u32,
        pixels: u64,
        limit: u64,
    },
    #[error("{path}: {width}x{height} is too small: each side must be at least {min} px")]
    TooSmall {
        path: PathBuf,
        width: u32,
        height: u32,
        min: u32,
    },
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("unknown layer '{0}': use conv1_1 … relu5_4 or pool1 … pool5")]
    UnknownLayer(String),
    #[error("weights {path}: {reason}")]
    Weights { path: PathBuf, reason: String },
    #[error("model {path}: {reason}")]
    Model { path: PathBuf, reason: String },
    #[error("{0}: already exists (pass --force to overwrite)")]
    OutputExists(PathBuf),
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("device {0}")]
    Device(String),
    #[error("not enough memory: {0}")]
    Memory(String),
    #[error("{0}")]
    Library(String),
    #[error("cancelled")]
    Cancelled,
    #[error("diverged {0}")]
    Diverged(String),
    /// Internal: the guard stopped the optimiser (divergence or plateau); never
    /// leaves the engine.
    #[error("optimisation interrupted")]
    Interrupted,
    #[error("torch: {0}")]
    Torch(String),
}

impl From<tch::TchError> for Error {
    fn from(e: tch::TchError) -> Self {
        // libtorch messages carry a C++ backtrace after the first line.
        let text = e.to_string();
        let first = text.lines().next().unwrap_or("unknown error").to_string();
        Error::Torch(first)
    }
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error: source,
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
