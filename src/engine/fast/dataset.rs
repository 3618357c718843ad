//! A training set: every image under a folder (recursively), with random
//! square crops at a jittered scale and random flips, all drawn from a
//! generator seeded by (seed, iteration), so a resumed run sees the same
//! batches as an uninterrupted one.

use std::path::{Path, PathBuf};

use image::{imageops::FilterType, ImageReader, RgbImage};
use tch::{Device, Tensor};

use super::model_file::DatasetSummary;
use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::image_io::{load_rgb, to_tensor, DEFAULT_PIXEL_LIMIT, MIN_SIDE};

/// Smallest crop, as a fraction of the image's shorter side (scale jitter).
pub const MIN_CROP: f64 = 0.6;

/// The images found under a folder.
pub struct Dataset {
    pub root: PathBuf,
    pub files: Vec<PathBuf>,
    /// Files that are not images or cannot be read.
    pub skipped: usize,
    /// Images too small to crop from (under `MIN_SIDE` px a side) or over
    /// the pixel limit: counted apart, since "not an image" would mislead.
    pub unfit: usize,
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
        let (mut files, mut skipped, mut unfit) = (Vec::new(), 0, 0);
        for f in all {
            match readable(&f) {
                Some(true) => files.push(f),
                Some(false) => unfit += 1,
                None => skipped += 1,
            }
        }
        if files.is_empty() {
            let small = match unfit {
                0 => String::new(),
                n => format!(
                    "{n} image(s) smaller than {MIN_SIDE} px a side or over the pixel limit, "
                ),
            };
            return Err(Error::invalid(
                "dataset",
                format!(
                    "{}: no images found ({small}{skipped} other files skipped); fill it with `make dataset` or point --dataset at a folder of photos",
                    root.display()
                ),
            ));
        }
        Ok(Self {
            root: root.to_path_buf(),
            files,
            skipped,
            unfit,
        })
    }

    /// A digest of the images (their names under the root and their
    /// contents), recorded when a run is queued so that a dataset changed
    /// before the run starts is noticed.
    pub fn manifest_sha256(&self) -> Result<String> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for f in &self.files {
            let name = f.strip_prefix(&self.root).unwrap_or(f);
            h.update(name.to_string_lossy().as_bytes());
            h.update([0]);
            h.update(crate::engine::nets::weights::sha256_file(f)?.as_bytes());
            h.update([b'\n']);
        }
        Ok(format!("{:x}", h.finalize()))
    }

    pub fn summary(&self) -> Result<DatasetSummary> {
        Ok(DatasetSummary {
            name: self
                .root
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            manifest_sha256: self.manifest_sha256()?,
            path: self.root.clone(),
            images: self.files.len(),
            skipped: self.skipped + self.unfit,
        })
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

/// Whether the header says this is an image we can train on: `None` for
/// no image we can decode, `Some(false)` for an image of unfit size.
fn readable(p: &Path) -> Option<bool> {
    let r = ImageReader::open(p)
        .and_then(|r| r.with_guessed_format())
        .ok()?;
    r.format()?;
    let (w, h) = r.into_dimensions().ok()?;
    Some(w >= MIN_SIDE && h >= MIN_SIDE && u64::from(w) * u64::from(h) <= DEFAULT_PIXEL_LIMIT)
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
