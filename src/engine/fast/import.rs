//! Importing a pytorch/examples state dict (`torch.save(model.state_dict())`,
//! the zip-pickle format of torch ≥ 1.6, checked, then read by libtorch:
//! see [`crate::engine::infra::pth`]).
//! The 2017 published models carry stray `in*.running_mean/var` keys that
//! pytorch/examples' own `stylize()` deletes; they are dropped here too.

use std::path::Path;

use tch::{Device, Tensor};

use super::model_file::{blank_info, Model, IMPORT_NORM};
use super::safetensors_file::copy_into;
use super::transformer::Arch;
use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::pth::load_state_dict;

/// Whether `key` is one of the legacy instance-norm running statistics.
pub fn is_legacy_key(key: &str) -> bool {
    let Some((module, stat)) = key.rsplit_once('.') else {
        return false;
    };
    let last = module.rsplit('.').next().unwrap_or(module);
    matches!(stat, "running_mean" | "running_var" | "num_batches_tracked")
        && last.starts_with("in")
        && last[2..].chars().all(|c| c.is_ascii_digit())
}

/// Reads `path` and returns a model of the width its shapes imply.
pub fn import_state_dict(path: &Path, device: Device) -> Result<Model> {
    let err = |reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    let tensors = load_state_dict(
        path,
        "old non-zip files: re-save with torch.save in a recent torch",
    )?;
    let kept: Vec<(String, Tensor)> = tensors
        .into_iter()
        .filter(|(k, _)| !is_legacy_key(k))
        .collect();
    let conv1 = kept
        .iter()
        .find(|(k, _)| k == "conv1.conv2d.weight")
        .ok_or_else(|| {
            err("no tensor conv1.conv2d.weight: not a pytorch/examples TransformerNet".into())
        })?;
    let out = conv1.1.size().first().copied().unwrap_or(0);
    let arch = Arch {
        norm: IMPORT_NORM,
        width: out as f64 / 32.0,
    };
    arch.validate().map_err(|_| {
        err(format!(
            "conv1.conv2d.weight has {out} filters, not a width this network allows"
        ))
    })?;
    let mut info = blank_info(arch);
    info.source = format!(
        "imported from {}",
        path.file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let model = Model::new(info, device)?;
    copy_into(&model.vs, kept, path)?;
    Ok(model)
}
