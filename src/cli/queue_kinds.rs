//! `queue add train|apply|analogy`: the fast-style and analogy kinds, queued.
//! Every input is checked here, so a bad one fails at once, not in the worker.

use std::path::Path;

use anyhow::{bail, Result};
use clap::Args;

use super::analogy::{name_of, resolve_either};
use super::queue::Placement;
use crate::config::{resolve, Config};
use crate::engine::analogy::AnalogySpec;
use crate::engine::arbitrary::model_file::Method;
use crate::engine::fast::models::ModelLibrary;
use crate::engine::library::{resolve_image, Library};
use crate::engine::spec::StyleRef;
use crate::jobs::{analogy, apply, train, Job};
use crate::queue::Store;

/// The model library a worker on this data directory sees.
pub fn model_library(store: &Store) -> ModelLibrary {
    ModelLibrary::new(
        resolve(Path::new("models")),
        store.data_dir().join("models"),
    )
}

#[derive(Args, Debug)]
pub struct TrainAdd {
    #[command(flatten)]
    pub styles: super::fast::TrainStyles,
    /// The trained model's name in your models (default: the style's name);
    /// a name already taken is refused.
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub options: super::fast::TrainOptions,
    /// Record the losses and images/s every N iterations.
    #[arg(long, default_value_t = 1)]
    pub sample_every: u64,
    #[command(flatten)]
    pub place: Placement,
}

#[derive(Args, Debug)]
pub struct ApplyAdd {
    /// A model name (`atelier models ls`) or a model file.
    pub model: String,
    /// Content photos (paths or names of bundled contents).
    #[arg(required = true)]
    pub contents: Vec<String>,
    /// Resize each photo so its longer side is N px first (default: as it is).
    #[arg(long, value_name = "N")]
    pub size: Option<u32>,
    /// A multi-style model's style by name or index, or an adain/wct model's
    /// painting (a path or a library name), with an optional weight; repeat
    /// to mix (as `atelier apply --style`).
    #[arg(long = "style", value_name = "STYLE[:W]")]
    pub styles: Vec<String>,
    #[command(flatten)]
    pub arbitrary: super::arbitrary::ArbApplyArgs,
    #[command(flatten)]
    pub place: Placement,
}

#[derive(Args, Debug)]
pub struct AnalogyAdd {
    /// A: the image whose structure A′ keeps (a path or a bundled name).
    pub a: String,
    /// B′: the image whose appearance A′ takes (a path or a bundled name).
    pub b_prime: String,
    /// Longer side of both working images in px (default 224).
    #[arg(long)]
    pub size: Option<u32>,
    /// How much of its own structure each side keeps: 1 to 3 (default 2).
    #[arg(long, value_name = "1|2|3")]
    pub weight_level: Option<u8>,
    /// L-BFGS iterations of each reconstruction (default 100).
    #[arg(long, value_name = "N")]
    pub iterations: Option<usize>,
    /// Skip the reconstruction optimisation (much faster on a CPU).
    #[arg(long)]
    pub fast: bool,
    /// Seed of PatchMatch's random search (default: the config's [run] seed).
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub place: Placement,
}

pub fn add_train(a: TrainAdd, store: &mut Store, c: &Config) -> Result<i32> {
    let models = model_library(store);
    let chosen = a.styles.resolve(c, &models)?;
    let name = a
        .name
        .clone()
        .unwrap_or_else(|| chosen.default_name.clone());
    // Refused now rather than after hours of training.
    models.new_user_path(&name)?;
    let mut spec = train::Spec {
        name,
        sample_every: a.sample_every.max(1),
        train: a.options.spec_for(&chosen)?,
    };
    spec.validate()?;
    let names: Vec<Option<String>> = chosen.names.iter().cloned().map(Some).collect();
    let inputs = spec.inputs_named(&names)?;
    let id = store.add_job(&Job::Train(spec), &inputs, a.place.priority)?;
    super::queue::report(store, id, a.place.json)
}

pub fn add_apply(a: ApplyAdd, store: &mut Store, c: &Config) -> Result<i32> {
    apply::check_size(a.size, c.apply.max_size)?;
    let entry = model_library(store).find(&a.model)?;
    let (mix, arbitrary) = match &entry.arbitrary {
        Some(info) => (None, Some(arb_settings(&a, info.method, c)?)),
        None => {
            a.arbitrary.refuse_for_fast(&entry.name)?;
            let info = crate::engine::fast::model_file::read_info(&entry.path)?;
            (
                super::fast::choose_mix(&entry.name, &info, &a.styles)?,
                None,
            )
        }
    };
    let contents_lib = Library::open(&resolve(&c.paths.contents)).ok();
    let mut contents = Vec::new();
    for q in &a.contents {
        contents.push(resolve_image(q, contents_lib.as_ref())?);
    }
    let mut spec = apply::Spec {
        model: entry.path.clone(),
        model_name: Some(entry.name.clone()),
        contents,
        size: a.size,
        pixel_limit: c.run.pixel_limit,
        mix,
        arbitrary,
    };
    spec.validate()?;
    let inputs = spec.inputs()?;
    let id = store.add_job(&Job::Apply(spec), &inputs, a.place.priority)?;
    super::queue::report(store, id, a.place.json)
}

/// An adain/wct apply's paintings (`--style` paths or library names with
/// weights) and options; checked against the model when the spec's inputs are.
fn arb_settings(a: &ApplyAdd, method: Method, c: &Config) -> Result<apply::ArbSettings> {
    if a.styles.is_empty() {
        bail!("--style PAINTING is needed: '{}' is a {method} model, it stylizes with any painting you name", a.model);
    }
    let lib = Library::open(&resolve(&c.paths.styles)).ok();
    let mut styles = Vec::new();
    for s in &a.styles {
        let (q, weight) = apply::style_and_weight(s)?;
        styles.push(StyleRef {
            path: resolve_image(&q, lib.as_ref())?,
            weight,
        });
    }
    let o = &a.arbitrary;
    let mut set = apply::ArbSettings::new(method, styles);
    set.alpha = o.alpha.unwrap_or(set.alpha);
    set.levels = o.levels;
    set.color = o.preserve_colors.unwrap_or(set.color);
    Ok(set)
}

pub fn add_analogy(a: AnalogyAdd, store: &mut Store, c: &Config) -> Result<i32> {
    let contents = Library::open(&resolve(&c.paths.contents)).ok();
    let styles = Library::open(&resolve(&c.paths.styles)).ok();
    let pa = resolve_either(&a.a, contents.as_ref(), styles.as_ref())?;
    let pb = resolve_either(&a.b_prime, styles.as_ref(), contents.as_ref())?;
    let names = [
        Some(name_of(&pa, [contents.as_ref(), styles.as_ref()])),
        Some(name_of(&pb, [styles.as_ref(), contents.as_ref()])),
    ];
    let d = AnalogySpec::default();
    let mut spec = AnalogySpec {
        a: pa,
        b_prime: pb,
        size: a.size.unwrap_or(d.size),
        weight_level: a.weight_level.unwrap_or(d.weight_level),
        iterations: a.iterations.unwrap_or(d.iterations),
        fast: a.fast,
        seed: a.seed.unwrap_or(c.run.seed),
        pixel_limit: c.run.pixel_limit,
        ..d
    };
    spec.validate()?;
    let inputs = analogy::inputs(&mut spec, names)?;
    let id = store.add_job(&Job::Analogy(spec), &inputs, a.place.priority)?;
    super::queue::report(store, id, a.place.json)
}
