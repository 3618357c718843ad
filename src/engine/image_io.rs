//! Reading and writing images: decoding with EXIF orientation and a pixel limit
//! checked before decoding, resizing, conversion to and from tensors, and atomic
//! PNG output with the run parameters in a text chunk.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use image::{imageops::FilterType, DynamicImage, ImageDecoder, ImageReader, RgbImage};
use tch::{Device, Kind, Tensor};

use super::error::{Error, Result};

/// Images above this many pixels are refused before decoding (decompression bombs).
pub const DEFAULT_PIXEL_LIMIT: u64 = 64 * 1024 * 1024;
/// Smallest side accepted for a source image.
pub const MIN_SIDE: u32 = 16;

/// Reads an image file: checks it exists, is a non-empty file and within the pixel
/// limit (from the header, before decoding), decodes it, applies its EXIF
/// orientation and drops any alpha channel.
pub fn load_rgb(path: &Path, pixel_limit: u64) -> Result<RgbImage> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound(path.to_path_buf()),
        _ => Error::io(path, e),
    })?;
    if meta.is_dir() {
        return Err(Error::IsDirectory(path.to_path_buf()));
    }
    if meta.len() == 0 {
        return Err(Error::EmptyFile(path.to_path_buf()));
    }
    let decode_err = |e: image::ImageError| Error::Decode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let open = || -> Result<ImageReader<BufReader<File>>> {
        ImageReader::open(path)
            .map_err(|e| Error::io(path, e))?
            .with_guessed_format()
            .map_err(|e| Error::io(path, e))
    };
    let reader = open()?;
    if reader.format().is_none() {
        return Err(Error::Decode {
            path: path.to_path_buf(),
            reason: "unknown format (expected PNG, JPEG, WebP, TIFF or BMP)".into(),
        });
    }
    let (width, height) = reader.into_dimensions().map_err(decode_err)?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > pixel_limit {
        return Err(Error::TooManyPixels {
            path: path.to_path_buf(),
            width,
            height,
            pixels,
            limit: pixel_limit,
        });
    }
    if width < MIN_SIDE || height < MIN_SIDE {
        return Err(Error::TooSmall {
            path: path.to_path_buf(),
            width,
            height,
            min: MIN_SIDE,
        });
    }
    let mut decoder = open()?.into_decoder().map_err(decode_err)?;
    let orientation = decoder.orientation().map_err(decode_err)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(decode_err)?;
    img.apply_orientation(orientation);
    Ok(img.to_rgb8())
}

/// Size with the longer side equal to `longer`, aspect ratio kept.
pub fn fit_longer_side(width: u32, height: u32, longer: u32) -> (u32, u32) {
    let scale = f64::from(longer) / f64::from(width.max(height));
    let w = (f64::from(width) * scale).round().max(1.0) as u32;
    let h = (f64::from(height) * scale).round().max(1.0) as u32;
    (w, h)
}

/// Resizes so the longer side is `longer` px (no-op when it already is).
pub fn resize_longer_side(img: &RgbImage, longer: u32) -> RgbImage {
    let (w, h) = fit_longer_side(img.width(), img.height(), longer);
    if (w, h) == img.dimensions() {
        return img.clone();
    }
    image::imageops::resize(img, w, h, FilterType::Lanczos3)
}

/// RGB image -> `[1, 3, H, W]` float tensor in [0, 1] on `device`.
pub fn to_tensor(img: &RgbImage, device: Device) -> Result<Tensor> {
    let (w, h) = img.dimensions();
    Ok(Tensor::f_from_slice(img.as_raw())?
        .f_view([i64::from(h), i64::from(w), 3])?
        .f_permute([2, 0, 1])?
        .f_unsqueeze(0)?
        .f_to_kind(Kind::Float)?
        .f_div_scalar(255.0)?
        .f_to_device(device)?)
}

/// `[1, 3, H, W]` (or `[3, H, W]`) tensor in [0, 1] -> RGB image, clamped and rounded.
pub fn from_tensor(t: &Tensor) -> Result<RgbImage> {
    let t = if t.dim() == 4 {
        t.f_squeeze_dim(0)?
    } else {
        t.shallow_clone()
    };
    let (c, h, w) = t
        .size3()
        .map_err(|_| Error::invalid("image tensor", format!("shape {:?}", t.size())))?;
    if c != 3 {
        return Err(Error::invalid(
            "image tensor",
            format!("{c} channels, expected 3"),
        ));
    }
    let bytes = t
        .f_to_device(Device::Cpu)?
        .f_clamp(0.0, 1.0)?
        .f_mul_scalar(255.0)?
        .f_round()?
        .f_to_kind(Kind::Uint8)?
        .f_permute([1, 2, 0])?
        .f_contiguous()?;
    let n = (c * h * w) as usize;
    let mut buf = vec![0u8; n];
    bytes.f_copy_data_u8(&mut buf, n)?;
    RgbImage::from_raw(w as u32, h as u32, buf)
        .ok_or_else(|| Error::invalid("image tensor", "buffer size mismatch"))
}

/// Writes `img` as PNG with `text` as tEXt/iTXt chunks, atomically: to a temporary
/// file in the same folder, synced, then renamed into place. Without `overwrite`
/// an existing file is never replaced (checked at the rename, not before).
pub fn save_png(
    path: &Path,
    img: &RgbImage,
    text: &[(&str, String)],
    overwrite: bool,
) -> Result<()> {
    let write_err = |reason: String| Error::Write {
        path: path.to_path_buf(),
        reason,
    };
    if !overwrite && path.exists() {
        return Err(Error::OutputExists(path.to_path_buf()));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        return Err(write_err(format!(
            "folder {} does not exist",
            dir.display()
        )));
    }
    let tmp = tempfile::Builder::new()
        .prefix(".atelier-")
        .suffix(".png.part")
        .tempfile_in(&dir)
        .map_err(|e| write_err(e.to_string()))?;
    {
        let mut w = BufWriter::new(tmp.as_file());
        let mut enc = png::Encoder::new(&mut w, img.width(), img.height());
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        for (k, v) in text {
            enc.add_itxt_chunk((*k).to_string(), v.clone())
                .map_err(|e| write_err(e.to_string()))?;
        }
        let mut writer = enc.write_header().map_err(|e| write_err(e.to_string()))?;
        writer
            .write_image_data(img.as_raw())
            .map_err(|e| write_err(e.to_string()))?;
        writer.finish().map_err(|e| write_err(e.to_string()))?;
        w.flush().map_err(|e| write_err(e.to_string()))?;
    }
    // tempfile creates 0600; an output is an ordinary file for the user.
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| write_err(e.to_string()))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| write_err(e.to_string()))?;
    if overwrite {
        tmp.persist(path)
            .map_err(|e| write_err(e.error.to_string()))?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                Error::OutputExists(path.to_path_buf())
            } else {
                write_err(e.error.to_string())
            }
        })?;
    }
    Ok(())
}

/// Reads the text chunks of a PNG (e.g. the run parameters atelier stores).
pub fn read_png_text(path: &Path) -> Result<Vec<(String, String)>> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    let dec = png::Decoder::new(BufReader::new(f));
    let reader = dec.read_info().map_err(|e| Error::Decode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let info = reader.info();
    let mut out: Vec<(String, String)> = info
        .uncompressed_latin1_text
        .iter()
        .map(|c| (c.keyword.clone(), c.text.clone()))
        .collect();
    for c in &info.utf8_text {
        if let Ok(t) = c.get_text() {
            out.push((c.keyword.clone(), t));
        }
    }
    Ok(out)
}

/// A path that does not exist yet: `path` itself, or `stem-2.ext`, `stem-3.ext`, …
pub fn unique_path(path: &Path) -> PathBuf {
    if !path.exists() {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path.extension().map(|s| s.to_string_lossy().into_owned());
    (2..)
        .map(|i| {
            let name = match &ext {
                Some(e) => format!("{stem}-{i}.{e}"),
                None => format!("{stem}-{i}"),
            };
            path.with_file_name(name)
        })
        .find(|p| !p.exists())
        .unwrap_or_else(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_aspect() {
        assert_eq!(fit_longer_side(400, 200, 100), (100, 50));
        assert_eq!(fit_longer_side(200, 400, 100), (50, 100));
        assert_eq!(fit_longer_side(300, 300, 64), (64, 64));
    }
}
