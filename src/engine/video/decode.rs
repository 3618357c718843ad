//! Frames out of a clip, one at a time, at the size the run works at: a
//! video through ffmpeg (raw RGB on a pipe, scaled by ffmpeg), a folder by
//! decoding its images in name order.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Stdio};
use std::thread::JoinHandle;

use image::RgbImage;

use super::clip::Clip;
use super::tools::{command, last_line};
use crate::engine::infra::image_io::load_rgb;
use crate::engine::Error;

/// The frames of a clip in order, each `width`×`height`.
pub struct Frames {
    source: Source,
    path: PathBuf,
    width: u32,
    height: u32,
    expected: u64,
    read: u64,
}

enum Source {
    Pipe {
        child: Child,
        stdout: ChildStdout,
        /// Drained on its own thread so a chatty decoder never blocks.
        stderr: Option<JoinHandle<Vec<u8>>>,
    },
    Files {
        files: std::vec::IntoIter<PathBuf>,
        pixel_limit: u64,
    },
}

impl Frames {
    /// Starts reading `clip` at `width`×`height`.
    pub fn open(clip: &Clip, width: u32, height: u32, pixel_limit: u64) -> Result<Frames, Error> {
        let (source, path) = match clip {
            Clip::Folder { files, .. } => (
                Source::Files {
                    files: files.clone().into_iter(),
                    pixel_limit,
                },
                files.first().cloned().unwrap_or_default(),
            ),
            Clip::Video { path, .. } => (pipe(path, width, height)?, path.clone()),
        };
        Ok(Frames {
            source,
            path,
            width,
            height,
            expected: clip.info().frames,
            read: 0,
        })
    }

    /// The next frame, or `None` after the last; a damaged or truncated
    /// video is an error naming the file.
    pub fn next_frame(&mut self) -> Result<Option<RgbImage>, Error> {
        let (w, h) = (self.width, self.height);
        let frame = match &mut self.source {
            Source::Files { files, pixel_limit } => match files.next() {
                None => None,
                Some(p) => {
                    let img = load_rgb(&p, *pixel_limit)?;
                    Some(if img.dimensions() == (w, h) {
                        img
                    } else {
                        image::imageops::resize(&img, w, h, image::imageops::FilterType::Lanczos3)
                    })
                }
            },
            Source::Pipe { stdout, .. } => {
                let mut buf = vec![0u8; w as usize * h as usize * 3];
                match fill(stdout, &mut buf).map_err(|e| Error::io(&self.path, e))? {
                    0 => None,
                    n if n < buf.len() => return Err(self.damaged(Some("a frame cut short"))),
                    _ => RgbImage::from_raw(w, h, buf),
                }
            }
        };
        match frame {
            Some(f) => {
                self.read += 1;
                Ok(Some(f))
            }
            None => {
                self.end()?;
                Ok(None)
            }
        }
    }

    /// After the last frame: the decoder must have ended well, with frames.
    fn end(&mut self) -> Result<(), Error> {
        if let Source::Pipe { child, stderr, .. } = &mut self.source {
            let status = child.wait().map_err(|e| Error::io("ffmpeg", e))?;
            let err = stderr
                .take()
                .and_then(|t| t.join().ok())
                .unwrap_or_default();
            let short = self.read < self.expected;
            if !status.success() || (short && !err.is_empty()) {
                let why = last_line(&err, "ffmpeg failed");
                return Err(self.damaged(Some(&why)));
            }
        }
        if self.read == 0 {
            return Err(self.damaged(None));
        }
        Ok(())
    }

    fn damaged(&self, why: Option<&str>) -> Error {
        let why = why.map(|w| format!(" ({w})")).unwrap_or_default();
        Error::NotAllowed {
            path: self.path.clone(),
            reason: format!(
                "truncated or damaged video: {} of {} frames could be decoded{why}",
                self.read, self.expected
            ),
        }
    }
}

impl Drop for Frames {
    fn drop(&mut self) {
        // A run stopped early: the decoder must not outlive it.
        if let Source::Pipe { child, .. } = &mut self.source {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads until `buf` is full or the stream ends; the bytes read.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn pipe(path: &Path, width: u32, height: u32) -> Result<Source, Error> {
    let mut child = command("ffmpeg")?
        .arg("-nostdin")
        .arg("-i")
        .arg(path)
        // Every frame once, as stored: no frame dropped or repeated.
        .args(["-map", "0:v:0", "-vsync", "passthrough", "-vf"])
        .arg(format!("scale={width}:{height}:flags=lanczos"))
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io("ffmpeg", e))?;
    let (Some(stdout), Some(mut err)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(Error::Library("ffmpeg: no pipe to read frames from".into()));
    };
    let stderr = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    Ok(Source::Pipe {
        child,
        stdout,
        stderr: Some(stderr),
    })
}
