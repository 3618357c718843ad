//! The engine's error type: every failure a user can cause names what went wrong.

use std::path::PathBuf;

/// Errors of the engine. Messages are one line, fit to show a user as they are.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // The field is not named `source`: thiserror would then chain it, and
    // `{:#}` would print the OS message twice.
    #[error("{path}: {}", crate::engine::infra::output::os_reason(error))]
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

/// What a failed run means for the worker that ran it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Out of memory (CUDA caching allocator, cuDNN/cuBLAS workspace, CPU
    /// allocator, or the memory guard): the run failed, the device is fine.
    OutOfMemory,
    /// Any other CUDA/cuDNN/cuBLAS failure. CUDA errors such as an illegal
    /// memory access are sticky: every later call in the process fails, so
    /// the run should go back to the queue and the worker stop.
    DeviceFault,
    /// The run's own failure (bad input, divergence, ...).
    Other,
}

/// Classifies a libtorch message (its first line).
pub fn classify_message(msg: &str) -> ErrorClass {
    let m = msg.to_lowercase();
    const OOM: [&str; 6] = [
        "out of memory",
        "cudnn_status_alloc_failed",
        "cublas_status_alloc_failed",
        "cusolver_status_alloc_failed",
        // CPU allocator: "DefaultCPUAllocator: can't allocate memory" / "not enough memory".
        "can't allocate memory",
        "not enough memory",
    ];
    const DEVICE: [&str; 7] = [
        "cuda error",
        "cudaerror",
        "cuda driver error",
        "cudnn_status_",
        "cublas_status_",
        "cusolver_status_",
        "no cuda gpus are available",
    ];
    if OOM.iter().any(|p| m.contains(p)) {
        ErrorClass::OutOfMemory
    } else if DEVICE.iter().any(|p| m.contains(p)) {
        ErrorClass::DeviceFault
    } else {
        ErrorClass::Other
    }
}

impl Error {
    /// See [`ErrorClass`].
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Memory(_) => ErrorClass::OutOfMemory,
            Error::Torch(msg) => classify_message(msg),
            _ => ErrorClass::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_oom_device_faults_and_the_rest() {
        let oom = [
            "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 139.72 GiB",
            "CUDA error: out of memory",
            "cuDNN error: CUDNN_STATUS_ALLOC_FAILED",
            "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`",
            "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: you tried to allocate 562949953421312 bytes.",
        ];
        for m in oom {
            assert_eq!(classify_message(m), ErrorClass::OutOfMemory, "{m}");
            assert_eq!(Error::Torch(m.into()).class(), ErrorClass::OutOfMemory);
        }
        let fault = [
            "CUDA error: an illegal memory access was encountered",
            "CUDA error: device-side assert triggered",
            "cuDNN error: CUDNN_STATUS_EXECUTION_FAILED",
            "CUDA error: CUBLAS_STATUS_EXECUTION_FAILED when calling `cublasSgemm( handle)`",
            "CUDA driver error: unspecified launch failure",
        ];
        for m in fault {
            assert_eq!(classify_message(m), ErrorClass::DeviceFault, "{m}");
        }
        assert_eq!(
            classify_message("shape '[2, 3]' is invalid for input of size 5"),
            ErrorClass::Other
        );
        assert_eq!(Error::Memory("x".into()).class(), ErrorClass::OutOfMemory);
        assert_eq!(Error::Cancelled.class(), ErrorClass::Other);
    }
}
