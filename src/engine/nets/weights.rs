//! Loading the VGG19 weights from `weights/vgg19.safetensors`, checked against the
//! sha256 kept beside it so a corrupt or wrong file is refused with a clear error.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tch::Tensor;

use crate::engine::infra::error::{Error, Result};

/// The sha256 of the weights file made by `scripts/convert_weights.py`.
pub const VGG19_SHA256: &str = "09ea48f3c588a8e8fa63633adb8ba7cd524b3f1467c177370cee25f009784059";

/// The conv weights and biases of VGG19, on the CPU.
pub struct Weights {
    tensors: HashMap<String, Tensor>,
    path: PathBuf,
}

impl Weights {
    /// Loads and verifies the weights file.
    pub fn load(path: &Path) -> Result<Self> {
        let err = |reason: String| Error::Weights {
            path: path.to_path_buf(),
            reason,
        };
        if !path.exists() {
            return Err(err(
                "missing: run `make setup` (scripts/setup.sh) to fetch and convert them".into(),
            ));
        }
        let digest = sha256_file(path)?;
        if digest != VGG19_SHA256 {
            return Err(err(format!(
                "checksum mismatch (sha256 {digest}, expected {VGG19_SHA256}): the file is corrupt or not the VGG19 weights; delete it and run `make setup`"
            )));
        }
        let tensors = Tensor::read_safetensors(path)
            .map_err(|e| err(format!("unreadable: {}", first_line(&e.to_string()))))?
            .into_iter()
            .collect();
        Ok(Self {
            tensors,
            path: path.to_path_buf(),
        })
    }

    /// Weight (OIHW) and bias of `conv{block}_{index}`.
    pub fn conv(&self, block: usize, index: usize) -> Result<(&Tensor, &Tensor)> {
        let get = |suffix: &str| {
            let key = format!("conv{block}_{index}.{suffix}");
            self.tensors.get(&key).ok_or_else(|| Error::Weights {
                path: self.path.clone(),
                reason: format!("tensor {key} missing"),
            })
        };
        Ok((get("weight")?, get("bias")?))
    }
}

/// Hex sha256 of a file's contents.
pub fn sha256_file(path: &Path) -> Result<String> {
    // Only regular files: a FIFO must not block the caller (the watcher).
    let mut f = crate::engine::infra::input::open_regular(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:x}", h.finalize()))
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}
