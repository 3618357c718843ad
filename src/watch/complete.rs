//! Whether an image file is complete. The JPEG decoder accepts a truncated
//! file (it fills the missing rows with grey), which for a drop folder would
//! mean stylizing half an upload; PNG and the others already fail on a short
//! file. So JPEGs are walked marker by marker to their end-of-image marker.

/// `Err(reason)` when `bytes` is a JPEG that stops before its end-of-image
/// marker; `Ok` for a complete JPEG and for every other format. Data after the
/// end marker (motion photos, trailers) is allowed.
pub fn check_complete(bytes: &[u8]) -> Result<(), String> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return Ok(());
    }
    let truncated = || Err("truncated JPEG: it ends before its end-of-image marker".to_string());
    let mut i = 2;
    loop {
        // Find the next marker (skipping fill bytes 0xFF).
        while i < bytes.len() && bytes[i] != 0xFF {
            i += 1;
        }
        while i < bytes.len() && bytes[i] == 0xFF {
            i += 1;
        }
        let Some(&m) = bytes.get(i) else {
            return truncated();
        };
        i += 1;
        match m {
            0xD9 => return Ok(()),
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let (Some(&hi), Some(&lo)) = (bytes.get(i), bytes.get(i + 1)) else {
            return truncated();
        };
        let len = usize::from(hi) << 8 | usize::from(lo);
        if len < 2 || i + len > bytes.len() {
            return truncated();
        }
        i += len;
        if m == 0xDA {
            // Entropy-coded data: 0xFF is stuffed as FF 00 and restart markers
            // FF D0..D7 belong to it; any other marker ends it.
            loop {
                let Some(&b) = bytes.get(i) else {
                    return truncated();
                };
                if b == 0xFF {
                    match bytes.get(i + 1) {
                        None => return truncated(),
                        Some(0x00) | Some(0xD0..=0xD7) | Some(0xFF) => i += 1,
                        Some(_) => break,
                    }
                }
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_and_truncated_jpegs() {
        let mut buf = std::io::Cursor::new(Vec::new());
        let img =
            image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
        img.write_to(&mut buf, image::ImageFormat::Jpeg).unwrap();
        let jpeg = buf.into_inner();
        assert!(check_complete(&jpeg).is_ok());
        let mut trailer = jpeg.clone();
        trailer.extend_from_slice(b"appended video data");
        assert!(check_complete(&trailer).is_ok());
        for cut in [3, 20, jpeg.len() / 2, jpeg.len() - 2, jpeg.len() - 1] {
            assert!(check_complete(&jpeg[..cut]).is_err(), "cut at {cut}");
        }
        assert!(check_complete(b"\x89PNG whatever").is_ok());
    }
}
