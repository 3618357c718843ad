//! The one reader and writer of atelier's safetensors files — fast-style
//! and adain/wct model files and training checkpoints alike: tensors as fp16
//! or f32 (read back as f32 on the CPU), string metadata with
//! `format_version`, `architecture` and `atelier` (the JSON of the file's
//! info, its folders stripped by `provenance`). A damaged or hostile file is
//! refused with one line naming it and what is wrong, before a tensor is
//! made from it; files are written atomically (temp file + rename).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, View};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tch::{nn, Device, Kind, Tensor};

use crate::engine::infra::error::{Error, Result};

/// Version of the file layout; a file with another one is refused.
pub const FORMAT_VERSION: u32 = 1;

/// The metadata of a file, by key.
pub(crate) type Metadata = HashMap<String, String>;
/// A file's tensors by name.
pub(crate) type Named = Vec<(String, Tensor)>;

pub(crate) fn model_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Model {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The bytes of the file at `path`; a missing one is `NotFound` (the CLI
/// then names the models there are).
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound(path.to_path_buf()),
        _ => Error::io(path, e),
    })
}

/// The tensor table and the metadata of `bytes`; `what` names the kind of
/// file in the refusal of one that does not parse ("model file").
pub(crate) fn open<'a>(
    path: &Path,
    bytes: &'a [u8],
    what: &str,
) -> Result<(SafeTensors<'a>, Metadata)> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| {
        model_err(
            path,
            format!("not a readable {what} (corrupt or truncated: {e:?})"),
        )
    })?;
    Ok((st, header(path, bytes)?))
}

/// Only the metadata of `bytes` (for listings: no tensor is looked at).
pub(crate) fn header(path: &Path, bytes: &[u8]) -> Result<Metadata> {
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| model_err(path, format!("unreadable header: {e:?}")))?;
    Ok(header.metadata().clone().unwrap_or_default())
}

/// Refuses a file without our `format_version` or with another one.
pub(crate) fn check_version(path: &Path, meta: &Metadata) -> Result<()> {
    let version = meta.get("format_version").ok_or_else(|| {
        model_err(
            path,
            "no format_version: not an atelier model file (a .pth? use `atelier models import`)",
        )
    })?;
    if version.parse::<u32>().ok() != Some(FORMAT_VERSION) {
        return Err(model_err(
            path,
            format!("format version {version} is not one this atelier reads (it reads {FORMAT_VERSION}); a newer atelier made it"),
        ));
    }
    Ok(())
}

/// The `architecture` metadata value ("" when there is none).
pub(crate) fn architecture(meta: &Metadata) -> &str {
    meta.get("architecture").map(String::as_str).unwrap_or("")
}

/// The JSON under metadata `key`, parsed; `missing` is the refusal of a
/// file without it.
pub(crate) fn json_of<T: DeserializeOwned>(
    path: &Path,
    meta: &Metadata,
    key: &str,
    missing: &str,
) -> Result<T> {
    let json = meta.get(key).ok_or_else(|| model_err(path, missing))?;
    serde_json::from_str(json).map_err(|e| {
        model_err(
            path,
            format!("broken metadata: '{key}' is not readable ({e})"),
        )
    })
}

/// The file's info: the JSON of metadata `atelier`.
pub(crate) fn info_of<T: DeserializeOwned>(path: &Path, meta: &Metadata) -> Result<T> {
    json_of(path, meta, "atelier", "metadata 'atelier' missing")
}

/// The metadata of a file of `architecture` describing itself with `info`,
/// plus `extra` keys.
pub(crate) fn metadata<T: Serialize>(
    architecture: &str,
    info: &T,
    extra: &[(&str, String)],
) -> Result<Metadata> {
    let json = super::provenance::portable_json(info)?;
    let mut meta = HashMap::from([
        ("format_version".to_string(), FORMAT_VERSION.to_string()),
        ("architecture".to_string(), architecture.to_string()),
        ("atelier".to_string(), json),
    ]);
    meta.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    Ok(meta)
}

/// The tensors of a file as f32 on the CPU; a dtype other than fp16 or f32,
/// or a NaN or infinite value, is refused by tensor name.
pub(crate) fn tensors_of(path: &Path, st: &SafeTensors) -> Result<Named> {
    let mut tensors = Vec::new();
    for (name, view) in st.tensors() {
        let kind = match view.dtype() {
            Dtype::F16 => Kind::Half,
            Dtype::F32 => Kind::Float,
            d => return Err(model_err(path, format!("tensor {name}: dtype {d:?}"))),
        };
        if !finite(view.dtype(), view.data()) {
            return Err(model_err(path, non_finite(&name)));
        }
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let t = Tensor::f_from_data_size(view.data(), &shape, kind)?.f_to_kind(Kind::Float)?;
        tensors.push((name, t));
    }
    Ok(tensors)
}

/// Why a tensor is refused when it holds non-finite values.
pub(crate) fn non_finite(name: &str) -> String {
    format!("tensor {name} holds NaN or infinite values")
}

/// Whether every value of little-endian `data` of `dtype` is finite (only
/// fp16 and f32 are written or read here).
fn finite(dtype: Dtype, data: &[u8]) -> bool {
    match dtype {
        // fp16: all exponent bits set is infinity or NaN.
        Dtype::F16 => data
            .chunks_exact(2)
            .all(|c| u16::from_le_bytes([c[0], c[1]]) & 0x7c00 != 0x7c00),
        Dtype::F32 => data
            .chunks_exact(4)
            .all(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]).is_finite()),
        _ => true,
    }
}

/// Refuses to write a model whose weights (as stored: fp16 overflows past
/// 65504) are not all finite: a diverged training would leave a model that
/// makes black images.
pub(crate) fn ensure_finite(path: &Path, tensors: &[(String, Blob)]) -> Result<()> {
    match tensors.iter().find(|(_, b)| !finite(b.dtype, &b.data)) {
        Some((name, b)) => Err(Error::Write {
            path: path.to_path_buf(),
            reason: format!(
                "{}{}; the training diverged? nothing written",
                non_finite(name),
                if b.dtype == Dtype::F16 {
                    " in fp16 (beyond ±65504)"
                } else {
                    ""
                }
            ),
        }),
        None => Ok(()),
    }
}

/// Copies named tensors into the variables of `vs`; a missing, extra or
/// misshapen tensor is an error naming it.
pub(crate) fn copy_into(
    vs: &nn::VarStore,
    tensors: Vec<(String, Tensor)>,
    path: &Path,
) -> Result<()> {
    let mut vars = vs.variables();
    let mut seen = HashSet::new();
    for (name, t) in tensors {
        let var = vars.get_mut(&name).ok_or_else(|| {
            model_err(
                path,
                format!("unexpected tensor {name} (another architecture?)"),
            )
        })?;
        if var.size() != t.size() {
            return Err(model_err(
                path,
                format!(
                    "tensor {name} has shape {:?}, the network wants {:?}",
                    t.size(),
                    var.size()
                ),
            ));
        }
        tch::no_grad(|| var.f_copy_(&t))?;
        seen.insert(name);
    }
    let mut missing: Vec<&String> = vars.keys().filter(|k| !seen.contains(*k)).collect();
    missing.sort();
    match missing.first() {
        Some(first) => Err(model_err(
            path,
            format!(
                "{} of {} tensors missing (e.g. {first})",
                missing.len(),
                vars.len()
            ),
        )),
        None => Ok(()),
    }
}

/// Tensor bytes in a given dtype, for writing.
pub(crate) struct Blob {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for &Blob {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

pub(crate) fn blob(t: &Tensor, kind: Kind) -> Result<Blob> {
    let t = t
        .f_detach()?
        .f_to_device(Device::Cpu)?
        .f_to_kind(kind)?
        .f_contiguous()?;
    let numel = t.numel();
    let mut data = vec![0u8; numel * kind.elt_size_in_bytes()];
    t.f_copy_data_u8(&mut data, numel)?;
    Ok(Blob {
        dtype: if kind == Kind::Half {
            Dtype::F16
        } else {
            Dtype::F32
        },
        shape: t.size().iter().map(|&d| d as usize).collect(),
        data,
    })
}

/// Every variable of `vs` (running statistics included) as bytes of `kind`.
pub(crate) fn named_tensors(vs: &nn::VarStore, kind: Kind) -> Result<Vec<(String, Blob)>> {
    let mut v: Vec<(String, Blob)> = vs
        .variables()
        .iter()
        .map(|(k, t)| Ok((k.clone(), blob(t, kind)?)))
        .collect::<Result<_>>()?;
    v.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(v)
}

/// Serialises and writes atomically into `path`'s folder.
pub(crate) fn write_atomic(
    path: &Path,
    tensors: &[(String, Blob)],
    meta: Metadata,
    overwrite: bool,
) -> Result<()> {
    let write_err = |reason: String| Error::Write {
        path: path.to_path_buf(),
        reason,
    };
    let bytes =
        safetensors::tensor::serialize(tensors.iter().map(|(k, b)| (k.as_str(), b)), &Some(meta))
            .map_err(|e| write_err(format!("{e:?}")))?;
    crate::engine::infra::output::write_bytes_atomic(path, &bytes, overwrite)
}
