//! `atelier texture`: texture synthesis from a style image alone (Gatys, Ecker
//! & Bethge, "Texture Synthesis Using Convolutional Neural Networks", 2015):
//! style loss only, from seeded noise.

use anyhow::Result;
use clap::Args;

use super::stylize::{
    check_output, check_side_outputs, optimise_and_save, stem, CommonArgs, Finish,
};
use crate::config::{resolve, Config};
use crate::engine::gatys::spec::{RunSpec, StyleRef};
use crate::engine::gatys::transfer::{texture_canvas, texture_spec};
use crate::engine::infra::device::{device_name, parse_device};
use crate::engine::infra::image_io::{fit_longer_side, load_rgb};
use crate::engine::infra::library::{resolve_image, Library};
use crate::engine::infra::output::OutputPolicy;
use crate::engine::nets::vgg::Vgg19;
use crate::engine::nets::weights::Weights;

#[derive(Args, Debug)]
pub struct TextureArgs {
    /// Style image: a path or a bundled painting's name.
    pub style: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
    /// A square SIZE×SIZE output instead of the style's aspect.
    #[arg(long)]
    pub square: bool,
}

pub fn run(a: TextureArgs, c: &Config) -> Result<i32> {
    let device = parse_device(a.common.device.as_deref().unwrap_or(&c.stylize.device))?;
    let d = if device.is_cuda() { c.gpu } else { c.cpu };
    let styles = Library::open(&resolve(&c.paths.styles)).ok();
    let query = a.style.clone().unwrap_or_else(|| c.stylize.style.clone());
    let path = resolve_image(&query, styles.as_ref())?;
    let name = styles
        .as_ref()
        .and_then(|l| l.entries().iter().find(|e| l.path_of(e) == path))
        .map(|e| e.name.clone())
        .unwrap_or_else(|| stem(&path));
    let spec = texture_spec(RunSpec {
        styles: vec![StyleRef {
            path: path.clone(),
            weight: 1.0,
        }],
        size: a.common.size.unwrap_or(d.size),
        steps: a.common.steps.unwrap_or(d.steps),
        seed: a.common.seed.unwrap_or(c.run.seed),
        ..c.run.clone()
    });
    spec.validate()?;
    let policy = OutputPolicy::new(a.common.force, &[&path]);
    let out = check_output(
        a.common.output.as_deref(),
        &policy,
        c,
        &format!("texture__{name}.png"),
    )?;
    let save_every = a.common.save_every.unwrap_or(0);
    check_side_outputs(&out, None, save_every, &policy)?;
    let style = load_rgb(&path, spec.pixel_limit)?;
    let (w, h) = if a.square {
        (spec.size, spec.size)
    } else {
        fit_longer_side(style.width(), style.height(), spec.size)
    };
    let weights = Weights::load(&resolve(&c.paths.weights))?;
    let vgg = Vgg19::new(&weights, spec.pooling, device)?;
    drop(weights);
    let canvas = texture_canvas(w, h);
    println!(
        "synthesising a {w}x{h} texture of {} on {}: {} steps",
        path.display(),
        device_name(device),
        spec.steps
    );
    let finish = Finish {
        output: out,
        policy,
        log_every: a.common.log_every.unwrap_or(c.stylize.log_every),
        summary_json: None,
        save_every,
    };
    optimise_and_save(&vgg, &spec, &canvas, &[style], device, &finish)
}
