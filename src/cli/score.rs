//! `atelier score IMAGE CONTENT STYLE [stylize options]`: the stylize loss
//! (content, style, total, weighted as the options say) of any image, so the
//! output of a fast model, an analogy or another tool can be set beside a
//! Gatys run of the same pair by one measure.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use image::imageops::FilterType;

use super::stylize::{spec_from_args, StylizeArgs};
use crate::config::{resolve, Config};
use crate::engine::gatys::transfer;
use crate::engine::infra::device::parse_device;
use crate::engine::infra::image_io::{load_rgb, to_tensor};
use crate::engine::nets::color::ColorMode;
use crate::engine::nets::vgg::Vgg19;
use crate::engine::nets::weights::Weights;

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// The image to score (resized to the content's size at --size).
    pub image: PathBuf,
    /// CONTENT, STYLE and the loss options, exactly as for `atelier stylize`
    /// (size, weights, layers, style scale…; run options are ignored).
    #[command(flatten)]
    pub stylize: StylizeArgs,
    /// Print the losses as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: ScoreArgs, c: &Config) -> Result<i32> {
    let device = parse_device(
        a.stylize
            .common
            .device
            .as_deref()
            .unwrap_or(&c.stylize.device),
    )?;
    let (spec, _) = spec_from_args(&a.stylize, c, device.is_cuda())?;
    anyhow::ensure!(
        spec.preserve_colors == ColorMode::None,
        "score measures the full-colour loss: drop --preserve-colors"
    );
    let content = load_rgb(&spec.content, spec.pixel_limit)?;
    let styles = spec
        .styles
        .iter()
        .map(|s| load_rgb(&s.path, spec.pixel_limit))
        .collect::<Result<Vec<_>, _>>()?;
    let image = load_rgb(&a.image, spec.pixel_limit)?;
    let mut prepared = transfer::prepare(&spec, &content, &styles, device)?;
    let (_, _, h, w) = prepared.content.size4()?;
    let image = image::imageops::resize(&image, w as u32, h as u32, FilterType::Lanczos3);
    prepared.start = Some(to_tensor(&image, device)?);
    let weights = Weights::load(&resolve(&c.paths.weights))?;
    let vgg = Vgg19::new(&weights, spec.pooling, device)?;
    drop(weights);
    let l =
        transfer::losses_at_start(&vgg, &spec, &prepared).context("cannot evaluate the loss")?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "image": a.image, "width": w, "height": h,
                "content": l.content, "style": l.style, "tv": l.tv, "total": l.total,
            })
        );
    } else {
        println!(
            "{} at {w}x{h}: content {:.4e}  style {:.4e}  tv {:.4e}  total {:.4e}",
            a.image.display(),
            l.content,
            l.style,
            l.tv,
            l.total
        );
    }
    Ok(0)
}
