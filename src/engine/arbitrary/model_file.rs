//! Model files of the arbitrary-style methods: safetensors (fp16 tensors,
//! loaded to f32) with the metadata keys of fast-style files —
//! `format_version`, `architecture` (`adain` or `wct`), `atelier` (the JSON of
//! [`ArbInfo`]). The decoders are `decoder{L}.{key}.{weight,bias}`; an
//! imported encoder travels in the file as `encoder.{key}.…` (naoto0804's
//! keys), ours is the VGG19 of `weights/`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tch::{nn, Device, Kind, Tensor};

use super::decoder::{Decoder, Op};
use super::encoder::{EdgePadding, Encoder, SEQUENTIAL_KEYS, TAP_AFTER};
use crate::engine::fast::model_file::{DatasetSummary, StyleSource};
use crate::engine::fast::safetensors_file::{
    self as file, blob, copy_into, ensure_finite, model_err, write_atomic,
};
use crate::engine::infra::error::{Error, Result};
use crate::engine::nets::weights::Weights;

/// Which feature transform a model's decoders were made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// One decoder from relu4_1, trained with a style loss.
    Adain,
    /// Reconstruction decoders, one per level.
    Wct,
}

impl Method {
    /// The `architecture` metadata value.
    pub fn architecture(self) -> &'static str {
        match self {
            Self::Adain => "adain",
            Self::Wct => "wct",
        }
    }
}

impl FromStr for Method {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "adain" => Ok(Self::Adain),
            "wct" => Ok(Self::Wct),
            _ => Err(Error::invalid("arch", format!("'{s}' (use adain or wct)"))),
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.architecture())
    }
}

/// Where the encoder's weights are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncoderSource {
    /// atelier's VGG19 (`weights/vgg19.safetensors`).
    Vgg19,
    /// In the model file (an imported `vgg_normalised`).
    Embedded,
}

/// How one decoder was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainRecord {
    pub level: usize,
    /// The training settings (JSON), absent for imports.
    #[serde(default)]
    pub training: Option<serde_json::Value>,
    #[serde(default)]
    pub iterations: u64,
    #[serde(default)]
    pub final_losses: BTreeMap<String, f64>,
    #[serde(default)]
    pub dataset: Option<DatasetSummary>,
    /// "trained by atelier", "imported from …".
    pub source: String,
    #[serde(default)]
    pub device: Option<String>,
    #[serde(default)]
    pub seconds: Option<f64>,
}

/// Everything an arbitrary-style model file says about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArbInfo {
    pub method: Method,
    pub encoder: EncoderSource,
    pub padding: EdgePadding,
    /// Decoder width multiplier (1: naoto0804's channels).
    pub width: f64,
    /// The decoders by level: their layers.
    pub decoders: BTreeMap<usize, Vec<Op>>,
    /// What each decoder's input is multiplied by (absent: 1).
    #[serde(default)]
    pub input_scale: BTreeMap<usize, f64>,
    /// Style images of the training (AdaIN), none for reconstruction decoders.
    #[serde(default)]
    pub styles: Vec<StyleSource>,
    #[serde(default)]
    pub records: Vec<TrainRecord>,
}

impl ArbInfo {
    pub fn levels(&self) -> Vec<usize> {
        self.decoders.keys().copied().collect()
    }

    /// Iterations of all decoders' training together.
    pub fn iterations(&self) -> u64 {
        self.records.iter().map(|r| r.iterations).sum()
    }
}

/// An encoder, decoders and what they are.
pub struct ArbModel {
    pub vs: nn::VarStore,
    pub encoder: Encoder,
    pub decoders: BTreeMap<usize, Decoder>,
    pub info: ArbInfo,
}

/// The deepest level the encoder must reach for `info`'s decoders.
fn encoder_depth(info: &ArbInfo) -> usize {
    match info.method {
        Method::Adain => 4,
        Method::Wct => info.decoders.keys().copied().max().unwrap_or(1),
    }
}

impl ArbModel {
    /// Fresh decoders per `info` over our VGG19 encoder.
    pub fn new(info: ArbInfo, weights: &Weights, device: Device) -> Result<Self> {
        let depth = match info.method {
            // WCT models may gain levels later: encode as deep as there is.
            Method::Wct => super::encoder::LEVELS,
            Method::Adain => encoder_depth(&info),
        };
        let encoder = Encoder::from_vgg(weights, depth, info.padding, device)?;
        Self::with_encoder(info, encoder, device)
    }

    /// Fresh decoders per `info` over `encoder`.
    pub fn with_encoder(info: ArbInfo, encoder: Encoder, device: Device) -> Result<Self> {
        let vs = nn::VarStore::new(device);
        let mut decoders = BTreeMap::new();
        for (&level, ops) in &info.decoders {
            let scale = info.input_scale.get(&level).copied().unwrap_or(1.0);
            decoders.insert(
                level,
                Decoder::new(&(vs.root() / format!("decoder{level}")), ops.clone(), scale),
            );
        }
        Ok(Self {
            vs,
            encoder,
            decoders,
            info,
        })
    }

    /// Adds a fresh decoder at `level` (WCT training of a new level).
    pub fn add_decoder(&mut self, level: usize, ops: Vec<Op>, input_scale: f64) -> Result<()> {
        if self.decoders.contains_key(&level) {
            return Err(Error::invalid(
                "level",
                format!("{level}: this model has that decoder already"),
            ));
        }
        let d = Decoder::new(
            &(self.vs.root() / format!("decoder{level}")),
            ops.clone(),
            input_scale,
        );
        self.decoders.insert(level, d);
        self.info.decoders.insert(level, ops);
        self.info.input_scale.insert(level, input_scale);
        Ok(())
    }

    /// Loads a model file; our VGG19 is read from `vgg_weights` only if the
    /// file does not carry its encoder.
    pub fn load(path: &Path, vgg_weights: &Path, device: Device) -> Result<Self> {
        let (info, tensors) = read_model(path)?;
        let (mut enc_t, mut dec_t) = (HashMap::new(), Vec::new());
        for (k, t) in tensors {
            match k.strip_prefix("encoder.") {
                Some(rest) => {
                    enc_t.insert(rest.to_string(), t);
                }
                None => dec_t.push((k, t)),
            }
        }
        let encoder = match info.encoder {
            EncoderSource::Vgg19 => {
                if !enc_t.is_empty() {
                    return Err(model_err(
                        path,
                        "encoder tensors in a file that says it uses VGG19",
                    ));
                }
                let depth = match info.method {
                    Method::Wct => super::encoder::LEVELS,
                    Method::Adain => 4,
                };
                Encoder::from_vgg(&Weights::load(vgg_weights)?, depth, info.padding, device)?
            }
            EncoderSource::Embedded => {
                encoder_from_keys(&mut enc_t, encoder_depth(&info), info.padding, device)
                    .map_err(|e| model_err(path, e.to_string()))?
            }
        };
        let model = Self::with_encoder(info, encoder, device)?;
        copy_into(&model.vs, dec_t, path)?;
        Ok(model)
    }

    /// Writes the model atomically, fp16; `replace` allows replacing `path`
    /// (a WCT model gaining a level), otherwise an existing file is refused.
    pub fn save(&self, path: &Path, replace: bool) -> Result<()> {
        let mut tensors = Vec::new();
        for (k, t) in self.vs.variables() {
            tensors.push((k, blob(&t, Kind::Half)?));
        }
        if self.info.encoder == EncoderSource::Embedded {
            let (pre, convs) = self.encoder.tensors();
            let keys = std::iter::once(0).chain(SEQUENTIAL_KEYS.iter().copied());
            for ((w, b), key) in std::iter::once(pre).chain(convs.iter()).zip(keys) {
                // The encoder stays f32: its first layers see 0..255-scaled input.
                tensors.push((format!("encoder.{key}.weight"), blob(w, Kind::Float)?));
                tensors.push((format!("encoder.{key}.bias"), blob(b, Kind::Float)?));
            }
        }
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        ensure_finite(path, &tensors)?;
        write_atomic(path, &tensors, metadata(&self.info)?, replace)
    }
}

/// Builds an encoder to relu{depth}_1 from tensors under naoto0804's keys
/// (`0` the 1×1 conv, then [`SEQUENTIAL_KEYS`]), taking them out of `t`.
pub fn encoder_from_keys(
    t: &mut HashMap<String, Tensor>,
    depth: usize,
    padding: EdgePadding,
    device: Device,
) -> Result<Encoder> {
    let mut take = |key: usize| -> Result<(Tensor, Tensor)> {
        let get = |t: &mut HashMap<String, Tensor>, s: &str| {
            t.remove(&format!("{key}.{s}")).ok_or_else(|| {
                Error::invalid(
                    "encoder",
                    format!("no tensor {key}.{s}: not naoto0804's vgg_normalised layout"),
                )
            })
        };
        Ok((get(t, "weight")?, get(t, "bias")?))
    };
    let pre = take(0)?;
    let mut convs = Vec::new();
    for &k in &SEQUENTIAL_KEYS[..=TAP_AFTER[depth - 1]] {
        convs.push(take(k)?);
    }
    Encoder::from_tensors(pre, convs, padding, device)
}

/// The metadata map of a model file.
pub fn metadata(info: &ArbInfo) -> Result<HashMap<String, String>> {
    file::metadata(info.method.architecture(), info, &[])
}

/// Whether the file's `architecture` is one of ours (without reading tensors).
pub fn read_info(path: &Path) -> Result<ArbInfo> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    info_from(path, &file::header(path, &bytes)?)
}

/// The info of an adain/wct file from its metadata, checked.
pub(crate) fn info_from(path: &Path, meta: &HashMap<String, String>) -> Result<ArbInfo> {
    file::check_version(path, meta)?;
    let arch = file::architecture(meta);
    let method: Method = arch.parse().map_err(|_| {
        model_err(
            path,
            format!("architecture '{arch}', not an adain or wct model"),
        )
    })?;
    let info: ArbInfo = file::info_of(path, meta)?;
    if info.method != method {
        return Err(model_err(path, "architecture and metadata disagree"));
    }
    if info.decoders.is_empty() {
        return Err(model_err(path, "no decoders"));
    }
    Ok(info)
}

/// The level-`level` decoder of the model file at `path`, to start a
/// training from: it must be a decoder over our VGG19 with the same layers
/// (`ops`) and padding, so its weights mean the same thing here.
pub fn decoder_tensors(
    path: &Path,
    level: usize,
    ops: &[Op],
    padding: EdgePadding,
) -> Result<Vec<(String, Tensor)>> {
    let (info, tensors) = read_model(path)?;
    if info.encoder != EncoderSource::Vgg19 || info.padding != padding {
        return Err(model_err(
            path,
            format!(
                "its decoders invert {:?} with {} padding; this training uses VGG19 with {padding}",
                info.encoder, info.padding
            ),
        ));
    }
    match info.decoders.get(&level) {
        Some(o) if o.as_slice() == ops => {}
        Some(_) => {
            return Err(model_err(
                path,
                format!(
                    "its level-{level} decoder has other layers (width {})",
                    info.width
                ),
            ))
        }
        None => {
            return Err(model_err(
                path,
                format!("no level-{level} decoder (it has {:?})", info.levels()),
            ))
        }
    }
    let prefix = format!("decoder{level}.");
    Ok(tensors
        .into_iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .collect())
}

/// A model file's info and tensors, checked (the tensors as f32 on the
/// CPU); a missing file is `NotFound`.
fn read_model(path: &Path) -> Result<(ArbInfo, Vec<(String, Tensor)>)> {
    let bytes = file::read_bytes(path)?;
    let (st, meta) = file::open(path, &bytes, "model file")?;
    let info = info_from(path, &meta)?;
    Ok((info, file::tensors_of(path, &st)?))
}

/// A default name's file in a folder: `<dir>/<name>.safetensors`.
pub fn file_in(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.safetensors"))
}
