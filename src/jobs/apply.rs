//! The `apply` kind: a trained fast-style model applied to one or many
//! photos in one pass each ([`crate::engine::fast::apply`]).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::input::Input;
use super::summary::Summary;
use crate::engine::fast::mix::StyleMix;
use crate::engine::fast::model_file::read_info;
use crate::engine::image_io::DEFAULT_PIXEL_LIMIT;
use crate::engine::Error;

pub const KIND: &str = "apply";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The model file (absolute) and its library name, if it has one.
    pub model: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// The photos, in order; each gives one output in the run folder.
    pub contents: Vec<PathBuf>,
    /// Longer side of the outputs; `None`: each photo's own size.
    #[serde(default)]
    pub size: Option<u32>,
    #[serde(default = "default_pixel_limit")]
    pub pixel_limit: u64,
    /// A multi-style model's styles and weights (required for one, absent
    /// for a single-style model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mix: Option<StyleMix>,
}

fn default_pixel_limit() -> u64 {
    DEFAULT_PIXEL_LIMIT
}

/// After every photo.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Progress {
    pub done: usize,
    pub of: usize,
    pub elapsed: Duration,
}

/// The outputs written, in the order of the contents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub model: String,
    pub outputs: Vec<PathBuf>,
    pub seconds: f64,
}

/// A stopped apply job restarts at the first photo whose output is missing
/// (each output is written atomically, so a present one is complete).
#[derive(Clone, Debug, PartialEq)]
pub struct Resume {
    pub done: usize,
}

impl Spec {
    pub fn validate(&self) -> Result<(), Error> {
        if self.contents.is_empty() {
            return Err(Error::invalid("contents", "none given"));
        }
        if let Some(s) = self.size {
            if !(16..=8192).contains(&s) {
                return Err(Error::invalid("size", format!("{s} (use 16 to 8192 px)")));
            }
        }
        Ok(())
    }

    /// The model's display name: its library name, else its file stem.
    pub fn model_display(&self) -> String {
        self.model_name
            .clone()
            .unwrap_or_else(|| super::stylize::stem(&self.model))
    }

    /// The model's name with the style mix, as outputs are named
    /// (`model` or `model-style`).
    pub fn label(&self) -> String {
        match &self.mix {
            Some(m) => format!("{}-{}", self.model_display(), m.label),
            None => self.model_display(),
        }
    }

    /// The checked inputs (the model file must be a readable model whose
    /// styles fit the mix, each content must decode), with absolute paths
    /// written back.
    pub fn inputs(&mut self) -> Result<Vec<Input>, Error> {
        let info = read_info(&self.model)?;
        match (&self.mix, info.arch.norm.is_conditional()) {
            (None, true) => {
                return Err(Error::invalid(
                    "style",
                    format!(
                        "{} is a multi-style model: choose its style(s)",
                        self.model_display()
                    ),
                ))
            }
            (Some(_), false) => {
                return Err(Error::invalid(
                    "style",
                    format!(
                        "{} is a single-style model: it has no styles to choose",
                        self.model_display()
                    ),
                ))
            }
            (Some(m), true) if m.weights.len() != info.styles.len() => {
                return Err(Error::invalid(
                    "style",
                    format!(
                        "weights for {} styles; {} has {}",
                        m.weights.len(),
                        self.model_display(),
                        info.styles.len()
                    ),
                ))
            }
            _ => {}
        }
        let abs = std::fs::canonicalize(&self.model).map_err(|e| Error::io(&self.model, e))?;
        let sha = crate::engine::weights::sha256_file(&abs)?;
        self.model = abs.clone();
        let mut out = vec![Input::hashed("model", self.model_name.clone(), abs, sha)];
        for c in self.contents.iter_mut() {
            let i = Input::checked("content", None, c, self.pixel_limit)?;
            *c = i.path.clone();
            out.push(i);
        }
        Ok(out)
    }

    /// The file name of the output for content `i` (`<stem>__<label>.png`).
    pub fn output_name(&self, i: usize) -> String {
        let stem = self
            .contents
            .get(i)
            .map(|c| super::stylize::stem(c))
            .unwrap_or_default();
        format!("{i:03}-{stem}__{}.png", self.label())
    }
}

pub fn summary(p: &Progress) -> Summary {
    Summary::counted(KIND, p.done, p.of, p.elapsed.as_secs_f64())
}
