//! Model files: safetensors holding the network's tensors (fp16, loaded to
//! f32) and string metadata saying what the network is and how it was made.
//!
//! Metadata keys: `format_version`, `architecture`, `norm`, `width` (checked
//! before any tensor is read) and `atelier`, the JSON of [`ModelInfo`].
//! `architecture` is [`ARCHITECTURE`] for a single-style network and
//! [`CIN_ARCHITECTURE`] for a conditional (multi-style) one, whose `styles`
//! lists its styles in the order of the rows of its γ, β tables.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, View};
use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use super::transformer::{Arch, Norm, StyleNet};
use crate::engine::arbitrary::model_file::{info_from as arbitrary_info, Method};
use crate::engine::infra::error::{Error, Result};

/// Version of the model file layout; a file with another one is refused.
pub const FORMAT_VERSION: u32 = 1;
/// The single-style network's architecture.
pub const ARCHITECTURE: &str = "johnson-transformer-net";
/// The same network with conditional instance norm (many styles).
pub const CIN_ARCHITECTURE: &str = "cin";
/// MSG-Net (Zhang & Dana 2017), see [`super::msg`].
pub const MSG_ARCHITECTURE: &str = "msg-net";

/// The `architecture` metadata value for `arch`.
pub fn architecture_of(arch: &Arch) -> &'static str {
    match arch.norm {
        Norm::Conditional { .. } => CIN_ARCHITECTURE,
        Norm::Inspiration { .. } => MSG_ARCHITECTURE,
        _ => ARCHITECTURE,
    }
}

/// A style image a model was trained on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StyleSource {
    /// What `--style NAME` calls it (the image's stem unless given); files
    /// from before names were recorded get the stem when read.
    #[serde(default)]
    pub name: String,
    pub path: PathBuf,
    pub sha256: String,
}

impl StyleSource {
    /// A style named after its file stem.
    pub fn new(path: PathBuf, sha256: String) -> Self {
        Self {
            name: stem_of(&path),
            path,
            sha256,
        }
    }
}

fn stem_of(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "style".into())
}

/// What was found under a training set's folder. Model files record its
/// folder's name and manifest hash, not where it was (see `provenance`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    /// The folder's name (`photos` for `datasets/photos`).
    #[serde(default)]
    pub name: String,
    /// [`Dataset::manifest_sha256`](super::dataset::Dataset::manifest_sha256).
    #[serde(default)]
    pub manifest_sha256: String,
    pub path: PathBuf,
    pub images: usize,
    pub skipped: usize,
}

/// Everything a model file says about itself besides its tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub arch: Arch,
    pub styles: Vec<StyleSource>,
    /// The training settings (a `TrainSpec` as JSON), absent for imports.
    #[serde(default)]
    pub training: Option<serde_json::Value>,
    #[serde(default)]
    pub iterations: u64,
    /// Final losses by series name (content, style, tv, total).
    #[serde(default)]
    pub final_losses: BTreeMap<String, f64>,
    #[serde(default)]
    pub dataset: Option<DatasetSummary>,
    /// Where the weights came from: "trained by atelier", "imported from …".
    #[serde(default)]
    pub source: String,
    /// Device and wall time of the training, when trained here.
    #[serde(default)]
    pub device: Option<String>,
    #[serde(default)]
    pub seconds: Option<f64>,
}

/// A network with its weights, ready to apply or train.
pub struct Model {
    pub vs: nn::VarStore,
    pub net: StyleNet,
    pub info: ModelInfo,
}

impl Model {
    /// A freshly initialised network (the caller seeds tch for reproducibility).
    pub fn new(info: ModelInfo, device: Device) -> Result<Self> {
        info.arch.validate()?;
        let vs = nn::VarStore::new(device);
        let net = StyleNet::new(&vs.root(), info.arch);
        Ok(Self { vs, net, info })
    }

    /// Loads a model file, checking version and architecture first.
    pub fn load(path: &Path, device: Device) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(path.to_path_buf()),
            _ => Error::io(path, e),
        })?;
        let (info, tensors) = parse(path, &bytes)?;
        let model = Self::new(info, device)?;
        copy_into(&model.vs, tensors, path)?;
        Ok(model)
    }

    /// Writes the model atomically (temp file + rename), fp16 tensors; refuses
    /// to replace an existing file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let tensors = named_tensors(&self.vs, Kind::Half)?;
        ensure_finite(path, &tensors)?;
        write_atomic(path, &tensors, metadata(&self.info)?, false)
    }
}

fn model_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Model {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The metadata map of a model (or checkpoint) file.
pub fn metadata(info: &ModelInfo) -> Result<HashMap<String, String>> {
    let json = super::provenance::portable_json(info)?;
    Ok(HashMap::from([
        ("format_version".to_string(), FORMAT_VERSION.to_string()),
        (
            "architecture".to_string(),
            architecture_of(&info.arch).to_string(),
        ),
        ("norm".to_string(), info.arch.norm.to_string()),
        ("width".to_string(), info.arch.width.to_string()),
        ("atelier".to_string(), json),
    ]))
}

/// Reads only the metadata of a model file (for listings).
pub fn read_info(path: &Path) -> Result<ModelInfo> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(parse(path, &bytes)?.0)
}

/// Checks the header and returns the info and the tensors (as f32 on the CPU).
pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<(ModelInfo, Vec<(String, Tensor)>)> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| {
        model_err(
            path,
            format!("not a readable model file (corrupt or truncated: {e:?})"),
        )
    })?;
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| model_err(path, format!("unreadable header: {e:?}")))?;
    let meta = header.metadata().clone().unwrap_or_default();
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
    let arch = meta.get("architecture").map(String::as_str).unwrap_or("");
    if arch.parse::<Method>().is_ok() {
        // An adain/wct file: say what is wrong with it as such, if anything.
        arbitrary_info(path, &meta)?;
        return Err(model_err(
            path,
            format!("an {arch} model, not a fast-style network"),
        ));
    }
    if ![ARCHITECTURE, CIN_ARCHITECTURE, MSG_ARCHITECTURE].contains(&arch) {
        return Err(model_err(
            path,
            format!("architecture '{arch}', expected '{ARCHITECTURE}', '{CIN_ARCHITECTURE}' or '{MSG_ARCHITECTURE}'"),
        ));
    }
    let mut info: ModelInfo = meta
        .get("atelier")
        .ok_or_else(|| model_err(path, "metadata 'atelier' missing"))
        .and_then(|j| serde_json::from_str(j).map_err(|e| model_err(path, broken_metadata(&e))))?;
    if architecture_of(&info.arch) != arch {
        return Err(model_err(
            path,
            format!("architecture '{arch}' but {} norm", info.arch.norm),
        ));
    }
    if info.arch.norm.is_conditional() && info.styles.len() != info.arch.norm.styles() {
        return Err(model_err(
            path,
            format!(
                "{} styles listed for a network of {}",
                info.styles.len(),
                info.arch.norm.styles()
            ),
        ));
    }
    for s in &mut info.styles {
        if s.name.is_empty() {
            s.name = stem_of(&s.path);
        }
    }
    Ok((info, tensors_of(path, &st)?))
}

/// The reason for a metadata `atelier` that does not parse.
pub(crate) fn broken_metadata(e: &serde_json::Error) -> String {
    format!("broken metadata: 'atelier' is not readable ({e})")
}

/// The tensors of a model file as f32 on the CPU; a dtype other than fp16
/// or f32, or a NaN or infinite value, is refused by tensor name.
pub(crate) fn tensors_of(path: &Path, st: &SafeTensors) -> Result<Vec<(String, Tensor)>> {
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
    meta: HashMap<String, String>,
    overwrite: bool,
) -> Result<()> {
    let write_err = |reason: String| Error::Write {
        path: path.to_path_buf(),
        reason,
    };
    if !overwrite && path.exists() {
        return Err(Error::OutputExists(path.to_path_buf()));
    }
    let bytes =
        safetensors::tensor::serialize(tensors.iter().map(|(k, b)| (k.as_str(), b)), &Some(meta))
            .map_err(|e| write_err(format!("{e:?}")))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| write_err(e.to_string()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".atelier-")
        .suffix(".part")
        .tempfile_in(&dir)
        .map_err(|e| write_err(e.to_string()))?;
    tmp.write_all(&bytes)
        .map_err(|e| write_err(e.to_string()))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| write_err(e.to_string()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| write_err(e.to_string()))?;
    }
    if overwrite {
        tmp.persist(path)
            .map_err(|e| write_err(e.error.to_string()))?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                Error::OutputExists(path.to_path_buf())
            } else {
                write_err(e.error.to_string())
            }
        })?;
    }
    Ok(())
}

/// Info for a network of `arch` with nothing known yet.
pub fn blank_info(arch: Arch) -> ModelInfo {
    ModelInfo {
        arch,
        styles: Vec::new(),
        training: None,
        iterations: 0,
        final_losses: BTreeMap::new(),
        dataset: None,
        source: String::new(),
        device: None,
        seconds: None,
    }
}

/// `Norm` default for imports: pytorch/examples networks use instance norm.
pub const IMPORT_NORM: Norm = Norm::Instance;
