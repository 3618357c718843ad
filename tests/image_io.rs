//! Image reading and writing: formats, EXIF orientation, limits, bad files,
//! atomic output.

use std::io::Write;

use atelier::engine::infra::image_io::{
    from_tensor, load_rgb, read_png_text, resize_longer_side, save_png, to_tensor, unique_path,
    DEFAULT_PIXEL_LIMIT,
};
use atelier::engine::Error;
use image::{DynamicImage, RgbImage, Rgba, RgbaImage};
use tch::Device;

use crate::util::write_pattern;

#[test]
fn reads_common_formats_and_drops_alpha() {
    let dir = tempfile::tempdir().unwrap();
    let base = RgbImage::from_fn(40, 24, |x, y| image::Rgb([x as u8 * 5, y as u8 * 9, 77]));
    for ext in ["png", "jpg", "bmp", "tiff", "webp"] {
        let p = dir.path().join(format!("a.{ext}"));
        DynamicImage::ImageRgb8(base.clone()).save(&p).unwrap();
        let img = load_rgb(&p, DEFAULT_PIXEL_LIMIT).unwrap_or_else(|e| panic!("{ext}: {e}"));
        assert_eq!(img.dimensions(), (40, 24), "{ext}");
    }
    let p = dir.path().join("alpha.png");
    RgbaImage::from_pixel(20, 20, Rgba([10, 20, 30, 0]))
        .save(&p)
        .unwrap();
    let img = load_rgb(&p, DEFAULT_PIXEL_LIMIT).unwrap();
    assert_eq!(img.get_pixel(3, 3).0, [10, 20, 30]);
}

/// A JPEG with an EXIF APP1 segment whose Orientation tag is `orientation`.
fn jpeg_with_orientation(img: &RgbImage, orientation: u16) -> Vec<u8> {
    let mut jpg = Vec::new();
    DynamicImage::ImageRgb8(img.clone())
        .write_to(
            &mut std::io::Cursor::new(&mut jpg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    // TIFF header (little endian), one IFD entry: tag 0x0112 SHORT count 1.
    let mut tiff = vec![b'I', b'I', 42, 0, 8, 0, 0, 0, 1, 0];
    tiff.extend_from_slice(&0x0112u16.to_le_bytes());
    tiff.extend_from_slice(&3u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpg[2..]);
    out
}

#[test]
fn applies_exif_orientation() {
    let dir = tempfile::tempdir().unwrap();
    // Left half black, right half white, 48x24.
    let img = RgbImage::from_fn(48, 24, |x, _| {
        if x < 24 {
            image::Rgb([0, 0, 0])
        } else {
            image::Rgb([255, 255, 255])
        }
    });
    let p = dir.path().join("rot.jpg");
    std::fs::write(&p, jpeg_with_orientation(&img, 6)).unwrap();
    let out = load_rgb(&p, DEFAULT_PIXEL_LIMIT).unwrap();
    // Orientation 6: rotate 90° clockwise, so 24 wide, 48 high, and the white
    // half (was right) is now at the bottom.
    assert_eq!(out.dimensions(), (24, 48));
    assert!(out.get_pixel(12, 4).0[0] < 60, "top should be dark");
    assert!(out.get_pixel(12, 44).0[0] > 200, "bottom should be light");
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn refuses_decompression_bombs_from_the_header() {
    // A PNG that claims 100000x100000 pixels: only the header exists, so it must
    // be refused before any decoding is attempted.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    // A first IDAT chunk (the decoder reads up to it) and IEND, no real data.
    for chunk in [&b"IDAT"[..], &b"IEND"[..]] {
        png.extend_from_slice(&0u32.to_be_bytes());
        png.extend_from_slice(chunk);
        png.extend_from_slice(&crc32(chunk).to_be_bytes());
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bomb.png");
    std::fs::write(&p, &png).unwrap();
    match load_rgb(&p, DEFAULT_PIXEL_LIMIT) {
        Err(Error::TooManyPixels { width: 100_000, .. }) => {}
        other => panic!(
            "expected TooManyPixels, got {:?}",
            other.map(|i| i.dimensions())
        ),
    }
}

#[test]
fn bad_files_get_specific_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let missing = d.join("missing.png");
    assert!(matches!(
        load_rgb(&missing, DEFAULT_PIXEL_LIMIT),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        load_rgb(d, DEFAULT_PIXEL_LIMIT),
        Err(Error::IsDirectory(_))
    ));
    let empty = d.join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        load_rgb(&empty, DEFAULT_PIXEL_LIMIT),
        Err(Error::EmptyFile(_))
    ));
    let text = d.join("notes.jpg");
    std::fs::write(&text, b"this is not an image\n").unwrap();
    assert!(matches!(
        load_rgb(&text, DEFAULT_PIXEL_LIMIT),
        Err(Error::Decode { .. })
    ));
    let tiny = d.join("tiny.png");
    write_pattern(&tiny, 1, 1);
    assert!(matches!(
        load_rgb(&tiny, DEFAULT_PIXEL_LIMIT),
        Err(Error::TooSmall { .. })
    ));
    let full = d.join("full.png");
    write_pattern(&full, 64, 64);
    let bytes = std::fs::read(&full).unwrap();
    let cut = d.join("cut.png");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(
        load_rgb(&cut, DEFAULT_PIXEL_LIMIT),
        Err(Error::Decode { .. })
    ));
    // A limit below the image's pixel count refuses it.
    assert!(matches!(
        load_rgb(&full, 1000),
        Err(Error::TooManyPixels { .. })
    ));
}

#[test]
fn resize_and_tensor_round_trip() {
    let img = RgbImage::from_fn(90, 60, |x, y| image::Rgb([x as u8, y as u8, 200]));
    let small = resize_longer_side(&img, 45);
    assert_eq!(small.dimensions(), (45, 30));
    let t = to_tensor(&img, Device::Cpu).unwrap();
    assert_eq!(t.size(), vec![1, 3, 60, 90]);
    let back = from_tensor(&t).unwrap();
    assert_eq!(back, img);
}

#[test]
fn png_output_is_atomic_with_text_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("out.png");
    let img = RgbImage::from_pixel(20, 10, image::Rgb([1, 2, 3]));
    save_png(&p, &img, &[("atelier:spec", "{\"steps\":3}".into())], false).unwrap();
    let text = read_png_text(&p).unwrap();
    assert!(text
        .iter()
        .any(|(k, v)| k == "atelier:spec" && v == "{\"steps\":3}"));
    // A second write without overwrite fails and leaves the first file intact.
    let other = RgbImage::from_pixel(20, 10, image::Rgb([9, 9, 9]));
    assert!(matches!(
        save_png(&p, &other, &[], false),
        Err(Error::OutputExists(_))
    ));
    assert_eq!(image::open(&p).unwrap().to_rgb8(), img);
    save_png(&p, &other, &[], true).unwrap();
    assert_eq!(image::open(&p).unwrap().to_rgb8(), other);
    // No temporary files left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    // A missing folder is an error, not a panic.
    assert!(save_png(&dir.path().join("no/such/dir.png"), &img, &[], false).is_err());
    // unique_path never returns an existing file.
    let u = unique_path(&p);
    assert_ne!(u, p);
    assert!(!u.exists());
    std::fs::File::create(&u).unwrap().write_all(b"x").unwrap();
    assert_ne!(unique_path(&p), u);
}
