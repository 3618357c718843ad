//! Model files: safetensors holding the network's tensors (fp16, loaded to
//! f32) and string metadata saying what the network is and how it was made.
//!
//! Metadata keys: `format_version`, `architecture`, `norm`, `width` (checked
//! before any tensor is read) and `atelier`, the JSON of [`ModelInfo`].
//! `architecture` is [`ARCHITECTURE`] for a single-style network and
//! [`CIN_ARCHITECTURE`] for a conditional (multi-style) one, whose `styles`
//! lists its styles in the order of the rows of its γ, β tables.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

pub use super::safetensors_file::FORMAT_VERSION;
use super::safetensors_file::{
    self as file, copy_into, ensure_finite, model_err, named_tensors, write_atomic,
};
use super::transformer::{Arch, Norm, StyleNet};
use crate::engine::arbitrary::model_file::{info_from as arbitrary_info, Method};
use crate::engine::infra::error::{Error, Result};

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
        let (info, tensors) = parse(path, &file::read_bytes(path)?)?;
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

/// The metadata map of a model (or checkpoint) file.
pub fn metadata(info: &ModelInfo) -> Result<HashMap<String, String>> {
    file::metadata(
        architecture_of(&info.arch),
        info,
        &[
            ("norm", info.arch.norm.to_string()),
            ("width", info.arch.width.to_string()),
        ],
    )
}

/// Reads only the metadata of a model file (for listings).
pub fn read_info(path: &Path) -> Result<ModelInfo> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(parse(path, &bytes)?.0)
}

/// Checks the header and returns the info and the tensors (as f32 on the CPU).
pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<(ModelInfo, Vec<(String, Tensor)>)> {
    let (st, meta) = file::open(path, bytes, "model file")?;
    file::check_version(path, &meta)?;
    let arch = file::architecture(&meta);
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
    let mut info: ModelInfo = file::info_of(path, &meta)?;
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
    Ok((info, file::tensors_of(path, &st)?))
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
