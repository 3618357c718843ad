//! `queue add train|apply|analogy`: the fast-style and analogy kinds, queued.
//! Every input is checked here, so a bad one fails at once, not in the worker.

use std::path::Path;

use anyhow::Result;
use clap::Args;

use super::queue::Placement;
use crate::config::{resolve, Config};
use crate::engine::fast::models::ModelLibrary;
use crate::jobs::analogy::build::Options;
use crate::jobs::{train, Job};
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

#[derive(Args, Debug)]
pub struct VideoAdd {
    #[command(flatten)]
    pub video: super::video::VideoArgs,
    #[command(flatten)]
    pub place: Placement,
}

pub fn add_video(mut a: VideoAdd, store: &mut Store, c: &Config) -> Result<i32> {
    anyhow::ensure!(
        a.video.gatys.common.output.is_none(),
        "a queued video is written into its run folder (video.mp4): drop -o"
    );
    let data_dir = store.data_dir().to_path_buf();
    let (built, _) = super::video::build_video(
        &mut a.video,
        Some(crate::jobs::video::build::QUEUED_CONTAINER.into()),
        false,
        c,
        Some(&data_dir),
    )?;
    let (job, inputs) = built.job();
    let id = store.add_job(&job, &inputs, a.place.priority)?;
    super::queue::report(store, id, a.place.json)
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
    let models = model_library(store);
    let built = super::fast::build_apply(
        &a.model,
        &a.contents,
        a.size,
        a.arbitrary.choice(&a.styles),
        &models,
        c,
    )?;
    let (job, inputs) = a.arbitrary.masked(built)?.job();
    let id = store.add_job(&job, &inputs, a.place.priority)?;
    super::queue::report(store, id, a.place.json)
}

pub fn add_analogy(a: AnalogyAdd, store: &mut Store, c: &Config) -> Result<i32> {
    let options = Options {
        size: a.size,
        weight_level: a.weight_level,
        iterations: a.iterations,
        fast: a.fast,
        seed: a.seed,
    };
    let (built, _) = super::analogy::build_typed(&a.a, &a.b_prime, options, false, c)?;
    let id = store.add_job(&Job::Analogy(built.spec), &built.inputs, a.place.priority)?;
    super::queue::report(store, id, a.place.json)
}
