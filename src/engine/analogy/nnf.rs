//! The nearest-neighbour field: for every position of a source map, the
//! position it matches in a target map; its upsampling between layers, the
//! flow file and the colour-coded picture of it.

use std::io::Read;
use std::path::Path;

use image::RgbImage;

use crate::engine::infra::error::{Error, Result};

/// For each source position (row-major), the matched target position (x, y).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nnf {
    pub width: usize,
    pub height: usize,
    pub target_width: usize,
    pub target_height: usize,
    pub targets: Vec<(u32, u32)>,
}

impl Nnf {
    /// Each position matched to the same position (clamped into the target):
    /// the official start at relu5_1.
    pub fn identity(
        width: usize,
        height: usize,
        target_width: usize,
        target_height: usize,
    ) -> Self {
        let targets = (0..height)
            .flat_map(|y| {
                (0..width).map(move |x| {
                    (
                        x.min(target_width - 1) as u32,
                        y.min(target_height - 1) as u32,
                    )
                })
            })
            .collect();
        Self {
            width,
            height,
            target_width,
            target_height,
            targets,
        }
    }

    /// Uniformly random targets (seeded).
    pub fn random(
        width: usize,
        height: usize,
        target_width: usize,
        target_height: usize,
        seed: u64,
    ) -> Self {
        let mut rng = super::patchmatch::Rng::new(seed);
        let targets = (0..width * height)
            .map(|_| {
                (
                    rng.below(target_width) as u32,
                    rng.below(target_height) as u32,
                )
            })
            .collect();
        Self {
            width,
            height,
            target_width,
            target_height,
            targets,
        }
    }

    /// The target of (x, y).
    #[inline]
    pub fn get(&self, x: usize, y: usize) -> (usize, usize) {
        let (tx, ty) = self.targets[y * self.width + x];
        (tx as usize, ty as usize)
    }

    /// The offset (target − source) at (x, y).
    pub fn offset(&self, x: usize, y: usize) -> (i64, i64) {
        let (tx, ty) = self.get(x, y);
        (tx as i64 - x as i64, ty as i64 - y as i64)
    }

    /// The field at a finer layer (`width`×`height` source, `target_width`×
    /// `target_height` target): each position takes its parent's offset scaled
    /// by the size ratio, as the official `upSample_kernel` (nearest parent,
    /// targets clamped into the map).
    pub fn upsample(
        &self,
        width: usize,
        height: usize,
        target_width: usize,
        target_height: usize,
    ) -> Self {
        let rx = width as f64 / self.width as f64;
        let ry = height as f64 / self.height as f64;
        let mut targets = Vec::with_capacity(width * height);
        for y in 0..height {
            let py = (((y as f64 + 0.5) / ry) as usize).min(self.height - 1);
            for x in 0..width {
                let px = (((x as f64 + 0.5) / rx) as usize).min(self.width - 1);
                let (dx, dy) = self.offset(px, py);
                let tx = (x as f64 + dx as f64 * rx + 0.5).floor();
                let ty = (y as f64 + dy as f64 * ry + 0.5).floor();
                targets.push((
                    tx.clamp(0.0, (target_width - 1) as f64) as u32,
                    ty.clamp(0.0, (target_height - 1) as f64) as u32,
                ));
            }
        }
        Self {
            width,
            height,
            target_width,
            target_height,
            targets,
        }
    }

    /// Share of positions matched to themselves (same x, y).
    pub fn identity_share(&self) -> f64 {
        let same = (0..self.height)
            .flat_map(|y| (0..self.width).map(move |x| (x, y)))
            .filter(|&(x, y)| self.get(x, y) == (x, y))
            .count();
        same as f64 / self.targets.len().max(1) as f64
    }

    /// The field as a Middlebury `.flo` file, written atomically and never over
    /// an existing file (see [`FLO_FORMAT`]).
    pub fn write_flo(&self, path: &Path) -> Result<()> {
        let mut bytes = Vec::with_capacity(12 + self.targets.len() * 8);
        bytes.extend_from_slice(&FLO_MAGIC.to_le_bytes());
        bytes.extend_from_slice(&(self.width as i32).to_le_bytes());
        bytes.extend_from_slice(&(self.height as i32).to_le_bytes());
        for y in 0..self.height {
            for x in 0..self.width {
                let (dx, dy) = self.offset(x, y);
                bytes.extend_from_slice(&(dx as f32).to_le_bytes());
                bytes.extend_from_slice(&(dy as f32).to_le_bytes());
            }
        }
        write_new(path, &bytes)
    }

    /// Reads a `.flo` file written by [`Nnf::write_flo`] back, given the target size.
    pub fn read_flo(path: &Path, target_width: usize, target_height: usize) -> Result<Self> {
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(|e| Error::io(path, e))?;
        let bad = |reason: &str| Error::Decode {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let word = |i: usize| -> Result<[u8; 4]> {
            bytes
                .get(i * 4..i * 4 + 4)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| bad("truncated flow file"))
        };
        if f32::from_le_bytes(word(0)?) != FLO_MAGIC {
            return Err(bad("not a .flo file (no PIEH tag)"));
        }
        let width = i32::from_le_bytes(word(1)?);
        let height = i32::from_le_bytes(word(2)?);
        if width <= 0 || height <= 0 {
            return Err(bad("bad size in flow file"));
        }
        let (width, height) = (width as usize, height as usize);
        let mut targets = Vec::with_capacity(width * height);
        for i in 0..width * height {
            let dx = f32::from_le_bytes(word(3 + 2 * i)?);
            let dy = f32::from_le_bytes(word(4 + 2 * i)?);
            let (x, y) = ((i % width) as f32, (i / width) as f32);
            let (tx, ty) = (x + dx, y + dy);
            if tx < 0.0 || ty < 0.0 || tx >= target_width as f32 || ty >= target_height as f32 {
                return Err(bad("flow points outside the target"));
            }
            targets.push((tx as u32, ty as u32));
        }
        Ok(Self {
            width,
            height,
            target_width,
            target_height,
            targets,
        })
    }

    /// The field as a picture: hue gives the offset's direction, saturation its
    /// length relative to the longest (white: no offset), the usual flow
    /// colour coding.
    pub fn to_picture(&self) -> RgbImage {
        let longest = (0..self.height)
            .flat_map(|y| (0..self.width).map(move |x| (x, y)))
            .map(|(x, y)| {
                let (dx, dy) = self.offset(x, y);
                ((dx * dx + dy * dy) as f64).sqrt()
            })
            .fold(0.0f64, f64::max)
            .max(1.0);
        RgbImage::from_fn(self.width as u32, self.height as u32, |x, y| {
            let (dx, dy) = self.offset(x as usize, y as usize);
            let (dx, dy) = (dx as f64, dy as f64);
            let sat = ((dx * dx + dy * dy).sqrt() / longest).min(1.0);
            let hue = (dy.atan2(dx).to_degrees() + 360.0) % 360.0;
            image::Rgb(hsv_to_rgb(hue, sat, 1.0))
        })
    }
}

/// The `.flo` tag: the float 202021.25, whose little-endian bytes spell "PIEH".
pub const FLO_MAGIC: f32 = 202021.25;

/// What a flow file holds (for the README and `--help`).
pub const FLO_FORMAT: &str = "Middlebury .flo: the bytes \"PIEH\" (float 202021.25), \
width and height as little-endian int32, then for each row top to bottom and each \
column left to right two little-endian float32: dx, dy, so that source pixel (x, y) \
matches target pixel (x + dx, y + dy)";

fn hsv_to_rgb(h: f64, s: f64, v: f64) -> [u8; 3] {
    let c = v * s;
    let hp = h / 60.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    let q = |t: f64| ((t + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    [q(r), q(g), q(b)]
}

/// Writes `bytes` to a new file `path` atomically (temp file, sync, rename
/// that refuses to replace an existing file).
pub(crate) fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::engine::infra::output::write_bytes_atomic(path, bytes, false)
}
