//! The one builder of an analogy: A and B′ as the user named them (paths, or
//! names in the photo and painting libraries), with the options left out
//! taken from the defaults, checked. `atelier analogy`, `queue add analogy`
//! and Compose build through here.

use std::path::{Path, PathBuf};

use super::{inputs, Spec};
use crate::engine::infra::library::{resolve_image, Library};
use crate::engine::Error;
use crate::jobs::Limits;

/// The analogy of `a` and `b_prime` with `options`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Request {
    pub a: PathBuf,
    pub b_prime: PathBuf,
    pub options: Options,
}

/// What the user chose; `None`: the default.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    pub size: Option<u32>,
    pub weight_level: Option<u8>,
    pub iterations: Option<usize>,
    pub fast: bool,
    pub seed: Option<u64>,
}

/// The defaults of the options left out: the config's seed, and whether
/// the run is on a GPU (a larger default size).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Defaults {
    pub seed: u64,
    pub gpu: bool,
}

/// The default size on a GPU (on a CPU: the spec's default).
pub const GPU_SIZE: u32 = 448;

impl Request {
    /// The checked spec, within `limits`; its files are read by [`build`].
    pub fn spec(self, defaults: Defaults, limits: &Limits) -> Result<Spec, Error> {
        let d = Spec::default();
        let o = self.options;
        let spec = Spec {
            a: self.a,
            b_prime: self.b_prime,
            size: o
                .size
                .unwrap_or(if defaults.gpu { GPU_SIZE } else { d.size }),
            weight_level: o.weight_level.unwrap_or(d.weight_level),
            iterations: o.iterations.unwrap_or(d.iterations),
            fast: o.fast,
            seed: o.seed.unwrap_or(defaults.seed),
            pixel_limit: limits.pixel_limit,
            ..d
        };
        spec.validate()?;
        Ok(spec)
    }
}

/// A checked analogy, its inputs A and B′ hashed and named.
pub type Built = crate::jobs::Built<Spec>;

/// [`Request::spec`] with A and B′ read (each decodes within the limit),
/// recorded under `names`.
pub fn build(
    req: Request,
    names: [Option<String>; 2],
    defaults: Defaults,
    limits: &Limits,
) -> Result<Built, Error> {
    let mut spec = req.spec(defaults, limits)?;
    let inputs = inputs(&mut spec, names)?;
    Ok(Built { spec, inputs })
}

/// A and B′ as typed: A looked up among the photos then the paintings, B′
/// the other way round; each with its library name (else its stem).
pub fn resolve_pair(
    a: &str,
    b_prime: &str,
    contents: Option<&Library>,
    paintings: Option<&Library>,
) -> Result<[(PathBuf, String); 2], Error> {
    let pa = resolve_either(a, contents, paintings)?;
    let pb = resolve_either(b_prime, paintings, contents)?;
    let na = name_of(&pa, [contents, paintings]);
    let nb = name_of(&pb, [paintings, contents]);
    Ok([(pa, na), (pb, nb)])
}

/// `query` as a path or a name in the first library that has it.
fn resolve_either(
    query: &str,
    first: Option<&Library>,
    second: Option<&Library>,
) -> Result<PathBuf, Error> {
    match resolve_image(query, first) {
        Ok(p) => Ok(p),
        Err(e) => match second.map(|l| resolve_image(query, Some(l))) {
            Some(Ok(p)) => Ok(p),
            _ => Err(e),
        },
    }
}

fn name_of(path: &Path, libs: [Option<&Library>; 2]) -> String {
    libs.iter()
        .flatten()
        .find_map(|l| {
            l.entries()
                .iter()
                .find(|e| l.path_of(e) == path)
                .map(|e| e.name.clone())
        })
        .unwrap_or_else(|| crate::jobs::stylize::stem(path))
}
