//! Masks: greyscale images that say where something acts on a photo (white),
//! where it does not (black) and, in between, how much. Read like any input
//! image, then brought to the photo's size; refused with one line when they
//! cannot mean anything for that photo.

use std::path::{Path, PathBuf};

use image::{imageops::FilterType, DynamicImage, GrayImage};
use tch::{Device, Kind, Tensor};

use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::image_io::load_rgb;

/// A mask whose brightest pixel is at most this (of 255) is empty: JPEG noise
/// around black is not a region.
const BLACK: u8 = 2;

/// Aspect ratios further apart than this (relative) are refused: a mask for
/// another framing would put the regions in the wrong places.
const ASPECT_TOLERANCE: f64 = 0.02;

/// The mask at `path` in grey levels (the image's luma; alpha is dropped).
/// `what` names its use in the error for an empty mask (`mask of style 2`).
pub fn load(path: &Path, pixel_limit: u64, what: &str) -> Result<GrayImage> {
    let grey = DynamicImage::ImageRgb8(load_rgb(path, pixel_limit)?).to_luma8();
    if grey.pixels().all(|p| p.0[0] <= BLACK) {
        return Err(Error::NotAllowed {
            path: path.to_path_buf(),
            reason: format!(
                "the {what} is all black, so it covers nothing (white marks where it acts)"
            ),
        });
    }
    Ok(grey)
}

/// Checks that `mask` (read from `path`) has the shape of a photo of
/// `photo` = (width, height) pixels.
pub fn check_aspect(mask: &GrayImage, path: &Path, photo: (u32, u32)) -> Result<()> {
    let ratio = |(w, h): (u32, u32)| f64::from(w) / f64::from(h);
    let (m, p) = (ratio(mask.dimensions()), ratio(photo));
    if (m / p - 1.0).abs() > ASPECT_TOLERANCE {
        return Err(Error::NotAllowed {
            path: path.to_path_buf(),
            reason: format!(
                "the mask is {}x{} (aspect {m:.2}) but the photo is {}x{} (aspect {p:.2}): make the mask in the photo's shape",
                mask.width(),
                mask.height(),
                photo.0,
                photo.1
            ),
        });
    }
    Ok(())
}

/// `mask` resized to `width`×`height` as a `[1, 1, H, W]` tensor in [0, 1].
pub fn to_tensor(mask: &GrayImage, width: u32, height: u32, device: Device) -> Result<Tensor> {
    let m = if mask.dimensions() == (width, height) {
        mask.clone()
    } else {
        // Triangle averages when shrinking: a soft edge stays soft.
        image::imageops::resize(mask, width, height, FilterType::Triangle)
    };
    Ok(Tensor::f_from_slice(m.as_raw())?
        .f_view([1, 1, i64::from(height), i64::from(width)])?
        .f_to_kind(Kind::Float)?
        .f_div_scalar(255.0)?
        .f_to_device(device)?)
}

/// The mask at `path` for a photo of `photo` = (width, height) pixels, at
/// `size` = (width, height): read, checked and resized in one call.
pub fn fitted(
    path: &Path,
    pixel_limit: u64,
    what: &str,
    photo: (u32, u32),
    size: (u32, u32),
    device: Device,
) -> Result<Tensor> {
    let m = load(path, pixel_limit, what)?;
    check_aspect(&m, path, photo)?;
    to_tensor(&m, size.0, size.1, device)
}

/// The masks of a run at the size it works at, on its device.
#[derive(Debug, Default)]
pub struct Masks {
    /// One `[1, 1, H, W]` mask per style, in the order of the styles (empty:
    /// the styles are blended everywhere).
    pub styles: Vec<Tensor>,
    /// Where the style acts at all; outside it the output is the photo.
    pub content: Option<Tensor>,
}

impl Masks {
    /// The masks at `styles` and `content` for a photo of `photo` =
    /// (width, height) pixels, at `size` = (width, height).
    pub fn load(
        styles: &[PathBuf],
        content: Option<&Path>,
        pixel_limit: u64,
        photo: (u32, u32),
        size: (u32, u32),
        device: Device,
    ) -> Result<Masks> {
        let fit = |p: &Path, what: &str| fitted(p, pixel_limit, what, photo, size, device);
        Ok(Masks {
            styles: styles
                .iter()
                .enumerate()
                .map(|(i, p)| fit(p, &format!("mask of style {}", i + 1)))
                .collect::<Result<_>>()?,
            content: content.map(|p| fit(p, "content mask")).transpose()?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.styles.is_empty() && self.content.is_none()
    }

    /// The masks cut to `h`×`w` at (`y0`, `x0`), for a tile.
    pub fn crop(&self, y0: i64, x0: i64, h: i64, w: i64) -> Result<Masks> {
        let cut = |t: &Tensor| -> Result<Tensor> {
            Ok(t.f_narrow(2, y0, h)?.f_narrow(3, x0, w)?.f_contiguous()?)
        };
        Ok(Masks {
            styles: self.styles.iter().map(cut).collect::<Result<_>>()?,
            content: self.content.as_ref().map(cut).transpose()?,
        })
    }

    /// `image` with `photo` put back outside the content mask.
    pub fn keep_photo(&self, image: &Tensor, photo: &Tensor) -> Result<Tensor> {
        match &self.content {
            Some(m) => keep_photo(image, photo, m),
            None => Ok(image.shallow_clone()),
        }
    }
}

/// `mask·image + (1 − mask)·photo` (`[1, 3, H, W]` images, a `[1, 1, H, W]`
/// mask): the style inside, the photo outside, grey levels in between.
pub fn keep_photo(image: &Tensor, photo: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let m = mask.f_to_device(image.device())?;
    let photo = photo.f_to_device(image.device())?;
    Ok(image
        .f_mul(&m)?
        .f_add(&photo.f_mul(&m.f_neg()?.f_add_scalar(1.0)?)?)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn save(dir: &Path, name: &str, img: &GrayImage) -> std::path::PathBuf {
        let p = dir.join(name);
        img.save(&p).unwrap();
        p
    }

    #[test]
    fn a_mask_is_read_checked_and_resized() {
        let dir = tempfile::tempdir().unwrap();
        let half = GrayImage::from_fn(64, 32, |x, _| image::Luma([if x < 32 { 255 } else { 0 }]));
        let p = save(dir.path(), "half.png", &half);
        let t = fitted(&p, 1 << 20, "mask", (128, 64), (32, 16), Device::Cpu).unwrap();
        assert_eq!(t.size(), vec![1, 1, 16, 32]);
        assert!((t.mean(Kind::Double).double_value(&[]) - 0.5).abs() < 0.02);
        assert_eq!(t.double_value(&[0, 0, 8, 2]), 1.0);
        assert_eq!(t.double_value(&[0, 0, 8, 30]), 0.0);
    }

    #[test]
    fn black_other_shapes_and_non_images_are_one_line_each() {
        let dir = tempfile::tempdir().unwrap();
        let black = save(dir.path(), "black.png", &GrayImage::new(32, 32));
        let e = load(&black, 1 << 20, "mask of style 2")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("black.png") && e.contains("mask of style 2 is all black"),
            "{e}"
        );
        let square = save(
            dir.path(),
            "sq.png",
            &GrayImage::from_pixel(32, 32, image::Luma([255])),
        );
        let m = load(&square, 1 << 20, "mask").unwrap();
        let e = check_aspect(&m, &square, (64, 32)).unwrap_err().to_string();
        assert!(
            e.contains("sq.png") && e.contains("aspect 1.00") && e.contains("aspect 2.00"),
            "{e}"
        );
        check_aspect(&m, &square, (500, 496)).unwrap();
        let text = dir.path().join("notes.png");
        std::fs::write(&text, "not an image").unwrap();
        let e = load(&text, 1 << 20, "mask").unwrap_err().to_string();
        assert!(e.contains("notes.png") && !e.contains('\n'), "{e}");
    }
}
