//! Reading and writing images: decoding with EXIF orientation and a pixel limit
//! checked before decoding, resizing, conversion to and from tensors, and atomic
//! PNG output with the run parameters in a text chunk.

use std::io::{BufReader, Cursor};
use std::path::{Path, PathBuf};

use image::{imageops::FilterType, DynamicImage, ImageDecoder, ImageReader, RgbImage};
use tch::{Device, Kind, Tensor};

use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::input::{check_complete, read_regular};
use crate::engine::infra::output::{image_format, OutputPolicy};

/// Images above this many pixels are refused before decoding (decompression bombs).
pub const DEFAULT_PIXEL_LIMIT: u64 = 64 * 1024 * 1024;
/// Smallest side accepted for a source image.
pub const MIN_SIDE: u32 = 16;

/// Reads an image file: only a regular, non-empty, complete file (see
/// [`crate::engine::infra::input`]) within the pixel limit (from the header, before decoding)
/// is decoded; its EXIF orientation is applied and any alpha channel dropped.
pub fn load_rgb(path: &Path, pixel_limit: u64) -> Result<RgbImage> {
    let bytes = match read_regular(path, max_file_bytes(pixel_limit)) {
        Err(Error::NotAFile {
            what: "a directory",
            ..
        }) => return Err(Error::IsDirectory(path.to_path_buf())),
        r => r?,
    };
    decode_rgb(path, &bytes, pixel_limit)
}

/// The largest file read for an image: uncompressed 16-bit RGBA at the pixel
/// limit, plus room for metadata and trailers.
fn max_file_bytes(pixel_limit: u64) -> u64 {
    pixel_limit.saturating_mul(8).saturating_add(64 << 20)
}

/// Decodes an image file's `bytes` (named `path` in errors) as [`load_rgb`]
/// does; never panics on any input (see the proptest in tests/safety.rs).
pub fn decode_rgb(path: &Path, bytes: &[u8], pixel_limit: u64) -> Result<RgbImage> {
    if bytes.is_empty() {
        return Err(Error::EmptyFile(path.to_path_buf()));
    }
    let decode_err = |e: image::ImageError| Error::Decode {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    check_complete(bytes).map_err(|reason| Error::Decode {
        path: path.to_path_buf(),
        reason,
    })?;
    let open = || -> Result<ImageReader<Cursor<&[u8]>>> {
        ImageReader::new(Cursor::new(bytes))
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
    let mut reader = open()?;
    // The decoders' own allocation limit, as a second guard behind the header check.
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(pixel_limit.saturating_mul(16).saturating_add(64 << 20));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(decode_err)?;
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

/// Writes `img` as PNG with `text` as iTXt chunks, atomically. Without
/// `overwrite` an existing file is never replaced. See [`save_png_with`]
/// for a run's outputs, which must also never replace the run's inputs.
pub fn save_png(
    path: &Path,
    img: &RgbImage,
    text: &[(&str, String)],
    overwrite: bool,
) -> Result<()> {
    save_png_with(path, img, text, &OutputPolicy::new::<&Path>(overwrite, &[]))
}

/// Writes `img` as PNG with `text` as iTXt chunks under `policy` (temporary
/// file, synced, renamed into place; see [`crate::engine::infra::output`]); or, when the
/// path's extension names another format, in that format (which holds no
/// text chunks). An extension atelier cannot write is refused.
pub fn save_png_with(
    path: &Path,
    img: &RgbImage,
    text: &[(&str, String)],
    policy: &OutputPolicy,
) -> Result<()> {
    let format = image_format(path)?;
    if format != image::ImageFormat::Png {
        let bytes = encode(img, format).map_err(|e| Error::Write {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        return policy.write_bytes(path, &bytes);
    }
    policy.write(path, |w| {
        let mut enc = png::Encoder::new(w, img.width(), img.height());
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        for (k, v) in text {
            enc.add_itxt_chunk((*k).to_string(), v.clone())
                .map_err(std::io::Error::other)?;
        }
        let mut writer = enc.write_header().map_err(png_io)?;
        writer.write_image_data(img.as_raw()).map_err(png_io)?;
        writer.finish().map_err(png_io)
    })
}

/// `img` encoded as `format` in memory (TIFF's encoder needs to seek).
fn encode(img: &RgbImage, format: image::ImageFormat) -> image::ImageResult<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    match format {
        image::ImageFormat::Jpeg => img.write_with_encoder(
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY),
        )?,
        f => img.write_to(&mut out, f)?,
    }
    Ok(out.into_inner())
}

/// JPEG outputs: high enough that the style's fine texture survives.
const JPEG_QUALITY: u8 = 92;

/// The png crate wraps I/O errors; unwrap them so "no space left" stays one.
fn png_io(e: png::EncodingError) -> std::io::Error {
    match e {
        png::EncodingError::IoError(e) => e,
        e => std::io::Error::other(e),
    }
}

/// The provenance chunks of every image a run writes: the software, the
/// spec it ran and its result, read back by `atelier runs` and `show`.
pub fn provenance(
    spec: &impl serde::Serialize,
    result: &serde_json::Value,
) -> Result<Vec<(&'static str, String)>> {
    let spec = serde_json::to_string(spec).map_err(|e| Error::invalid("spec", e.to_string()))?;
    Ok(provenance_chunks(spec, result))
}

/// The provenance chunks for a spec already serialised (the worker stores
/// each kind's spec as its own JSON).
pub fn provenance_chunks(spec: String, result: &serde_json::Value) -> Vec<(&'static str, String)> {
    vec![
        ("Software", software()),
        ("atelier:spec", spec),
        ("atelier:result", result.to_string()),
    ]
}

/// The `Software` chunk's value.
pub fn software() -> String {
    format!("atelier {}", env!("CARGO_PKG_VERSION"))
}

/// Reads the text chunks of a PNG (e.g. the run parameters atelier stores).
pub fn read_png_text(path: &Path) -> Result<Vec<(String, String)>> {
    let f = crate::engine::infra::input::open_regular(path)?;
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
