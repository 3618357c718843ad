//! The `stylize` kind: Gatys et al. style transfer of a content image with
//! one or more style images (the engine's [`crate::engine::gatys::transfer`]).

pub mod build;
pub mod run;

use std::path::{Path, PathBuf};

use image::GrayImage;
use serde::{Deserialize, Serialize};

use super::input::Input;
use super::summary::{Headline, Summary};
use crate::engine::gatys::spec::RunSpec;
use crate::engine::gatys::transfer;
use crate::engine::infra::image_io::load_rgb;
use crate::engine::infra::label_map::RegionMap;
use crate::engine::infra::mask::{self, check_aspect};
use crate::engine::Error;
use crate::jobs::Role;

pub const KIND: &str = "stylize";

/// The run's parameters and input paths (`RunSpec`, as before job kinds).
pub type Spec = RunSpec;

/// Reported after every evaluation.
pub type Progress = transfer::Progress;

/// Final figures of a finished transfer (those of the image written).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub evals: i64,
    pub best_eval: i64,
    /// Why the optimisation stopped (`steps`, `plateau`, …).
    pub stop: String,
    #[serde(default)]
    pub rollbacks: i64,
    pub losses: FinalLosses,
}

/// Final losses of a finished run (those of the image written).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FinalLosses {
    pub style: f64,
    pub content: f64,
    pub tv: f64,
    pub total: f64,
}

impl From<&transfer::Outcome> for Outcome {
    fn from(o: &transfer::Outcome) -> Self {
        Outcome {
            evals: o.evals as i64,
            best_eval: o.best_eval as i64,
            stop: o.stop.to_string(),
            rollbacks: o.rollbacks as i64,
            losses: FinalLosses {
                style: o.best.style,
                content: o.best.content,
                tv: o.best.tv,
                total: o.best.total,
            },
        }
    }
}

/// Where a stopped run takes up again: its last snapshot (the iterate is the
/// whole state of the optimisation) and the evaluations done before it.
#[derive(Clone, Debug, PartialEq)]
pub struct Resume {
    pub from: PathBuf,
    pub step: i64,
}

/// The loss series a transfer records, in the order of [`series_values`].
pub const SERIES: [&str; 4] = ["style", "content", "tv", "total"];

/// One evaluation's losses as (series, value) pairs, for the store.
pub fn series_values(l: &transfer::Losses) -> [(&'static str, f64); 4] {
    [
        ("style", l.style),
        ("content", l.content),
        ("tv", l.tv),
        ("total", l.total),
    ]
}

/// The generic view of a transfer's progress.
pub fn summary(p: &Progress) -> Summary {
    let secs = p.elapsed.as_secs_f64();
    Summary::counted(KIND, p.eval, p.budget, secs).with_headline(Headline {
        label: "total",
        value: p.losses.total,
    })
}

/// The masks a run carries as checked, hashed inputs (a drop-folder rule
/// reads them once, when it is resolved).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RunMasks {
    /// One per style, in the order of the styles (or none).
    pub style: Vec<Input>,
    /// Instead of `style`: a region map, its colours read.
    pub regions: Option<(Input, RegionMap)>,
    pub content: Option<Input>,
}

impl RunMasks {
    /// The masks as a run lists its inputs: style masks (or the region
    /// map), then the content mask.
    pub fn inputs(&self) -> impl Iterator<Item = Input> + '_ {
        let map = self.regions.iter().map(|(i, _)| i);
        self.style.iter().chain(map).chain(&self.content).cloned()
    }

    /// Whether each style has its own region.
    pub fn per_style(&self) -> bool {
        !self.style.is_empty() || self.regions.is_some()
    }

    /// The region map as a spec carries it.
    pub fn region_map(&self) -> Option<RegionMap> {
        self.regions.as_ref().map(|(_, r)| r.clone())
    }

    pub fn is_empty(&self) -> bool {
        !self.per_style() && self.content.is_none()
    }
}

/// The checked inputs of `spec` (content, then its styles, named by `names`),
/// with absolute paths written back into the spec: the worker may run from
/// another folder.
pub fn inputs(
    spec: &mut RunSpec,
    content_name: Option<String>,
    style_names: &[String],
) -> Result<Vec<Input>, Error> {
    let limit = spec.pixel_limit;
    let mut out = vec![Input::checked(
        Role::Content,
        content_name,
        &spec.content,
        limit,
    )?];
    spec.content = out[0].path.clone();
    for (i, s) in spec.styles.iter_mut().enumerate() {
        let input = Input::checked(Role::Style, style_names.get(i).cloned(), &s.path, limit)?;
        s.path = input.path.clone();
        out.push(input);
    }
    out.extend(spec_mask_inputs(spec)?);
    Ok(out)
}

/// The masks of `spec` as inputs (see [`mask_inputs`]).
fn spec_mask_inputs(spec: &mut RunSpec) -> Result<Vec<Input>, Error> {
    let photos = [spec.content.clone()];
    mask_inputs(
        MaskFiles {
            style: &mut spec.style_masks,
            regions: &mut spec.regions,
            content: &mut spec.content_mask,
        },
        spec.styles.len(),
        &photos,
        spec.pixel_limit,
    )
}

/// The mask files of a spec, checked and made absolute by [`mask_inputs`].
pub struct MaskFiles<'a> {
    pub style: &'a mut [PathBuf],
    /// Read for its colours (recorded in it) when given.
    pub regions: &'a mut Option<RegionMap>,
    pub content: &'a mut Option<PathBuf>,
}

/// Masks as inputs (style masks in order, or the region map, then the
/// content mask), each checked as a run will check it against every photo
/// of `photos` (a region map also against the `styles` count, its colours
/// recorded), with absolute paths written back.
pub fn mask_inputs(
    files: MaskFiles<'_>,
    styles: usize,
    photos: &[PathBuf],
    limit: u64,
) -> Result<Vec<Input>, Error> {
    let MaskFiles {
        style: style_masks,
        regions,
        content: content_mask,
    } = files;
    if style_masks.is_empty() && regions.is_none() && content_mask.is_none() {
        return Ok(Vec::new());
    }
    let dims = photos
        .iter()
        .map(|p| Ok(load_rgb(p, limit)?.dimensions()))
        .collect::<Result<Vec<_>, Error>>()?;
    let fits = |m: &GrayImage, p: &Path| dims.iter().try_for_each(|&d| check_aspect(m, p, d));
    let check = |p: &mut PathBuf, what: &str| -> Result<Input, Error> {
        fits(&mask::load(p, limit, what)?, p)?;
        let input = Input::checked(Role::Mask, None, p, limit)?;
        *p = input.path.clone();
        Ok(input)
    };
    let mut out = Vec::new();
    for (i, p) in style_masks.iter_mut().enumerate() {
        out.push(check(p, &format!("mask of style {}", i + 1))?);
    }
    if let Some(r) = regions.as_mut() {
        let input = Input::checked(Role::Mask, None, &r.path, limit)?;
        *r = RegionMap::read(&input.path, limit, styles)?;
        let map = load_rgb(&r.path, limit)?;
        if let Some(m) = r.split(&map).first() {
            fits(m, &r.path)?;
        }
        out.push(input);
    }
    if let Some(p) = content_mask.as_mut() {
        out.push(check(p, "content mask")?);
    }
    Ok(out)
}

/// A file stem for display (`chelsea` for `…/chelsea.png`).
pub fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The settings of a Gatys optimisation (stylize and texture alike).
pub fn params(s: &RunSpec) -> super::params::Params {
    use super::params::num;
    let optimizer = format!("{:?}", s.optimizer).to_lowercase();
    let init = format!("{:?}", s.init).to_lowercase();
    super::params::Params {
        size: s.size.to_string(),
        length: s.steps.to_string(),
        pairs: vec![
            ("size", format!("{} px", s.size)),
            ("steps", s.steps.to_string()),
            ("optimizer", optimizer),
            ("init", init),
            (
                "weights",
                format!(
                    "style {} content {} tv {}",
                    num(s.style_weight),
                    num(s.content_weight),
                    num(s.tv_weight)
                ),
            ),
        ]
        .into_iter()
        .chain(masks_param(
            &s.style_masks,
            s.regions.as_ref(),
            &s.styles.iter().map(|r| stem(&r.path)).collect::<Vec<_>>(),
            s.content_mask.as_deref(),
        ))
        .collect(),
    }
}

/// The parameter that names a run's masks (History gives it its own line).
pub const MASKS_PARAM: &str = "masks";

/// `masks: left, right; photo kept outside sky` (or `masks: regions of
/// map: red → irises 40.0%, …`) for a run with masks (any kind that takes
/// them); `styles` names the styles in order.
pub(crate) fn masks_param(
    style_masks: &[PathBuf],
    regions: Option<&RegionMap>,
    styles: &[String],
    content_mask: Option<&Path>,
) -> Option<(&'static str, String)> {
    let names = |ps: &[PathBuf]| ps.iter().map(|p| stem(p)).collect::<Vec<_>>().join(", ");
    let style = (!style_masks.is_empty()).then(|| names(style_masks));
    let regions = regions.map(|r| regions_line(r, styles));
    let content = content_mask.map(|p| format!("photo kept outside {}", stem(p)));
    let text = style
        .into_iter()
        .chain(regions)
        .chain(content)
        .collect::<Vec<_>>()
        .join("; ");
    (!text.is_empty()).then_some((MASKS_PARAM, text))
}

/// `regions of map: red → irises 40.0%, blue → harvesters 60.0%`: which
/// colour went to which painting (printed when a run is built, kept in
/// History).
pub fn regions_line(r: &RegionMap, styles: &[String]) -> String {
    format!("regions of {}: {}", stem(&r.path), r.mapping(styles))
}

/// What a stylize run is, by its inputs' names: `chelsea × irises`.
pub fn title(name: &dyn Fn(Role) -> String) -> String {
    format!("{} × {}", name(Role::Content), name(Role::Style))
}

/// `runs show`'s lines of a finished Gatys run (stylize, texture).
pub fn outcome_lines(o: &Outcome) -> Vec<(&'static str, String)> {
    let l = o.losses;
    vec![(
        "losses",
        format!(
            "style {:.4e} content {:.4e} tv {:.4e} total {:.4e} (best at step {}, {})",
            l.style, l.content, l.tv, l.total, o.best_eval, o.stop
        ),
    )]
}
