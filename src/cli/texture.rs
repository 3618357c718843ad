//! `atelier texture`: texture synthesis from a style image alone (Gatys, Ecker
//! & Bethge, "Texture Synthesis Using Convolutional Neural Networks", 2015):
//! style loss only, from seeded noise.

use anyhow::Result;
use clap::Args;

use super::stylize::{check_output, check_side_outputs, optimise_and_save, CommonArgs, Finish};
use crate::config::{resolve, Config};
use crate::engine::gatys::transfer::texture_canvas;
use crate::engine::infra::device::{device_name, parse_device};
use crate::engine::infra::image_io::load_rgb;
use crate::engine::infra::library::Library;
use crate::engine::infra::output::OutputPolicy;
use crate::engine::nets::vgg::Vgg19;
use crate::engine::nets::weights::Weights;
use crate::jobs::stylize::build::Painting;
use crate::jobs::texture::{self, build};
use crate::queue::run::DeviceDefaults;
use crate::queue::Store;

#[derive(Args, Debug)]
pub struct TextureArgs {
    /// Style image: a path or a bundled painting's name.
    pub style: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
    /// A square SIZE×SIZE output instead of the style's aspect.
    #[arg(long)]
    pub square: bool,
    /// A `[presets.NAME]` table for the other parameters.
    #[arg(long)]
    pub preset: Option<String>,
}

/// The texture builder's request for `t`, on its preset's (or `[run]`'s)
/// parameters for a GPU or a CPU.
pub fn request(t: &TextureArgs, c: &Config, gpu: bool) -> Result<build::Request> {
    let mut params = c.kind_spec(texture::KIND, t.preset.as_deref(), gpu)?;
    if let Some(n) = t.common.size {
        params.size = n;
    }
    if let Some(n) = t.common.steps {
        params.steps = n;
    }
    if let Some(n) = t.common.seed {
        params.seed = n;
    }
    let styles = Library::open(&resolve(&c.paths.styles)).ok();
    let query = t.style.as_deref().unwrap_or(&c.stylize.style);
    Ok(build::Request {
        painting: Painting::named(query, styles.as_ref())?,
        square: t.square,
        params,
    })
}

pub fn run(a: TextureArgs, c: &Config) -> Result<i32> {
    let device = parse_device(a.common.device.as_deref().unwrap_or(&c.stylize.device))?;
    let req = request(&a, c, device.is_cuda())?;
    // The painting checked as a queued texture's is (the same sentences).
    build::build(&req, &c.limits())?;
    let t = req.spec(&c.limits())?;
    let path = req.painting.path.clone();
    let policy = OutputPolicy::new(a.common.force, &[&path]);
    let out = check_output(
        a.common.output.as_deref(),
        &policy,
        c,
        &format!("texture__{}.png", req.painting.name),
    )?;
    let save_every = a.common.save_every.unwrap_or(0);
    check_side_outputs(&out, None, save_every, &policy)?;
    let style = load_rgb(&path, t.gatys.pixel_limit)?;
    // The canvas a worker gives the same job.
    let (w, h) = t.canvas(style.width(), style.height());
    let weights = Weights::load(&resolve(&c.paths.weights))?;
    let vgg = Vgg19::new(&weights, t.gatys.pooling, device)?;
    drop(weights);
    let canvas = texture_canvas(w, h);
    println!(
        "synthesising a {w}x{h} texture of {} on {}: {} steps",
        path.display(),
        device_name(device),
        t.gatys.steps
    );
    let finish = Finish {
        output: out,
        policy,
        log_every: a.common.log_every.unwrap_or(c.stylize.log_every),
        summary_json: None,
        save_every,
    };
    optimise_and_save(&vgg, &t.gatys, &canvas, &[style], device, &finish)
}

/// `queue add texture`: a texture, queued (the options of `texture` that
/// shape it).
#[derive(Args, Debug)]
pub struct TextureAdd {
    #[command(flatten)]
    pub run: TextureArgs,
    #[command(flatten)]
    pub place: super::queue::Placement,
}

pub(super) fn add(a: TextureAdd, store: &mut Store, c: &Config) -> Result<i32> {
    let r = &a.run;
    super::stylize::refuse_unqueued(&r.common, &[])?;
    let (kind, gpu) = super::queue::device_request(r.common.device.as_deref(), c)?;
    // A preset's size or steps are given values too.
    let preset_sets = |key: &str| {
        r.preset
            .as_ref()
            .and_then(|p| c.presets.get(p))
            .is_some_and(|t| t.contains_key(key))
    };
    // What was not given is the worker's device's to choose.
    let defaults = DeviceDefaults {
        size: r.common.size.is_none() && !preset_sets("size"),
        steps: r.common.steps.is_none() && !preset_sets("steps"),
    };
    let req = request(r, c, gpu)?;
    let (job, inputs) = build::build(&req, &c.limits())?.job();
    let id = store.add_job_on(&job, &inputs, a.place.priority, kind, defaults)?;
    super::queue::report(store, id, a.place.json)
}
