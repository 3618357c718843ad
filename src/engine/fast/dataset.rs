//! A training set: every image under a folder (recursively), with random
//! square crops at a jittered scale and random flips, all drawn from a
//! generator seeded by (seed, iteration), so a resumed run sees the same
//! batches as an uninterrupted one.

use std::path::{Path, PathBuf};

use image::{imageops::FilterType, ImageReader, RgbImage};
use tch::{Device, Tensor};

use super::model_file::DatasetSummary;
use crate::engine::error::{Error, Result};
use crate::engine::image_io::{load_rgb, to_tensor, DEFAULT_PIXEL_LIMIT, MIN_SIDE};

/// Smallest crop, as a fraction of the image's shorter side (scale jitter).
pub const MIN_CROP: f64 = 0.6;

/// The images found under a folder.
pub struct Dataset {
    pub root: PathBuf,
    pub files: Vec<PathBuf>,
    /// Files that are not images or cannot be read.
    pub skipped: usize,
}

impl Dataset {
    /// Finds every readable image under `root` (by its header: format known,
    /// size within limits); others are counted in `skipped`. None is an error.
    pub fn scan(root: &Path) -> Result<Self> {
        if !root.is_dir() {
            return Err(Error::invalid(
                "dataset",
                format!("{}: not a folder", root.display()),
            ));
        }
        let mut all = Vec::new();
        walk(root, &mut all)?;
        all.sort();
        let (mut files, mut skipped) = (Vec::new(), 0);
        for f in all {
            if readable(&f) {
                files.push(f);
            } else {
                skipped += 1;
            }
        }
        if files.is_empty() {
            return Err(Error::invalid(
                "dataset",
                format!(
                    "{}: no images found ({skipped} other files skipped); fill it with `scripts/fetch_dataset` or point --dataset at a folder of photos",
                    root.display()
                ),
            ));
        }
        Ok(Self {
            root: root.to_path_buf(),
            files,
            skipped,
        })
    }

    pub fn summary(&self) -> DatasetSummary {
        DatasetSummary {
            path: self.root.clone(),
            images: self.files.len(),
            skipped: self.skipped,
        }
    }

    /// The batch of `iteration`: `[batch, 3, size, size]` RGB 0..255.
    pub fn batch(
        &self,
        seed: u64,
        iteration: u64,
        batch: usize,
        size: u32,
        device: Device,
    ) -> Result<Tensor> {
        let mut rng = Rng::new(seed ^ iteration.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut items = Vec::with_capacity(batch);
        for _ in 0..batch {
            let f = &self.files[rng.below(self.files.len() as u64) as usize];
            let img = load_rgb(f, DEFAULT_PIXEL_LIMIT)?;
            let crop = random_crop(&img, size, &mut rng);
            items.push(to_tensor(&crop, device)?);
        }
        Ok(Tensor::f_cat(&items, 0)?.f_mul_scalar(255.0)?)
    }
}

/// A square crop of side in [MIN_CROP, 1] × the shorter side at a random
/// place, resized to `size`, flipped left-right half the time.
pub fn random_crop(img: &RgbImage, size: u32, rng: &mut Rng) -> RgbImage {
    let short = img.width().min(img.height());
    let side = ((f64::from(short) * (MIN_CROP + (1.0 - MIN_CROP) * rng.unit())).round() as u32)
        .clamp(1, short);
    let x = rng.below(u64::from(img.width() - side + 1)) as u32;
    let y = rng.below(u64::from(img.height() - side + 1)) as u32;
    let c = image::imageops::crop_imm(img, x, y, side, side).to_image();
    let mut r = image::imageops::resize(&c, size, size, FilterType::Triangle);
    if rng.below(2) == 1 {
        image::imageops::flip_horizontal_in_place(&mut r);
    }
    r
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        match e.file_type() {
            Ok(t) if t.is_dir() => walk(&p, out)?,
            Ok(t) if t.is_file() => out.push(p),
            _ => {}
        }
    }
    Ok(())
}

/// Whether the header says this is an image we can decode and train on.
fn readable(p: &Path) -> bool {
    let Ok(r) = ImageReader::open(p).and_then(|r| r.with_guessed_format()) else {
        return false;
    };
    if r.format().is_none() {
        return false;
    }
    match r.into_dimensions() {
        Ok((w, h)) => {
            w >= MIN_SIDE && h >= MIN_SIDE && u64::from(w) * u64::from(h) <= DEFAULT_PIXEL_LIMIT
        }
        Err(_) => false,
    }
}

/// splitmix64: small, fast, and the same on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
