//! Importing naoto0804/pytorch-AdaIN's published weights: `decoder.pth` (the
//! decoder `nn.Sequential`'s state dict, keys `1.weight` … `28.bias`) with
//! its encoder `vgg_normalised.pth` (keys `0.weight` … `51.bias`; the layers
//! past relu4_1 are not used and dropped). Shapes decide the widths; a key
//! that does not fit the layout is refused by name.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use tch::{Device, Tensor};

use super::decoder::{mirror, Op};
use super::encoder::{EdgePadding, SEQUENTIAL_KEYS};
use super::model_file::{encoder_from_keys, ArbInfo, ArbModel, EncoderSource, Method, TrainRecord};
use crate::engine::fast::safetensors_file::copy_into;
use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::pth::load_state_dict;

/// The level naoto0804's decoder starts from (relu4_1).
pub const ADAIN_LEVEL: usize = 4;

fn load_pth(path: &Path) -> Result<HashMap<String, Tensor>> {
    Ok(load_state_dict(
        path,
        "the 2018 files are in torch's legacy format: re-save them as a plain dict with a recent torch: python -c \"import torch; torch.save(dict(torch.load('F')), 'F2')\"",
    )?
    .into_iter()
    .collect())
}

/// `N.weight` / `N.bias` → N.
fn seq_index(key: &str) -> Option<usize> {
    let (n, what) = key.split_once('.')?;
    matches!(what, "weight" | "bias").then_some(())?;
    n.parse().ok()
}

/// Reads both files and returns an AdaIN model carrying its encoder.
pub fn import_adain(decoder: &Path, encoder: &Path, device: Device) -> Result<ArbModel> {
    let err = |path: &Path, reason: String| Error::Model {
        path: path.to_path_buf(),
        reason,
    };
    let mut enc_t = load_pth(encoder)?;
    let conv_keys: Vec<usize> = std::iter::once(0)
        .chain(SEQUENTIAL_KEYS.iter().copied())
        .chain([45, 48, 51]) // conv5_2 … conv5_4, never used
        .collect();
    let mut keys: Vec<&String> = enc_t.keys().collect();
    keys.sort();
    for k in keys {
        if !seq_index(k).is_some_and(|i| conv_keys.contains(&i)) {
            return Err(err(
                encoder,
                format!("unexpected tensor {k}: not naoto0804's vgg_normalised layout"),
            ));
        }
    }
    let enc = encoder_from_keys(&mut enc_t, ADAIN_LEVEL, EdgePadding::Reflect, device)
        .map_err(|e| err(encoder, e.to_string()))?;

    let dec_t = load_pth(decoder)?;
    let enc_ch = enc.conv_channels();
    // The keys do not depend on the width: check them before any shape.
    let known: Vec<usize> = mirror(&enc_ch, ADAIN_LEVEL, 1.0)?
        .iter()
        .filter_map(|o| match o {
            Op::Conv { key, .. } => Some(*key),
            Op::Up => None,
        })
        .collect();
    let mut names: Vec<(&String, &Tensor)> = dec_t.iter().collect();
    names.sort_by(|a, b| a.0.cmp(b.0));
    let mut renamed = Vec::new();
    for (k, t) in names {
        if !seq_index(k).is_some_and(|i| known.contains(&i)) {
            return Err(err(
                decoder,
                format!("unexpected tensor {k}: not the pytorch-AdaIN decoder layout"),
            ));
        }
        renamed.push((format!("decoder{ADAIN_LEVEL}.{k}"), t.shallow_clone()));
    }
    let first = dec_t.get("1.weight").ok_or_else(|| {
        err(
            decoder,
            "no tensor 1.weight: not a pytorch-AdaIN decoder".into(),
        )
    })?;
    let s = first.size();
    let want_in = enc.channels(ADAIN_LEVEL);
    if s.len() != 4 || s[1] != want_in {
        return Err(err(
            decoder,
            format!("tensor 1.weight has shape {s:?}; the encoder gives {want_in} channels"),
        ));
    }
    // 1.weight mirrors conv4_1, whose input is conv3_4's output.
    let width = s[0] as f64 / enc_ch[8].0 as f64;
    let ops = mirror(&enc_ch, ADAIN_LEVEL, width)?;
    let name = |p: &Path| {
        p.file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let info = ArbInfo {
        method: Method::Adain,
        encoder: EncoderSource::Embedded,
        padding: EdgePadding::Reflect,
        width,
        decoders: BTreeMap::from([(ADAIN_LEVEL, ops)]),
        input_scale: BTreeMap::new(),
        styles: Vec::new(),
        records: vec![TrainRecord {
            level: ADAIN_LEVEL,
            training: None,
            iterations: 0,
            final_losses: BTreeMap::new(),
            dataset: None,
            source: format!(
                "imported from {} (encoder {})",
                name(decoder),
                name(encoder)
            ),
            device: None,
            seconds: None,
        }],
    };
    let model = ArbModel::with_encoder(info, enc, device)?;
    copy_into(&model.vs, renamed, decoder)?;
    Ok(model)
}
