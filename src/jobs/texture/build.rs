//! The one builder of a texture job: a painting, the run parameters (the
//! config's `[run]` under a preset, the device's size and steps, the user's
//! options) and the canvas shape, turned into a checked [`Spec`] and its
//! input. `atelier texture`, `queue add texture`, `runs rerun` and Compose
//! all build through here.

use super::Spec;
use crate::engine::gatys::spec::{RunSpec, StyleRef};
use crate::engine::Error;
use crate::jobs::stylize::build::Painting;
use crate::jobs::{Input, Limits};

/// A texture of `painting` (its weight is not used: a texture has one
/// style) on the parameters `params`.
#[derive(Clone, Debug)]
pub struct Request {
    pub painting: Painting,
    /// A `size`×`size` canvas instead of the painting's aspect.
    pub square: bool,
    pub params: RunSpec,
}

impl Request {
    /// The checked spec within `limits`; no file is read ([`build`] reads it).
    pub fn spec(&self, limits: &Limits) -> Result<Spec, Error> {
        let params = RunSpec {
            pixel_limit: limits.pixel_limit,
            ..self.params.clone()
        };
        let style = StyleRef {
            path: self.painting.path.clone(),
            weight: 1.0,
        };
        let spec = Spec::new(&params, style, self.square);
        spec.validate()?;
        Ok(spec)
    }
}

/// A checked texture and its input (the painting), hashed.
pub type Built = crate::jobs::Built<Spec>;

impl Built {
    pub fn job(self) -> (crate::jobs::Job, Vec<Input>) {
        (crate::jobs::Job::Texture(self.spec), self.inputs)
    }
}

/// [`Request::spec`] with the painting read: it decodes within the limit;
/// its path made absolute.
pub fn build(req: &Request, limits: &Limits) -> Result<Built, Error> {
    let mut spec = req.spec(limits)?;
    let inputs = spec.inputs(Some(req.painting.name.clone()))?;
    Ok(Built { spec, inputs })
}
