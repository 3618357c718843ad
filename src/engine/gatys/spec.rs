//! The run specification: everything that determines a style-transfer run,
//! serialisable (it travels to the queue and into the PNG text chunk) and
//! validated once before the engine sees it.

use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::engine::gatys::guides::MaskMode;
use crate::engine::gatys::mrf::StyleLoss;
use crate::engine::gatys::pyramid::{self, Scales};
use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::image_io::DEFAULT_PIXEL_LIMIT;
use crate::engine::infra::label_map::RegionMap;
use crate::engine::nets::color::ColorMode;
use crate::engine::nets::vgg::{Layer, Padding, Pooling};

/// A layer with its weight within its loss, written `relu4_2` or `relu4_2:0.5`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerWeight {
    pub layer: Layer,
    pub weight: f64,
}

impl FromStr for LayerWeight {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let (name, weight) = match s.split_once(':') {
            Some((n, w)) => {
                let w: f64 = w.trim().parse().map_err(|_| {
                    Error::invalid("layer weight", format!("'{w}' in '{s}' is not a number"))
                })?;
                (n, w)
            }
            None => (s, 1.0),
        };
        Ok(Self {
            layer: name.parse()?,
            weight,
        })
    }
}

/// One style image with its blend weight, written `path` or `path:0.7`.
///
/// Weights are relative: the engine normalises them to sum to 1 and blends the
/// styles' Gram matrices with them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StyleRef {
    pub path: PathBuf,
    #[serde(default = "one")]
    pub weight: f64,
}

fn one() -> f64 {
    1.0
}

impl StyleRef {
    /// Splits `name:weight` into the name and its weight (1 when there is no
    /// numeric suffix, so paths with colons in them still work).
    pub fn split(s: &str) -> Result<(&str, f64)> {
        if let Some((name, w)) = s.rsplit_once(':') {
            if let Ok(weight) = w.trim().parse::<f64>() {
                if name.is_empty() {
                    return Err(Error::invalid("style", format!("'{s}' has no image")));
                }
                return Ok((name, weight));
            }
        }
        Ok((s, 1.0))
    }
}

impl FromStr for StyleRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let (name, weight) = Self::split(s)?;
        Ok(Self {
            path: PathBuf::from(name),
            weight,
        })
    }
}

/// Parses a comma-separated list of layers with optional weights.
pub fn parse_layers(s: &str) -> Result<Vec<LayerWeight>> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(str::parse)
        .collect()
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    #[default]
    Lbfgs,
    Adam,
}

impl FromStr for OptimizerKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "lbfgs" | "l-bfgs" => Ok(Self::Lbfgs),
            "adam" => Ok(Self::Adam),
            _ => Err(Error::invalid(
                "optimizer",
                format!("'{s}' (use lbfgs or adam)"),
            )),
        }
    }
}

/// Where the optimisation starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    #[default]
    Content,
    Noise,
    Style,
}

impl FromStr for Init {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "content" => Ok(Self::Content),
            "noise" | "random" => Ok(Self::Noise),
            "style" => Ok(Self::Style),
            _ => Err(Error::invalid(
                "init",
                format!("'{s}' (use content, noise or style)"),
            )),
        }
    }
}

/// One style-transfer run. Loss weights follow jcjohnson/neural-style's scale
/// (the image in Caffe units, Gram matrices divided by C·H·W).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSpec {
    pub content: PathBuf,
    /// Style images with blend weights (at least one).
    pub styles: Vec<StyleRef>,
    /// One greyscale mask per style, in the order of the styles (white: this
    /// style, grey: partly); empty: the styles are blended everywhere.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub style_masks: Vec<PathBuf>,
    /// Instead of `style_masks`: one colour-coded map, a colour per style.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regions: Option<RegionMap>,
    /// Where the style acts at all; outside it the output is the photo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_mask: Option<PathBuf>,
    /// How the masks reach each layer.
    #[serde(skip_serializing_if = "MaskMode::is_default")]
    pub mask_mode: MaskMode,
    /// Longer side of the output, px.
    pub size: u32,
    /// The style images' longer side as a multiple of `size` (0.5 to 2): larger
    /// values give larger brush strokes.
    pub style_scale: f64,
    /// Optimiser iterations (over all scales together).
    pub steps: usize,
    /// Coarse-to-fine scales: `Count(1)` is a single-scale run.
    pub scales: Scales,
    /// Optimise in tiles of this many px (`None`: the whole image at once).
    pub tile: Option<u32>,
    /// Keep the content's colours: `none`, `luminance` or `histogram`.
    pub preserve_colors: ColorMode,
    pub content_weight: f64,
    pub style_weight: f64,
    pub tv_weight: f64,
    pub content_layers: Vec<LayerWeight>,
    pub style_layers: Vec<LayerWeight>,
    /// Gram matrices, MRF patches (Li & Wand) or both.
    pub style_loss: StyleLoss,
    /// Weight of the MRF loss (its layers' terms are summed with their weights).
    pub mrf_weight: f64,
    /// Layers whose 3×3 patches the MRF loss matches.
    pub mrf_layers: Vec<LayerWeight>,
    pub optimizer: OptimizerKind,
    /// Step size; `None` takes the optimiser's default (1 for L-BFGS, 10/255 for Adam).
    pub learning_rate: Option<f64>,
    pub lbfgs_history: usize,
    /// Strong-Wolfe line search for L-BFGS (off in neural-style).
    pub line_search: bool,
    pub init: Init,
    pub pooling: Pooling,
    /// How the network's convolutions pad their edges (`zero` as trained).
    pub padding: Padding,
    pub seed: u64,
    /// Images with more pixels are refused before decoding.
    pub pixel_limit: u64,
    /// A loss above this multiple of the best so far counts as divergence and
    /// rolls the run back to its best iterate.
    pub divergence_factor: f64,
    /// Rollbacks allowed before the run ends with its best image.
    pub max_rollbacks: usize,
    /// Plateau stop: end when the best loss improves by less than this fraction
    /// over `flat_window` evaluations. `None`: off (the seed-faithful default).
    pub stop_when_flat: Option<f64>,
    pub flat_window: usize,
}

impl Default for RunSpec {
    fn default() -> Self {
        let layers = |names: &[&str]| {
            names
                .iter()
                .map(|n| LayerWeight {
                    layer: n.parse().expect("built-in layer names are valid"),
                    weight: 1.0,
                })
                .collect()
        };
        Self {
            content: PathBuf::new(),
            styles: vec![StyleRef {
                path: PathBuf::new(),
                weight: 1.0,
            }],
            style_masks: Vec::new(),
            regions: None,
            content_mask: None,
            mask_mode: MaskMode::default(),
            size: 256,
            style_scale: 1.0,
            preserve_colors: ColorMode::None,
            steps: 200,
            scales: Scales::Count(1),
            tile: None,
            content_weight: 5.0,
            style_weight: 100.0,
            tv_weight: 1e-3,
            content_layers: layers(&["relu4_2"]),
            style_layers: layers(&["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]),
            style_loss: StyleLoss::Gram,
            mrf_weight: 1.0,
            mrf_layers: layers(&["relu3_1", "relu4_1"]),
            optimizer: OptimizerKind::Lbfgs,
            learning_rate: None,
            lbfgs_history: 100,
            line_search: false,
            init: Init::Content,
            pooling: Pooling::Max,
            padding: Padding::Zero,
            seed: 0,
            pixel_limit: DEFAULT_PIXEL_LIMIT,
            divergence_factor: 10.0,
            max_rollbacks: 5,
            stop_when_flat: None,
            flat_window: 50,
        }
    }
}

/// Largest output side accepted (a 16k image is already far beyond any GPU).
pub const MAX_SIZE: u32 = 16384;
pub const MAX_STEPS: usize = 1_000_000;
/// Accepted range of `style_scale`.
pub const STYLE_SCALE: (f64, f64) = (0.5, 2.0);

fn check_weight(field: &'static str, w: f64) -> Result<()> {
    if !w.is_finite() || w < 0.0 {
        return Err(Error::invalid(
            field,
            format!("{w} (must be a finite number ≥ 0)"),
        ));
    }
    Ok(())
}

impl RunSpec {
    /// Checks every field; the engine relies on a validated spec.
    pub fn validate(&self) -> Result<()> {
        if self.steps == 0 || self.steps > MAX_STEPS {
            return Err(Error::invalid(
                "steps",
                format!("{} (use 1 to {MAX_STEPS})", self.steps),
            ));
        }
        let min = self.deepest_stride().max(16);
        if self.size < min || self.size > MAX_SIZE {
            return Err(Error::invalid(
                "size",
                format!("{} px (use {min} to {MAX_SIZE})", self.size),
            ));
        }
        if self.styles.is_empty() {
            return Err(Error::invalid("styles", "none given"));
        }
        for s in &self.styles {
            check_weight("style blend weight", s.weight)?;
        }
        if !self
            .styles
            .iter()
            .map(|s| s.weight)
            .sum::<f64>()
            .is_finite()
        {
            return Err(Error::invalid(
                "style blend weights",
                "their sum overflows: use smaller weights (they are normalised)",
            ));
        }
        if self.styles.iter().all(|s| s.weight == 0.0) {
            return Err(Error::invalid(
                "style blend weights",
                "all are 0 (at least one must be > 0)",
            ));
        }
        self.validate_masks()?;
        if !(STYLE_SCALE.0..=STYLE_SCALE.1).contains(&self.style_scale) {
            return Err(Error::invalid(
                "style scale",
                format!(
                    "{} (use {} to {})",
                    self.style_scale, STYLE_SCALE.0, STYLE_SCALE.1
                ),
            ));
        }
        if let Some(t) = self.tile {
            let min = (self.deepest_stride() * 2).max(32);
            if t < min || t > self.size {
                return Err(Error::invalid(
                    "tile",
                    format!("{t} px (use {min} to --size {})", self.size),
                ));
            }
            if self.scales != Scales::Count(1) {
                return Err(Error::invalid(
                    "tile",
                    "tiles run single-scale: use --scales 1",
                ));
            }
        }
        let sizes = self.pyramid()?;
        if self.steps < sizes.len() {
            return Err(Error::invalid(
                "steps",
                format!(
                    "{} for {} scales (each scale needs at least one)",
                    self.steps,
                    sizes.len()
                ),
            ));
        }
        check_weight("content weight", self.content_weight)?;
        check_weight("style weight", self.style_weight)?;
        check_weight("tv weight", self.tv_weight)?;
        check_weight("mrf weight", self.mrf_weight)?;
        for lw in self
            .content_layers
            .iter()
            .chain(&self.style_layers)
            .chain(&self.mrf_layers)
        {
            check_weight("layer weight", lw.weight)?;
        }
        if self.style_loss.gram() && self.style_layers.is_empty() {
            return Err(Error::invalid("style layers", "none given"));
        }
        if self.style_loss.mrf() && self.mrf_layers.is_empty() {
            return Err(Error::invalid("mrf layers", "none given"));
        }
        if self.content_weight > 0.0 && self.content_layers.is_empty() {
            return Err(Error::invalid("content layers", "none given"));
        }
        if let Some(lr) = self.learning_rate {
            if !lr.is_finite() || lr <= 0.0 {
                return Err(Error::invalid(
                    "learning rate",
                    format!("{lr} (must be > 0)"),
                ));
            }
        }
        if self.line_search && self.optimizer != OptimizerKind::Lbfgs {
            return Err(Error::invalid(
                "line search",
                "is for L-BFGS only: drop --line-search or use --optimizer lbfgs",
            ));
        }
        if self.lbfgs_history == 0 {
            return Err(Error::invalid("lbfgs history", "must be at least 1"));
        }
        if self.divergence_factor.is_nan() || self.divergence_factor <= 1.0 {
            return Err(Error::invalid(
                "divergence factor",
                format!(
                    "{} (must be above 1; inf turns the check off)",
                    self.divergence_factor
                ),
            ));
        }
        if let Some(rel) = self.stop_when_flat {
            if !rel.is_finite() || rel <= 0.0 || rel >= 1.0 {
                return Err(Error::invalid(
                    "stop-when-flat",
                    format!("{rel} (use a fraction between 0 and 1, e.g. 0.001)"),
                ));
            }
        }
        if self.flat_window == 0 {
            return Err(Error::invalid("window", "must be at least 1 evaluation"));
        }
        if self.pixel_limit == 0 {
            return Err(Error::invalid("pixel limit", "must be at least 1"));
        }
        Ok(())
    }

    /// Masks: one per style or none, and only for the Gram loss (MRF
    /// patches are matched over the whole image).
    fn validate_masks(&self) -> Result<()> {
        let (n, s) = (self.style_masks.len(), self.styles.len());
        if n > 0 && n != s {
            return Err(Error::invalid(
                "style masks",
                format!(
                    "{n} given for {s} styles (give one per style, in the order of the styles)"
                ),
            ));
        }
        if let Some(r) = &self.regions {
            r.check_run(n, s)?;
        }
        if self.masked() && self.style_loss.mrf() {
            return Err(Error::invalid(
                "masks",
                "work with the Gram style loss only: use --style-loss gram",
            ));
        }
        Ok(())
    }

    /// Whether the run has any mask.
    pub fn masked(&self) -> bool {
        self.per_style_masks() || self.content_mask.is_some()
    }

    /// Whether each style has its own region (masks or a region map).
    pub fn per_style_masks(&self) -> bool {
        !self.style_masks.is_empty() || self.regions.is_some()
    }

    /// Downsampling factor of the deepest layer used: images must be at least
    /// this large on their shorter side.
    pub fn deepest_stride(&self) -> u32 {
        let mrf: &[LayerWeight] = if self.style_loss.mrf() {
            &self.mrf_layers
        } else {
            &[]
        };
        self.content_layers
            .iter()
            .chain(&self.style_layers)
            .chain(mrf)
            // A 3×3 patch needs 3 feature pixels: 3 times the stride.
            .map(|l| l.layer.stride() * if mrf.contains(l) { 3 } else { 1 })
            .max()
            .unwrap_or(1)
    }

    /// The most objective evaluations the run can take: one per step, except that
    /// a line search may take several (PyTorch's cap is steps·5/4, and a search
    /// in progress may finish past it, up to 25 more).
    pub fn eval_budget(&self) -> usize {
        match (self.optimizer, self.line_search) {
            (OptimizerKind::Lbfgs, true) => {
                let n = self.pyramid().map_or(1, |p| p.len());
                self.steps * 5 / 4 + 25 * n
            }
            _ => self.steps,
        }
    }

    /// The sizes of the run's scales, coarsest first (one for a single-scale run).
    pub fn pyramid(&self) -> Result<Vec<u32>> {
        pyramid::sizes(self.size, self.scales, self.deepest_stride().max(16))
    }

    /// Longer side of the style images, px.
    pub fn style_size(&self) -> u32 {
        (f64::from(self.size) * self.style_scale).round().max(1.0) as u32
    }

    /// The style blend weights, normalised to sum to 1 (validated spec).
    pub fn style_blend(&self) -> Vec<f64> {
        let sum: f64 = self.styles.iter().map(|s| s.weight).sum();
        self.styles.iter().map(|s| s.weight / sum).collect()
    }

    pub fn learning_rate(&self) -> f64 {
        self.learning_rate.unwrap_or(match self.optimizer {
            OptimizerKind::Lbfgs => 1.0,
            // neural-style's Adam rate of 10 on the 0..255 scale.
            OptimizerKind::Adam => 10.0 / 255.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        RunSpec::default().validate().unwrap();
    }

    #[test]
    fn layer_weight_parsing() {
        let l = parse_layers("relu1_1, relu2_1:0.5").unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[1].weight, 0.5);
        assert!(parse_layers("relu9_1").is_err());
        assert!(parse_layers("relu1_1:x").is_err());
    }

    #[test]
    fn style_refs_parse_and_blend() {
        let a: StyleRef = "styles/a.jpg:0.7".parse().unwrap();
        assert_eq!((a.path.to_str(), a.weight), (Some("styles/a.jpg"), 0.7));
        let b: StyleRef = "irises".parse().unwrap();
        assert_eq!(b.weight, 1.0);
        let c: StyleRef = "c:/x.jpg".parse().unwrap();
        assert_eq!(c.path.to_str(), Some("c:/x.jpg"));
        let spec = RunSpec {
            styles: vec![a, "b.jpg:0.3".parse().unwrap()],
            ..RunSpec::default()
        };
        let w = spec.style_blend();
        assert!((w[0] - 0.7).abs() < 1e-12 && (w[1] - 0.3).abs() < 1e-12);
    }

    #[test]
    fn bad_values_refused() {
        let bad = [
            RunSpec {
                steps: 0,
                ..RunSpec::default()
            },
            RunSpec {
                style_weight: -1.0,
                ..RunSpec::default()
            },
            RunSpec {
                content_weight: f64::NAN,
                ..RunSpec::default()
            },
            RunSpec {
                size: 8,
                ..RunSpec::default()
            },
            RunSpec {
                style_layers: vec![],
                ..RunSpec::default()
            },
            RunSpec {
                style_scale: 2.5,
                ..RunSpec::default()
            },
            RunSpec {
                style_scale: f64::NAN,
                ..RunSpec::default()
            },
            RunSpec {
                styles: vec![],
                ..RunSpec::default()
            },
            RunSpec {
                styles: vec!["a.jpg:-0.5".parse().unwrap(), "b.jpg".parse().unwrap()],
                ..RunSpec::default()
            },
            RunSpec {
                styles: vec!["a.jpg:0".parse().unwrap(), "b.jpg:0".parse().unwrap()],
                ..RunSpec::default()
            },
        ];
        for s in bad {
            assert!(s.validate().is_err(), "{s:?}");
        }
    }
}
