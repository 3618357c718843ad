//! The one input check: only regular files are opened, and an image file must
//! be complete. Every front end, the watcher and the worker read inputs
//! through here, so a FIFO, a device or a truncated upload gets the same
//! one-line reason everywhere.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use crate::engine::infra::error::{Error, Result};

/// What a path is when it is not a regular file, for the error message.
fn kind_of(ft: std::fs::FileType) -> Option<&'static str> {
    if ft.is_file() {
        None
    } else if ft.is_dir() {
        Some("a directory")
    } else if ft.is_fifo() {
        Some("a FIFO")
    } else if ft.is_char_device() || ft.is_block_device() {
        Some("a device")
    } else if ft.is_socket() {
        Some("a socket")
    } else {
        Some("not a regular file")
    }
}

/// Opens `path` for reading only if it is a regular file (symlinks to one are
/// followed). The open is non-blocking, so a FIFO with no writer cannot hang
/// the caller, and the type is checked on the opened descriptor (no race
/// between the check and the open).
pub fn open_regular(path: &Path) -> Result<File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| open_error(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if let Some(what) = kind_of(meta.file_type()) {
        return Err(Error::NotAFile {
            path: path.to_path_buf(),
            what,
        });
    }
    Ok(file)
}

fn open_error(path: &Path, e: std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(libc::ELOOP) => Error::NotAFile {
            path: path.to_path_buf(),
            what: "a symlink loop",
        },
        Some(libc::ENOENT) => match std::fs::symlink_metadata(path) {
            // The link exists, its target does not.
            Ok(m) if m.file_type().is_symlink() => Error::NotAFile {
                path: path.to_path_buf(),
                what: "a symlink to nothing",
            },
            _ => Error::NotFound(path.to_path_buf()),
        },
        _ => Error::io(path, e),
    }
}

/// Reads a whole regular file (see [`open_regular`]); `max` bounds what is
/// read so a huge file cannot exhaust memory.
pub fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>> {
    let mut f = open_regular(path)?;
    // The descriptor was opened non-blocking; regular files ignore it.
    let mut bytes = Vec::new();
    f.by_ref()
        .take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > max {
        return Err(Error::Decode {
            path: path.to_path_buf(),
            reason: format!("larger than {max} bytes"),
        });
    }
    Ok(bytes)
}

/// `Err(reason)` when `bytes` is a JPEG that stops before its end-of-image
/// marker or a PNG that stops before its IEND chunk; `Ok` for complete files
/// and for every other format. The JPEG decoder accepts a truncated file (it
/// fills the missing rows with grey), so without this a half-uploaded photo
/// would be stylized. Data after the end (motion photos, trailers) is allowed.
pub fn check_complete(bytes: &[u8]) -> Result<(), String> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return check_png(bytes);
    }
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

/// Walks the PNG's chunks (length, type, data, CRC) to its IEND chunk.
fn check_png(bytes: &[u8]) -> Result<(), String> {
    let truncated = || Err("truncated PNG: it ends before its IEND chunk".to_string());
    let mut i = 8usize;
    loop {
        let Some(head) = bytes.get(i..i + 8) else {
            return truncated();
        };
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let end = i.saturating_add(12).saturating_add(len);
        if end > bytes.len() {
            return truncated();
        }
        if &head[4..8] == b"IEND" {
            return Ok(());
        }
        i = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(format: image::ImageFormat) -> Vec<u8> {
        let mut buf = std::io::Cursor::new(Vec::new());
        let img =
            image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
        img.write_to(&mut buf, format).unwrap();
        buf.into_inner()
    }

    #[test]
    fn complete_and_truncated_jpegs_and_pngs() {
        for format in [image::ImageFormat::Jpeg, image::ImageFormat::Png] {
            let full = encoded(format);
            assert!(check_complete(&full).is_ok());
            let mut trailer = full.clone();
            trailer.extend_from_slice(b"appended video data");
            assert!(check_complete(&trailer).is_ok());
            // From past the PNG signature (a shorter file is no known format at all).
            for cut in [9, 20, full.len() / 2, full.len() - 2, full.len() - 1] {
                assert!(
                    check_complete(&full[..cut]).is_err(),
                    "{format:?} cut {cut}"
                );
            }
        }
        assert!(check_complete(b"BM whatever").is_ok());
    }

    #[test]
    fn fifos_devices_loops_and_dangling_links_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("f.png");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let e = open_regular(&fifo).unwrap_err().to_string();
        assert!(e.ends_with("a FIFO, not a file"), "{e}");
        let e = open_regular(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("a device, not a file"), "{e}");
        let a = dir.path().join("a.png");
        let b = dir.path().join("b.png");
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        let e = open_regular(&a).unwrap_err().to_string();
        assert!(e.ends_with("a symlink loop, not a file"), "{e}");
        let d = dir.path().join("dangling.png");
        std::os::unix::fs::symlink(dir.path().join("gone"), &d).unwrap();
        let e = open_regular(&d).unwrap_err().to_string();
        assert!(e.contains("symlink to nothing"), "{e}");
        let e = open_regular(dir.path()).unwrap_err().to_string();
        assert!(e.ends_with("a directory, not a file"), "{e}");
    }
}
