//! The `texture` kind: texture synthesis from a style image alone (Gatys,
//! Ecker & Bethge 2015), run by the engine as a transfer with style loss only,
//! from seeded noise, on a flat canvas ([`crate::engine::gatys::transfer::texture_spec`]).

pub mod build;

use serde::{Deserialize, Serialize};

use super::input::Input;
use crate::engine::gatys::spec::{RunSpec, StyleRef};
use crate::engine::gatys::transfer::texture_spec;
use crate::engine::infra::image_io::fit_longer_side;
use crate::engine::Error;
use crate::jobs::Role;

pub const KIND: &str = "texture";

/// A texture job: the optimisation's parameters (its one style in
/// `gatys.styles`, no content) and the canvas shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A `size`×`size` output instead of the style's aspect.
    #[serde(default)]
    pub square: bool,
    pub gatys: RunSpec,
}

/// Same as a transfer's: the loop is the transfer's.
pub type Progress = super::stylize::Progress;
pub type Outcome = super::stylize::Outcome;
/// From the last snapshot, as a transfer.
pub type Resume = super::stylize::Resume;

impl Spec {
    /// A texture of `style` on the parameters `base` (content weight 0, from
    /// noise, whatever `base` says).
    pub fn new(base: &RunSpec, style: StyleRef, square: bool) -> Spec {
        Spec {
            square,
            gatys: texture_spec(RunSpec {
                content: Default::default(),
                styles: vec![style],
                ..base.clone()
            }),
        }
    }

    pub fn validate(&self) -> Result<(), Error> {
        if self.gatys.styles.len() != 1 {
            return Err(Error::invalid(
                "styles",
                format!("a texture takes one style, not {}", self.gatys.styles.len()),
            ));
        }
        self.gatys.validate()
    }

    /// The canvas (width, height) for a style image of `w`×`h`.
    pub fn canvas(&self, w: u32, h: u32) -> (u32, u32) {
        if self.square {
            (self.gatys.size, self.gatys.size)
        } else {
            fit_longer_side(w, h, self.gatys.size)
        }
    }

    /// The checked input (its style), with its absolute path written back.
    pub fn inputs(&mut self, style_name: Option<String>) -> Result<Vec<Input>, Error> {
        let limit = self.gatys.pixel_limit;
        let s = self
            .gatys
            .styles
            .first_mut()
            .ok_or_else(|| Error::invalid("styles", "none given"))?;
        let input = Input::checked(Role::Style, style_name, &s.path, limit)?;
        s.path = input.path.clone();
        Ok(vec![input])
    }
}

/// What a texture run is, by its inputs' names: `texture of irises`.
pub fn title(name: &dyn Fn(Role) -> String) -> String {
    format!("{KIND} of {}", name(Role::Style))
}
