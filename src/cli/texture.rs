//! `atelier texture`: texture synthesis from a style image alone (Gatys, Ecker
//! & Bethge, "Texture Synthesis Using Convolutional Neural Networks", 2015):
//! style loss only, from seeded noise.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::stylize::{check_output, optimise_and_save, stem, Finish};
use crate::config::{resolve, Config};
use crate::engine::device::{device_name, parse_device};
use crate::engine::image_io::{fit_longer_side, load_rgb};
use crate::engine::library::{resolve_image, Library};
use crate::engine::spec::{RunSpec, StyleRef};
use crate::engine::transfer::{texture_canvas, texture_spec};
use crate::engine::vgg::Vgg19;
use crate::engine::weights::Weights;

#[derive(Args, Debug)]
pub struct TextureArgs {
    /// Style image: a path or a bundled painting's name.
    pub style: Option<String>,
    /// Output PNG (default: <output folder>/texture__<style>.png, never overwriting).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Overwrite the output file if it exists; skip the memory check.
    #[arg(long)]
    pub force: bool,
    /// Longer side of the output in px (default: 256 on CPU, 512 on GPU).
    #[arg(long)]
    pub size: Option<u32>,
    /// A square SIZE×SIZE output instead of the style's aspect.
    #[arg(long)]
    pub square: bool,
    /// Optimiser iterations (default: 200 on CPU, 1000 on GPU).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Seed of the starting noise.
    #[arg(long)]
    pub seed: Option<u64>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long)]
    pub device: Option<String>,
    /// Every N evaluations, write the current image to <output stem>.snapshots/step-NNNNNN.png.
    #[arg(long, value_name = "N")]
    pub save_every: Option<usize>,
    /// Print losses every N evaluations (0: never).
    #[arg(long, value_name = "N")]
    pub log_every: Option<usize>,
}

pub fn run(a: TextureArgs, c: &Config) -> Result<i32> {
    let device = parse_device(a.device.as_deref().unwrap_or(&c.stylize.device))?;
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
        size: a.size.unwrap_or(d.size),
        steps: a.steps.unwrap_or(d.steps),
        seed: a.seed.unwrap_or(c.run.seed),
        ..c.run.clone()
    });
    spec.validate()?;
    let out = check_output(
        a.output.as_deref(),
        a.force,
        c,
        &format!("texture__{name}.png"),
    )?;
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
        force: a.force,
        log_every: a.log_every.unwrap_or(c.stylize.log_every),
        summary_json: None,
        save_every: a.save_every.unwrap_or(0),
    };
    optimise_and_save(&vgg, &spec, &canvas, &[style], device, &finish)
}
