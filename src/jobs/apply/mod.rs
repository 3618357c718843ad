//! The `apply` kind: a trained model applied to one or many photos in one
//! pass each: a fast-style model ([`crate::engine::fast::apply`]) or an
//! arbitrary-style one, adain or wct, with the paintings it is given
//! ([`crate::engine::arbitrary::apply`]).

pub mod run;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::input::Input;
use super::summary::Summary;
use crate::engine::arbitrary::apply::{default_alpha, ArbApply};
use crate::engine::arbitrary::model_file::{read_info as read_arb_info, Method};
use crate::engine::fast::mix::StyleMix;
use crate::engine::fast::model_file::read_info;
use crate::engine::fast::msg_style::{MsgPart, MsgSource};
use crate::engine::gatys::spec::StyleRef;
use crate::engine::infra::image_io::DEFAULT_PIXEL_LIMIT;
use crate::engine::infra::label_map::RegionMap;
use crate::engine::infra::mix_weights::normalised;
use crate::engine::nets::color::ColorMode;
use crate::engine::Error;
use crate::jobs::Role;

pub mod build;

pub use build::{
    build, from_queries, styling, Built, Libraries, ModelStyles, Request, StyleChoice, Styling,
};

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
    /// An adain or wct model's paintings and options (required for one,
    /// absent for a fast-style model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arbitrary: Option<ArbSettings>,
    /// An MSG-Net's styles when any is a painting it was not trained on:
    /// its Gram target is computed from them when the job runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub msg: Vec<MsgPart>,
    /// An adain/wct model's mask per painting: each painting on its region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub style_masks: Vec<PathBuf>,
    /// Instead of `style_masks`: one colour-coded map, a colour per painting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<RegionMap>,
    /// Any model: outside this mask the output is the photo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_mask: Option<PathBuf>,
}

/// What an arbitrary-style model is applied with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArbSettings {
    /// The paintings with their weights (normalised when applied).
    pub styles: Vec<StyleRef>,
    /// Style strength in [0, 1].
    pub alpha: f64,
    /// WCT: levels relu{N}_1 … relu1_1 (`None`: all the model has).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<usize>,
    #[serde(default)]
    pub color: ColorMode,
}

impl ArbSettings {
    /// `styles` with the method's default alpha, all levels, no colour keeping.
    pub fn new(method: Method, styles: Vec<StyleRef>) -> Self {
        Self {
            styles,
            alpha: default_alpha(method),
            levels: None,
            color: ColorMode::None,
        }
    }

    /// The engine's options.
    pub fn options(&self) -> ArbApply {
        ArbApply {
            alpha: self.alpha,
            levels: self.levels,
            color: self.color,
        }
    }

    /// The paintings' weights, through the one check of mix weights, scaled
    /// to sum 1.
    pub fn weights(&self) -> Result<Vec<f64>, Error> {
        normalised(&self.styles.iter().map(|s| s.weight).collect::<Vec<_>>())
    }

    /// For output names: `style` alone, or `a-0.25+b-0.75` for a mix (as a
    /// multi-style model's mix is named).
    pub fn label(&self) -> String {
        let parts: Vec<(String, f64)> = self
            .styles
            .iter()
            .map(|s| (super::stylize::stem(&s.path), s.weight))
            .collect();
        crate::engine::fast::mix::label(&parts)
    }
}

/// `STYLE[:W]`: the weight after the last colon when it is a number (a
/// colon in a path stays part of the path); the weights of a mix are
/// checked together ([`ArbSettings::weights`]).
pub fn style_and_weight(s: &str) -> Result<(String, f64), Error> {
    let (name, w) = StyleRef::split(s)?;
    Ok((name.to_string(), w))
}

/// Smallest `size`: the networks halve a side twice and pad by reflection.
pub const MIN_SIZE: u32 = 16;

/// `size` within `MIN_SIZE..=max` (`max` from the config's `[apply]
/// max_size`, the one limit of every front end).
pub fn check_size(size: Option<u32>, max: u32) -> Result<(), Error> {
    match size {
        Some(s) if !(MIN_SIZE..=max).contains(&s) => Err(Error::invalid(
            "size",
            format!(
                "{s} px (use {MIN_SIZE} to {max} px; the limit is [apply] max_size in the config)"
            ),
        )),
        _ => Ok(()),
    }
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
        // The front ends check the config's limit, at most this ceiling.
        check_size(self.size, crate::engine::gatys::spec::MAX_SIZE)?;
        // (No paintings at all is said with the model's name by `inputs`.)
        if let Some(a) = self.arbitrary.as_ref().filter(|a| !a.styles.is_empty()) {
            a.weights()?;
        }
        if !self.msg.is_empty() {
            normalised(&self.msg.iter().map(|p| p.weight).collect::<Vec<_>>())?;
        }
        self.check_masks()
    }

    /// As many style masks as paintings, for a model that takes paintings.
    fn check_masks(&self) -> Result<(), Error> {
        let (n, styles) = (
            self.style_masks.len(),
            self.arbitrary.as_ref().map_or(0, |a| a.styles.len()),
        );
        if n > 0 && styles == 0 {
            return Err(Error::invalid(
                "style masks",
                "are for adain and wct models, one per --style painting",
            ));
        }
        if let Some(r) = &self.regions {
            if styles == 0 {
                return Err(Error::invalid(
                    "regions",
                    "are for adain and wct models, a colour per --style painting",
                ));
            }
            r.check_run(n, styles)?;
        }
        if n > 0 && n != styles {
            return Err(Error::invalid(
                "style masks",
                format!("{n} given for {styles} styles (give one per style, in the order of the styles)"),
            ));
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
        match (&self.mix, &self.arbitrary) {
            (Some(m), _) => format!("{}-{}", self.model_display(), m.label),
            (None, Some(a)) => format!("{}-{}", self.model_display(), a.label()),
            (None, None) if !self.msg.is_empty() => {
                format!("{}-{}", self.model_display(), msg_label(&self.msg))
            }
            (None, None) => self.model_display(),
        }
    }

    /// The checked inputs (the model file must be a readable model whose
    /// styles fit the mix, each content must decode), with absolute paths
    /// written back.
    pub fn inputs(&mut self) -> Result<Vec<Input>, Error> {
        let mut styles = Vec::new();
        match (read_arb_info(&self.model), &mut self.arbitrary) {
            (Ok(info), Some(a)) => {
                if self.mix.is_some() {
                    return Err(Error::invalid(
                        "style",
                        "an adain/wct model takes paintings, not a style mix",
                    ));
                }
                if a.styles.is_empty() {
                    return Err(no_painting(&self.model_display(), info.method));
                }
                a.options().check(&info)?;
                a.weights()?;
                let paths = a.styles.iter_mut().map(|s| &mut s.path).collect();
                styles = check_paintings(paths, self.pixel_limit)?;
            }
            (Ok(info), None) => return Err(no_painting(&self.model_display(), info.method)),
            (Err(_), Some(_)) => {
                // Say what the file is when it is a readable fast-style model.
                read_info(&self.model)?;
                return Err(Error::invalid(
                    "style",
                    format!(
                        "{} is a fast-style model: paintings are for adain and wct models",
                        self.model_display()
                    ),
                ));
            }
            (Err(_), None) => self.check_fast()?,
        }
        styles.extend(check_paintings(
            msg_paintings(&mut self.msg),
            self.pixel_limit,
        )?);
        let abs = std::fs::canonicalize(&self.model).map_err(|e| Error::io(&self.model, e))?;
        let sha = crate::engine::nets::weights::sha256_file(&abs)?;
        self.model = abs.clone();
        let mut out = vec![Input::hashed(
            Role::Model,
            self.model_name.clone(),
            abs,
            sha,
        )];
        for c in self.contents.iter_mut() {
            let i = Input::checked(Role::Content, None, c, self.pixel_limit)?;
            *c = i.path.clone();
            out.push(i);
        }
        out.extend(styles);
        // Not `validate`: a video's model spec has no photos of its own.
        self.check_masks()?;
        let styles = self.arbitrary.as_ref().map_or(0, |a| a.styles.len());
        out.extend(super::stylize::mask_inputs(
            super::stylize::MaskFiles {
                style: &mut self.style_masks,
                regions: &mut self.regions,
                content: &mut self.content_mask,
            },
            styles,
            &self.contents,
            self.pixel_limit,
        )?);
        Ok(out)
    }

    /// A fast-style model's file and mix fit each other.
    fn check_fast(&self) -> Result<(), Error> {
        let info = read_info(&self.model)?;
        if !self.msg.is_empty() {
            if !info.arch.norm.is_msg() {
                return Err(Error::invalid(
                    "style",
                    format!(
                        "{} is not an MSG-Net: only an MSG-Net takes paintings it was not trained on",
                        self.model_display()
                    ),
                ));
            }
            let n = info.styles.len();
            for p in &self.msg {
                if let MsgSource::Trained(i) = p.source {
                    if i >= n {
                        return Err(Error::invalid(
                            "style",
                            format!("index {i} is out of range: the model has {n} styles"),
                        ));
                    }
                }
            }
            return Ok(());
        }
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
        Ok(())
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

/// Each painting decodes within `pixel_limit`: as run inputs, hashed, their
/// paths made absolute.
fn check_paintings(paths: Vec<&mut PathBuf>, pixel_limit: u64) -> Result<Vec<Input>, Error> {
    let mut inputs = Vec::new();
    for path in paths {
        let i = Input::checked(Role::Style, None, path, pixel_limit)?;
        *path = i.path.clone();
        inputs.push(i);
    }
    Ok(inputs)
}

/// The files of an MSG-Net's paintings (not its trained styles).
fn msg_paintings(parts: &mut [MsgPart]) -> Vec<&mut PathBuf> {
    parts
        .iter_mut()
        .filter_map(|p| match &mut p.source {
            MsgSource::Painting(path) => Some(path),
            MsgSource::Trained(_) => None,
        })
        .collect()
}

/// An MSG-Net's styles as outputs are named (`a-0.25+b-0.75`).
fn msg_label(parts: &[MsgPart]) -> String {
    let named: Vec<(&str, f64)> = parts.iter().map(|p| (p.name.as_str(), p.weight)).collect();
    crate::engine::fast::mix::label(&named)
}

fn no_painting(model: &str, method: Method) -> Error {
    Error::invalid(
        "style",
        format!("{model} is a {method} model: name the painting(s) it stylizes with"),
    )
}

pub fn summary(p: &Progress) -> Summary {
    Summary::counted(KIND, p.done, p.of, p.elapsed.as_secs_f64())
}

/// An apply's own settings (model, photos, size, style mix).
pub fn params(s: &Spec) -> super::params::Params {
    let size = s.size.map_or("as is".to_string(), |p| format!("{p} px"));
    let mut pairs = vec![
        ("model", s.model_display()),
        ("photos", s.contents.len().to_string()),
        ("size", size),
    ];
    match (&s.mix, &s.arbitrary) {
        (Some(m), _) => pairs.push(("styles", m.label.clone())),
        (None, Some(a)) => {
            pairs.push(("styles", a.label()));
            pairs.push(("alpha", super::params::num(a.alpha)));
        }
        (None, None) if !s.msg.is_empty() => pairs.push(("styles", msg_label(&s.msg))),
        (None, None) => {}
    }
    pairs.extend(super::stylize::masks_param(
        &s.style_masks,
        s.regions.as_ref(),
        &s.arbitrary
            .iter()
            .flat_map(|a| &a.styles)
            .map(|r| super::stylize::stem(&r.path))
            .collect::<Vec<_>>(),
        s.content_mask.as_deref(),
    ));
    super::params::Params {
        size: s.size.map_or("-".to_string(), |p| p.to_string()),
        length: s.contents.len().to_string(),
        pairs,
    }
}

/// What an apply run is, by its inputs' names: `apply to chelsea`.
pub fn title(name: &dyn Fn(Role) -> String) -> String {
    format!("{KIND} to {}", name(Role::Content))
}

/// `runs show`'s lines of a finished apply.
pub fn outcome_lines(o: &Outcome) -> Vec<(&'static str, String)> {
    std::iter::once(("model", format!("{}, {:.2} s", o.model, o.seconds)))
        .chain(
            o.outputs
                .iter()
                .map(|p| ("output", p.display().to_string())),
        )
        .collect()
}

/// Live and History: photos done, then the outputs written.
pub fn view(seen: super::view::Seen<'_>) -> super::view::View {
    let mut lines = Vec::new();
    if let Some(super::Progress::Apply(p)) = seen.live {
        lines.push(format!(
            "photo {}/{} · {:.1} s",
            p.done,
            p.of,
            p.elapsed.as_secs_f64()
        ));
    }
    if let Some(super::Outcome::Apply(o)) = seen.outcome {
        lines.push(format!(
            "{} output{} written by {} in {:.1} s",
            o.outputs.len(),
            if o.outputs.len() == 1 { "" } else { "s" },
            o.model,
            o.seconds
        ));
        lines.extend(o.outputs.iter().map(|p| format!("  {}", p.display())));
    }
    super::view::View {
        lines,
        ..Default::default()
    }
}
