//! The one builder of a stylize job: what a user chose (a photo, paintings
//! with blend weights, the run parameters of the config, a preset, the
//! device and their options) turned into a checked [`Spec`] and its inputs.
//! `atelier stylize`, `queue add`, `runs rerun`, Compose and drop-folder
//! rules all build through here, so what one accepts all accept, and what
//! one refuses all refuse with the same sentence.

use std::path::{Path, PathBuf};

use super::{stem, Spec};
use crate::engine::gatys::spec::{RunSpec, StyleRef};
use crate::engine::infra::library::{resolve_image, Library};
use crate::engine::Error;
use crate::jobs::{Input, Limits, Role};

/// A painting as the user chose it: its file, its blend weight and the
/// name it is shown (and its outputs named) by.
#[derive(Clone, Debug, PartialEq)]
pub struct Painting {
    pub path: PathBuf,
    pub weight: f64,
    pub name: String,
}

impl Painting {
    /// `NAME|PATH[:W]` as typed: found by path, or by name in `library`.
    pub fn find(query: &str, library: Option<&Library>) -> Result<Painting, Error> {
        let (q, weight) = StyleRef::split(query)?;
        Ok(Painting {
            weight,
            ..Self::named(q, library)?
        })
    }

    /// `NAME|PATH` (no weight: a texture's or a rule's one painting).
    pub fn named(query: &str, library: Option<&Library>) -> Result<Painting, Error> {
        let path = resolve_image(query, library)?;
        Ok(Painting {
            name: name_in(&path, library),
            path,
            weight: 1.0,
        })
    }

    /// The painting as a run input: it must decode within `pixel_limit`;
    /// recorded with its absolute path and its sha256.
    pub fn checked(&self, pixel_limit: u64) -> Result<Input, Error> {
        Input::checked(
            Role::Style,
            Some(self.name.clone()),
            &self.path,
            pixel_limit,
        )
    }
}

/// The name `library` gives the file at `path`, else the file's stem.
pub fn name_in(path: &Path, library: Option<&Library>) -> String {
    library
        .and_then(|l| l.entries().iter().find(|e| l.path_of(e) == path))
        .map(|e| e.name.clone())
        .unwrap_or_else(|| stem(path))
}

/// A stylize of `content` with `paintings` on the parameters `params` (the
/// config's `[run]` laid under a preset, the device's size and steps, and
/// the user's options; its content and styles are the request's).
#[derive(Clone, Debug)]
pub struct Request {
    pub content: PathBuf,
    /// How the photo is shown; `None`: its library name, else its stem.
    pub content_name: Option<String>,
    pub paintings: Vec<Painting>,
    pub params: RunSpec,
}

impl Request {
    /// The checked spec within `limits`; no file is read ([`build`] reads
    /// them).
    pub fn spec(&self, limits: &Limits) -> Result<Spec, Error> {
        let spec = RunSpec {
            content: self.content.clone(),
            styles: self
                .paintings
                .iter()
                .map(|p| StyleRef {
                    path: p.path.clone(),
                    weight: p.weight,
                })
                .collect(),
            pixel_limit: limits.pixel_limit,
            ..self.params.clone()
        };
        spec.validate()?;
        Ok(spec)
    }

    /// The paintings' names, in order (`irises+the-harvesters` for outputs).
    pub fn style_names(&self) -> Vec<String> {
        self.paintings.iter().map(|p| p.name.clone()).collect()
    }
}

/// A checked stylize and its inputs (photo, paintings, masks), hashed.
pub type Built = crate::jobs::Built<Spec>;

impl Built {
    pub fn job(self) -> (crate::jobs::Job, Vec<Input>) {
        (crate::jobs::Job::Stylize(self.spec), self.inputs)
    }
}

/// [`Request::spec`] with every file read: the photo, each painting and
/// mask decodes within the limit; paths made absolute.
pub fn build(req: &Request, limits: &Limits) -> Result<Built, Error> {
    let mut spec = req.spec(limits)?;
    let inputs = super::inputs(&mut spec, req.content_name.clone(), &req.style_names())?;
    Ok(Built { spec, inputs })
}
