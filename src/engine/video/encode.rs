//! Frames back into a video: a folder of numbered PNGs encoded by ffmpeg
//! (H.264 in yuv420p by default) with the source's audio copied, written to
//! a temporary file beside the output and renamed into place at the end.

use std::path::Path;
use std::process::Stdio;

use serde::{Deserialize, Serialize};

use super::clip::Rate;
use super::tools::{command, last_line};
use crate::engine::infra::output::{os_reason, persist};
use crate::engine::Error;

/// The name of frame `i` (0-based) in a folder of frames: `000001.png`.
pub fn frame_name(i: u64) -> String {
    format!("{:06}.png", i + 1)
}

/// How the video is encoded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Encoding {
    /// An ffmpeg encoder (`libx264`, `libx265`, `libvpx-vp9`, …); `None`:
    /// by the output's extension (H.264, VP9 for .webm, GIF for .gif).
    #[serde(default)]
    pub codec: Option<String>,
    /// Constant rate factor: lower is better and larger (H.264: 0–51).
    pub crf: u32,
}

impl Default for Encoding {
    fn default() -> Self {
        Encoding {
            codec: None,
            crf: DEFAULT_CRF,
        }
    }
}

/// Visually near-lossless for H.264 at small file sizes.
pub const DEFAULT_CRF: u32 = 18;

/// The video extensions atelier writes.
pub const VIDEO_EXTENSIONS: [&str; 5] = ["mp4", "mkv", "mov", "webm", "gif"];

/// Whether `path` names a video to write (by its extension).
pub fn is_video_name(path: &Path) -> bool {
    ext(path).is_some_and(|e| VIDEO_EXTENSIONS.contains(&e.as_str()))
}

fn ext(path: &Path) -> Option<String> {
    path.extension().map(|e| e.to_string_lossy().to_lowercase())
}

/// Encodes the `frames` PNGs of `dir` ([`frame_name`]) at `rate` into
/// `out`, with the audio of `audio` when given; `out` appears complete or
/// not at all (an existing one is replaced only with `overwrite`).
pub fn encode(
    dir: &Path,
    rate: Rate,
    audio: Option<&Path>,
    out: &Path,
    enc: &Encoding,
    overwrite: bool,
) -> Result<(), Error> {
    let ext = ext(out).unwrap_or_default();
    if !VIDEO_EXTENSIONS.contains(&ext.as_str()) {
        return Err(Error::invalid(
            "output",
            format!(
                "{}: a video must end in .{}",
                out.display(),
                VIDEO_EXTENSIONS.join(", .")
            ),
        ));
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let write_err = |e: std::io::Error| Error::Write {
        path: out.to_path_buf(),
        reason: os_reason(&e),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".atelier-")
        .suffix(&format!(".part.{ext}"))
        .tempfile_in(parent)
        .map_err(write_err)?;
    let mut cmd = command("ffmpeg")?;
    cmd.args(["-nostdin", "-y", "-framerate"])
        .arg(rate.to_string())
        .arg("-i")
        .arg(dir.join("%06d.png"));
    let gif = ext == "gif";
    if let Some(a) = audio.filter(|_| !gif) {
        cmd.arg("-i").arg(a).args(["-map", "0:v:0", "-map", "1:a?"]);
        // WebM holds only Vorbis or Opus: the audio is encoded there.
        let audio_codec = if ext == "webm" { "libopus" } else { "copy" };
        cmd.args(["-c:a", audio_codec]);
    }
    let codec = enc.codec.clone().or_else(|| match ext.as_str() {
        "gif" => None,
        "webm" => Some("libvpx-vp9".into()),
        _ => Some("libx264".into()),
    });
    if let Some(c) = codec {
        // yuv420p (what players expect) needs even sides: drop an odd last
        // row or column rather than scale.
        cmd.args(["-c:v", &c, "-pix_fmt", "yuv420p", "-crf"])
            .arg(enc.crf.to_string())
            .args(["-vf", "crop=trunc(iw/2)*2:trunc(ih/2)*2"]);
        if c == "libvpx-vp9" {
            cmd.args(["-b:v", "0"]);
        }
    }
    let result = cmd
        .arg(tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::io("ffmpeg", e))?;
    if !result.status.success() {
        return Err(Error::Write {
            path: out.to_path_buf(),
            reason: format!(
                "ffmpeg could not encode it ({})",
                last_line(&result.stderr, "no reason given")
            ),
        });
    }
    persist(tmp, out, overwrite)
}
