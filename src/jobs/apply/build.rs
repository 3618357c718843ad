//! The one builder of an apply job: what a user chose (a model, photos, a
//! size, styles or paintings with weights, options) turned into a checked
//! [`Spec`] and its inputs. The one-shot `apply`, `queue add apply`, Compose
//! and drop-folder rules all build through here, so what one accepts all
//! accept, and what one refuses all refuse with the same sentence.

use std::path::PathBuf;

use serde::Serialize;

use super::{
    check_paintings, check_size, msg_label, msg_paintings, no_painting, ArbSettings, Spec,
};
use crate::engine::arbitrary::model_file::Method;
use crate::engine::fast::mix::{style_list, StyleMix};
use crate::engine::fast::model_file::{read_info, ModelInfo, StyleSource};
use crate::engine::fast::models::{ModelEntry, ModelLibrary};
use crate::engine::fast::msg_style::{MsgPart, MsgSource};
use crate::engine::gatys::spec::StyleRef;
use crate::engine::infra::library::{resolve_image, Library};
use crate::engine::infra::mix_weights::normalised;
use crate::engine::nets::color::ColorMode;
use crate::engine::Error;
use crate::jobs::{Input, Limits};

/// What a model takes as its styles.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelStyles {
    /// A single-style network: nothing to choose.
    Single,
    /// A multi-style (CIN) network: among its trained styles.
    Cin(Vec<StyleSource>),
    /// An MSG-Net: its trained styles, or any painting.
    Msg(Vec<StyleSource>),
    /// An adain or wct model: any painting(s).
    Arbitrary(Method),
}

impl ModelStyles {
    /// What the library found of a model (its file read again when the
    /// library could not, for the file's own error).
    pub fn of(entry: &ModelEntry) -> Result<Self, Error> {
        if let Some(a) = &entry.arbitrary {
            return Ok(Self::Arbitrary(a.method));
        }
        match &entry.info {
            Some(info) => Ok(Self::of_info(info)),
            None => Ok(Self::of_info(&read_info(&entry.path)?)),
        }
    }

    pub fn of_info(info: &ModelInfo) -> Self {
        let norm = &info.arch.norm;
        if norm.is_msg() {
            Self::Msg(info.styles.clone())
        } else if norm.is_conditional() {
            Self::Cin(info.styles.clone())
        } else {
            Self::Single
        }
    }
}

/// The user's style choice as typed: `NAME|INDEX|PAINTING[:W]` entries and
/// the arbitrary-style options.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StyleChoice {
    pub entries: Vec<String>,
    pub alpha: Option<f64>,
    pub levels: Option<usize>,
    pub color: Option<ColorMode>,
}

/// What a model is applied with.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Styling {
    /// A single-style model.
    Trained,
    /// A multi-style model's trained styles, mixed.
    Mix(StyleMix),
    /// An MSG-Net with at least one painting it was not trained on.
    Msg(Vec<MsgPart>),
    /// An adain or wct model with its paintings.
    Arbitrary(ArbSettings),
}

impl Styling {
    /// For output names: the styles, or `None` for a single-style model.
    pub fn label(&self) -> Option<String> {
        match self {
            Styling::Trained => None,
            Styling::Mix(m) => Some(m.label.clone()),
            Styling::Msg(parts) => Some(msg_label(parts)),
            Styling::Arbitrary(a) => Some(a.label()),
        }
    }

    /// Its paintings checked (each decodes within `pixel_limit`), made
    /// absolute and hashed, as run inputs.
    pub fn check_paintings(&mut self, pixel_limit: u64) -> Result<Vec<Input>, Error> {
        let paths = match self {
            Styling::Trained | Styling::Mix(_) => Vec::new(),
            Styling::Msg(parts) => msg_paintings(parts),
            Styling::Arbitrary(a) => a.styles.iter_mut().map(|s| &mut s.path).collect(),
        };
        check_paintings(paths, pixel_limit)
    }
}

/// The styling `choice` asks of model `model` (named for messages), its
/// paintings found by path or in `paintings`.
pub fn styling(
    model: &str,
    styles: &ModelStyles,
    choice: &StyleChoice,
    paintings: Option<&Library>,
) -> Result<Styling, Error> {
    let method = match styles {
        ModelStyles::Arbitrary(m) => *m,
        _ if choice.alpha.is_some() || choice.levels.is_some() || choice.color.is_some() => {
            return Err(Error::invalid(
                "option",
                format!("'{model}' is a fast-style model (its styles trained in): alpha, levels and preserve-colors are for adain and wct models"),
            ))
        }
        ModelStyles::Single if choice.entries.is_empty() => return Ok(Styling::Trained),
        ModelStyles::Single => {
            return Err(Error::invalid(
                "style",
                format!("'{model}' is a single-style model: it has no styles to choose"),
            ))
        }
        ModelStyles::Cin(s) | ModelStyles::Msg(s) if choice.entries.is_empty() => {
            return Err(Error::invalid(
                "style",
                format!(
                    "'{model}' is a multi-style model: choose among its styles ({})",
                    style_list(s)
                ),
            ))
        }
        ModelStyles::Cin(s) => return Ok(Styling::Mix(StyleMix::parse(&choice.entries, s)?)),
        ModelStyles::Msg(s) => return msg_styling(model, s, &choice.entries, paintings),
    };
    if choice.entries.is_empty() {
        return Err(no_painting(model, method));
    }
    let mut refs = Vec::new();
    for e in &choice.entries {
        let (q, weight) = StyleRef::split(e)?;
        let path = resolve_image(q, paintings)?;
        refs.push(StyleRef { path, weight });
    }
    normalised(&refs.iter().map(|r| r.weight).collect::<Vec<_>>())?;
    let mut set = ArbSettings::new(method, refs);
    set.alpha = choice.alpha.unwrap_or(set.alpha);
    set.levels = choice.levels;
    set.color = choice.color.unwrap_or(set.color);
    Ok(Styling::Arbitrary(set))
}

/// An MSG-Net's entries: its trained styles alone are a mix (as a CIN
/// model's); any painting among them makes a Gram target at run time.
fn msg_styling(
    model: &str,
    styles: &[StyleSource],
    entries: &[String],
    paintings: Option<&Library>,
) -> Result<Styling, Error> {
    let trained = |q: &str| {
        styles
            .iter()
            .position(|s| s.name == q)
            .or_else(|| q.trim().parse::<usize>().ok())
    };
    let mut split = Vec::new();
    for e in entries {
        split.push(StyleRef::split(e)?);
    }
    if split.iter().all(|(q, _)| trained(q).is_some()) {
        return Ok(Styling::Mix(StyleMix::parse(entries, styles)?));
    }
    let mut parts = Vec::new();
    for (q, weight) in split {
        let (source, name) = match trained(q) {
            Some(i) => (
                MsgSource::Trained(i),
                styles.get(i).map_or(i.to_string(), |s| s.name.clone()),
            ),
            None => {
                let p = resolve_image(q, paintings).map_err(|_| {
                    Error::invalid(
                        "style",
                        format!(
                            "'{q}' is neither a style of '{model}' ({}) nor a painting in the library or a file",
                            style_list(styles)
                        ),
                    )
                })?;
                let name = super::super::stylize::stem(&p);
                (MsgSource::Painting(p), name)
            }
        };
        parts.push(MsgPart {
            source,
            weight,
            name,
        });
    }
    normalised(&parts.iter().map(|p| p.weight).collect::<Vec<_>>())?;
    Ok(Styling::Msg(parts))
}

/// An apply of `model` (its library name and file) to `contents`.
#[derive(Clone, Debug)]
pub struct Request {
    pub model_name: String,
    pub model: PathBuf,
    pub contents: Vec<PathBuf>,
    /// Longer side of the outputs; `None`: each photo's own size.
    pub size: Option<u32>,
    pub styling: Styling,
}

impl Request {
    /// The checked spec, within `limits`; its files are read by [`build`].
    pub fn spec(self, limits: &Limits) -> Result<Spec, Error> {
        check_size(self.size, limits.apply_max_size)?;
        let (mix, arbitrary, msg) = match self.styling {
            Styling::Trained => (None, None, Vec::new()),
            Styling::Mix(m) => (Some(m), None, Vec::new()),
            Styling::Msg(parts) => (None, None, parts),
            Styling::Arbitrary(a) => (None, Some(a), Vec::new()),
        };
        let spec = Spec {
            model: self.model,
            model_name: Some(self.model_name),
            contents: self.contents,
            size: self.size,
            pixel_limit: limits.pixel_limit,
            mix,
            arbitrary,
            msg,
            style_masks: Vec::new(),
            regions: None,
            content_mask: None,
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// A checked apply and its inputs (model, photos, paintings), hashed.
pub type Built = crate::jobs::Built<Spec>;

impl Built {
    pub fn job(self) -> (crate::jobs::Job, Vec<Input>) {
        (crate::jobs::Job::Apply(self.spec), self.inputs)
    }
}

/// [`Request::spec`] with every file read: the model fits the styling, each
/// photo and painting decodes within the limit.
pub fn build(req: Request, limits: &Limits) -> Result<Built, Error> {
    let mut spec = req.spec(limits)?;
    let inputs = spec.inputs()?;
    Ok(Built { spec, inputs })
}

/// Where a front end finds what its user names: models, paintings, photos.
#[derive(Clone, Copy)]
pub struct Libraries<'a> {
    pub models: &'a ModelLibrary,
    pub paintings: Option<&'a Library>,
    pub contents: Option<&'a Library>,
}

/// [`build`] from what a user typed: a model by name or file, photos by
/// path or library name.
pub fn from_queries(
    model: &str,
    contents: &[String],
    size: Option<u32>,
    choice: &StyleChoice,
    libs: Libraries,
    limits: &Limits,
) -> Result<Built, Error> {
    check_size(size, limits.apply_max_size)?;
    let entry = libs.models.find(model)?;
    let styling = styling(
        &entry.name,
        &ModelStyles::of(&entry)?,
        choice,
        libs.paintings,
    )?;
    let mut photos = Vec::new();
    for q in contents {
        photos.push(resolve_image(q, libs.contents)?);
    }
    build(
        Request {
            model_name: entry.name,
            model: entry.path,
            contents: photos,
            size,
            styling,
        },
        limits,
    )
}
