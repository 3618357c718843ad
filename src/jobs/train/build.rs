//! The one builder of a training job: the paintings to train on (one: a
//! single-style network; several, or `multi`: a multi-style CIN network, or
//! an MSG-Net), a CIN model to extend, the model's name and the training
//! settings, turned into a checked [`Spec`] and its inputs. `atelier
//! train`, `queue add train` and Compose all build through here, so what
//! one accepts all accept, and what one refuses all refuse with the same
//! sentence.

use std::path::{Path, PathBuf};

use super::Spec;
use crate::engine::fast::model_file::read_info;
use crate::engine::fast::models::ModelLibrary;
use crate::engine::fast::train::TrainSpec;
use crate::engine::fast::transformer::Norm;
use crate::engine::Error;
use crate::jobs::stylize::build::Painting;
use crate::jobs::stylize::stem;
use crate::jobs::{Input, Limits};

/// The network a training makes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Network {
    /// A TransformerNet: single-style with one painting given as such, else
    /// multi-style (conditional instance norm).
    #[default]
    Transformer,
    /// An MSG-Net trained on the paintings (it takes any painting when applied).
    Msg,
}

/// A training of `paintings` into the model `name`.
#[derive(Clone, Debug)]
pub struct Request {
    pub paintings: Vec<Painting>,
    /// A multi-style network even with one painting (`--style` flags).
    pub multi: bool,
    pub network: Network,
    /// A multi-style (CIN) model whose styles the new model keeps, adding
    /// the paintings (only their γ, β are trained).
    pub extend: Option<PathBuf>,
    pub name: String,
    /// The training settings; its styles and network are the request's.
    pub options: TrainSpec,
    /// Every how many iterations the losses are recorded.
    pub sample_every: u64,
}

/// The name a trained model gets when none is given: the painting's, the
/// first painting's and a count of the others, or the extended model's with
/// the new paintings'.
pub fn default_name(paintings: &[Painting], extend: Option<&Path>) -> String {
    let names: Vec<&str> = paintings.iter().map(|p| p.name.as_str()).collect();
    match (extend, names.as_slice()) {
        (Some(p), _) => format!("{}-{}", stem(p), names.join("-")),
        (None, [one]) => one.to_string(),
        (None, [first, rest @ ..]) => format!("{first}-and-{}-more", rest.len()),
        (None, []) => String::new(),
    }
}

/// The name a trained model is saved under, the same from every front end:
/// a name the user gave is refused when taken or odd (now, not after hours
/// of training); a default name (the painting's) becomes `name-2`, `name-3`…
/// when a model, bundled or the user's, has it already.
pub fn model_name(
    models: &ModelLibrary,
    given: Option<&str>,
    default: &str,
) -> Result<String, Error> {
    let name = match given {
        Some(n) => n.to_string(),
        None => {
            let taken: Vec<String> = models.entries().into_iter().map(|e| e.name).collect();
            std::iter::once(default.to_string())
                .chain((2..).map(|n| format!("{default}-{n}")))
                .find(|n| !taken.contains(n))
                .unwrap_or_else(|| default.to_string())
        }
    };
    models.new_user_path(&name)?;
    Ok(name)
}

impl Request {
    /// The checked spec: the network fits the paintings (the extended
    /// model's file is read for its styles and width); the paintings and
    /// dataset are read by [`build`].
    pub fn spec(&self) -> Result<Spec, Error> {
        let Some((first, more)) = self.paintings.split_first() else {
            return Err(Error::invalid("styles", "none given"));
        };
        let mut train = TrainSpec {
            style: first.path.clone(),
            more_styles: more.iter().map(|p| p.path.clone()).collect(),
            style_names: self.paintings.iter().map(|p| p.name.clone()).collect(),
            extend: None,
            ..self.options.clone()
        };
        let multi = self.multi || !more.is_empty();
        if multi && train.arch.norm != Norm::Instance {
            let network = match self.network {
                Network::Transformer => "a multi-style network uses conditional instance norm",
                Network::Msg => "an MSG-Net uses instance norm",
            };
            return Err(Error::invalid("norm", format!("{network}; drop --norm")));
        }
        let n = self.paintings.len();
        match (self.network, &self.extend) {
            (Network::Msg, Some(_)) => {
                return Err(Error::invalid(
                    "extend",
                    "an MSG-Net is not extended (it takes any style image when applied)",
                ))
            }
            (Network::Msg, None) => {
                if train.arch.norm != Norm::Instance {
                    return Err(Error::invalid(
                        "norm",
                        "an MSG-Net uses instance norm; drop --norm",
                    ));
                }
                train.arch.norm = Norm::Inspiration { styles: n };
            }
            (Network::Transformer, Some(model)) => {
                let info = read_info(model)?;
                if !matches!(info.arch.norm, Norm::Conditional { .. }) {
                    return Err(Error::invalid(
                        "extend",
                        format!(
                            "'{}' is {}; --extend adds styles to a multi-style (CIN) model",
                            stem(model),
                            if info.arch.norm.is_msg() {
                                "an MSG-Net"
                            } else {
                                "a single-style model"
                            }
                        ),
                    ));
                }
                train.arch.norm = Norm::Conditional {
                    styles: info.styles.len() + n,
                };
                train.arch.width = info.arch.width;
                train.extend = Some(model.clone());
            }
            (Network::Transformer, None) if multi => {
                train.arch.norm = Norm::Conditional { styles: n };
            }
            (Network::Transformer, None) => {}
        }
        let spec = Spec {
            name: self.name.clone(),
            train,
            sample_every: self.sample_every.max(1),
            pixel_limit: crate::engine::infra::image_io::DEFAULT_PIXEL_LIMIT,
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// A checked training and its inputs (paintings, the model extended, the
/// dataset, the preview photo), hashed.
pub type Built = crate::jobs::Built<Spec>;

impl Built {
    pub fn job(self) -> (crate::jobs::Job, Vec<Input>) {
        (crate::jobs::Job::Train(self.spec), self.inputs)
    }
}

/// [`Request::spec`] with every file read: each painting and the preview
/// decode within the limit, the dataset holds photos.
pub fn build(req: &Request, limits: &Limits) -> Result<Built, Error> {
    let mut spec = req.spec()?;
    spec.pixel_limit = limits.pixel_limit;
    let names: Vec<Option<String>> = req.paintings.iter().map(|p| Some(p.name.clone())).collect();
    let inputs = spec.inputs_named(&names)?;
    Ok(Built { spec, inputs })
}
