//! Writing an analogy's results: A′ where asked, B, the two fields and their
//! pictures beside it; each file atomic and never over an existing one.

use std::path::{Path, PathBuf};

use image::{imageops::FilterType, Rgb, RgbImage};

use crate::engine::infra::error::Result;
use crate::engine::infra::image_io::{save_png, unique_path};

use super::pipeline::Analogy;
use super::progress::AnalogyOutcome;
use super::spec::AnalogySpec;

/// Where each result goes for an A′ written to `out`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputPaths {
    pub a_prime: PathBuf,
    pub b: PathBuf,
    pub flow_ab: PathBuf,
    pub flow_ab_picture: PathBuf,
    pub flow_ba: PathBuf,
    pub flow_ba_picture: PathBuf,
}

/// `out` itself for A′; beside it `<stem>.b.png` (B), `<stem>.flo` and
/// `<stem>.flow.png` (A→B′), `<stem>.b.flo` and `<stem>.b.flow.png` (B′→A),
/// each numbered (`-2`, …) if the name is taken.
pub fn output_paths(out: &Path) -> OutputPaths {
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "analogy".into());
    let beside = |suffix: &str| unique_path(&out.with_file_name(format!("{stem}{suffix}")));
    OutputPaths {
        a_prime: out.to_path_buf(),
        b: beside(".b.png"),
        flow_ab: beside(".flo"),
        flow_ab_picture: beside(".flow.png"),
        flow_ba: beside(".b.flo"),
        flow_ba_picture: beside(".b.flow.png"),
    }
}

/// Writes every result (A′ at `out`, refused if it exists) with the spec in
/// the PNGs' text chunks.
pub fn write(analogy: &Analogy, spec: &AnalogySpec, out: &Path) -> Result<AnalogyOutcome> {
    let p = output_paths(out);
    let spec_json = serde_json::to_string(spec).unwrap_or_default();
    let text = |role: &str| {
        vec![
            ("Software", format!("atelier {}", env!("CARGO_PKG_VERSION"))),
            ("atelier:analogy", spec_json.clone()),
            ("atelier:role", role.to_string()),
        ]
    };
    save_png(&p.a_prime, &analogy.a_prime, &text("A'"), false)?;
    save_png(&p.b, &analogy.b, &text("B"), false)?;
    analogy.nnf_ab.write_flo(&p.flow_ab)?;
    save_png(
        &p.flow_ab_picture,
        &analogy.nnf_ab.to_picture(),
        &text("flow A->B'"),
        false,
    )?;
    analogy.nnf_ba.write_flo(&p.flow_ba)?;
    save_png(
        &p.flow_ba_picture,
        &analogy.nnf_ba.to_picture(),
        &text("flow B'->A"),
        false,
    )?;
    Ok(AnalogyOutcome {
        a_prime: p.a_prime,
        b: p.b,
        flow_ab: p.flow_ab,
        flow_ab_picture: p.flow_ab_picture,
        flow_ba: p.flow_ba,
        flow_ba_picture: p.flow_ba_picture,
        timings: analogy.timings,
    })
}

/// The images side by side at `height` px, 4 px of white between them.
pub fn contact_sheet(images: &[&RgbImage], height: u32) -> RgbImage {
    const GAP: u32 = 4;
    let scaled: Vec<RgbImage> = images
        .iter()
        .map(|img| {
            let w = (u64::from(img.width()) * u64::from(height) / u64::from(img.height().max(1)))
                .max(1) as u32;
            image::imageops::resize(*img, w, height, FilterType::Lanczos3)
        })
        .collect();
    let width = scaled.iter().map(|i| i.width() + GAP).sum::<u32>() + GAP;
    let mut sheet = RgbImage::from_pixel(width, height + 2 * GAP, Rgb([255, 255, 255]));
    let mut x = GAP;
    for img in &scaled {
        image::imageops::overlay(&mut sheet, img, i64::from(x), i64::from(GAP));
        x += img.width() + GAP;
    }
    sheet
}
