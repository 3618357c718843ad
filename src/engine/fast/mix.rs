//! Choosing the style(s) of a multi-style (CIN) model: `NAME|INDEX[:W]`
//! entries, split as stylize's `--style` weights are
//! ([`crate::engine::gatys::spec::StyleRef::split`]) and normalised to sum to 1.
//! A name is matched first, then a 0-based index (so a style named `3` is
//! found by name).

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::model_file::StyleSource;
use crate::engine::gatys::spec::StyleRef;
use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::mix_weights::normalised;

/// The weights of a model's styles for one output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StyleMix {
    /// One weight per style of the model, in its order, summing to 1.
    pub weights: Vec<f64>,
    /// For names and provenance: `name` or `name-0.7+other-0.3`.
    pub label: String,
}

impl StyleMix {
    /// Style `i` of `styles` alone.
    pub fn single(styles: &[StyleSource], i: usize) -> Result<Self> {
        let s = styles.get(i).ok_or_else(|| out_of_range(i, styles.len()))?;
        let mut weights = vec![0.0; styles.len()];
        weights[i] = 1.0;
        Ok(Self {
            weights,
            label: s.name.clone(),
        })
    }

    /// Resolves `entries` (`NAME|INDEX[:W]`, W ≥ 0, 1 by default) against a
    /// model's `styles`; a style named twice adds its weights. The weights
    /// pass the one check of [`normalised`].
    pub fn parse(entries: &[String], styles: &[StyleSource]) -> Result<Self> {
        if entries.is_empty() {
            return Err(Error::invalid("style", "none given"));
        }
        let mut parts = Vec::new();
        for e in entries {
            let (q, w) = StyleRef::split(e)?;
            parts.push((find(q, styles)?, w));
        }
        let norm = normalised(&parts.iter().map(|&(_, w)| w).collect::<Vec<_>>())?;
        let mut weights = vec![0.0; styles.len()];
        for (&(i, _), &w) in parts.iter().zip(&norm) {
            weights[i] += w;
        }
        let label = label(
            &parts
                .iter()
                .zip(&norm)
                .map(|(&(i, _), &w)| (styles[i].name.as_str(), w))
                .collect::<Vec<_>>(),
        );
        Ok(Self { weights, label })
    }

    /// Whether any entry carries an explicit `:W` (a mix rather than a list).
    pub fn has_weights(entries: &[String]) -> bool {
        entries.iter().any(|e| {
            e.rsplit_once(':')
                .is_some_and(|(n, w)| !n.is_empty() && w.trim().parse::<f64>().is_ok())
        })
    }

    /// The weights as a `[n, styles]` tensor (the same row for each image).
    pub fn tensor(&self, n: i64, device: Device) -> Result<Tensor> {
        let w: Vec<f32> = self.weights.iter().map(|&w| w as f32).collect();
        Ok(Tensor::f_from_slice(&w)?
            .f_view([1, w.len() as i64])?
            .f_expand([n, w.len() as i64], false)?
            .f_to_kind(Kind::Float)?
            .f_to_device(device)?)
    }
}

fn out_of_range(i: usize, n: usize) -> Error {
    Error::invalid(
        "style",
        format!(
            "index {i} is out of range: the model has {n} styles (0 … {})",
            n.saturating_sub(1)
        ),
    )
}

/// A style by name, else by 0-based index.
fn find(q: &str, styles: &[StyleSource]) -> Result<usize> {
    if let Some(i) = styles.iter().position(|s| s.name == q) {
        return Ok(i);
    }
    if let Ok(i) = q.trim().parse::<usize>() {
        return if i < styles.len() {
            Ok(i)
        } else {
            Err(out_of_range(i, styles.len()))
        };
    }
    Err(Error::invalid(
        "style",
        format!(
            "the model has no style '{q}' (it has: {})",
            style_list(styles)
        ),
    ))
}

/// A model's styles for messages: `0:name, 1:name, …`.
pub fn style_list(styles: &[StyleSource]) -> String {
    styles
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{i}:{}", s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A mix's name in output names: the style's name alone, or `name-w+…`
/// with the weights normalised (`irises-0.75+the-harvesters-0.25`).
pub fn label<S: AsRef<str>>(parts: &[(S, f64)]) -> String {
    if let [(name, _)] = parts {
        return name.as_ref().to_string();
    }
    let sum: f64 = parts.iter().map(|(_, w)| w).sum();
    parts
        .iter()
        .map(|(n, w)| format!("{}-{}", n.as_ref(), trim(w / sum)))
        .collect::<Vec<_>>()
        .join("+")
}

/// A weight for a label: at most 3 decimals, no trailing zeros.
pub fn trim(w: f64) -> String {
    let s = format!("{w:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}
