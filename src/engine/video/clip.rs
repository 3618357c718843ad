//! What a clip is before any frame is decoded: a video file (size, frame
//! rate, frame count, duration and audio from `ffprobe -print_format json`)
//! or a folder of numbered images.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::tools::{command, last_line};
use crate::engine::infra::image_io::{load_rgb, MIN_SIDE};
use crate::engine::Error;

/// A frame rate as ffmpeg writes it, `num/den` frames per second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rate {
    pub num: u32,
    pub den: u32,
}

impl Rate {
    /// The rate of a folder of frames made into a video.
    pub const FOLDER: Rate = Rate { num: 25, den: 1 };

    pub fn fps(self) -> f64 {
        f64::from(self.num) / f64::from(self.den.max(1))
    }

    /// `30000/1001`; `None` for ffprobe's `0/0` (no rate).
    fn parse(s: &str) -> Option<Rate> {
        let (n, d) = s.split_once('/')?;
        let rate = Rate {
            num: n.trim().parse().ok()?,
            den: d.trim().parse().ok()?,
        };
        (rate.num > 0 && rate.den > 0).then_some(rate)
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

/// The facts of a clip that the run needs before decoding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClipInfo {
    pub width: u32,
    pub height: u32,
    pub rate: Rate,
    /// Frames, as the container says (or duration × rate when it does not).
    pub frames: u64,
    pub seconds: f64,
    pub audio: bool,
}

/// A clip: a video file or a folder of frames (sorted by name).
#[derive(Clone, Debug)]
pub enum Clip {
    Video { path: PathBuf, info: ClipInfo },
    Folder { files: Vec<PathBuf>, info: ClipInfo },
}

/// Files taken as videos where a file may be an image or a video (a drop
/// folder): by extension.
pub const VIDEO_FILE_EXTENSIONS: [&str; 9] = [
    "mp4", "m4v", "mov", "mkv", "webm", "avi", "gif", "mpg", "mpeg",
];

/// Whether `path` is named as a video file.
pub fn is_video_file(path: &Path) -> bool {
    path.extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .is_some_and(|e| VIDEO_FILE_EXTENSIONS.contains(&e.as_str()))
}

/// The image files a folder of frames is read from.
const FRAME_EXTENSIONS: [&str; 6] = ["png", "jpg", "jpeg", "webp", "bmp", "tif"];

impl Clip {
    /// Reads what `path` is: a folder of frames or a video ffprobe can read
    /// with at least one frame of a usable size (within `pixel_limit`).
    pub fn open(path: &Path, pixel_limit: u64) -> Result<Clip, Error> {
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(path.to_path_buf()),
            _ => Error::io(path, e),
        })?;
        let clip = if meta.is_dir() {
            folder(path, pixel_limit)?
        } else {
            Clip::Video {
                path: path.to_path_buf(),
                info: probe(path)?,
            }
        };
        clip.check(path, pixel_limit)?;
        Ok(clip)
    }

    pub fn info(&self) -> &ClipInfo {
        match self {
            Clip::Video { info, .. } | Clip::Folder { info, .. } => info,
        }
    }

    fn check(&self, path: &Path, pixel_limit: u64) -> Result<(), Error> {
        let i = self.info();
        let pixels = u64::from(i.width) * u64::from(i.height);
        if i.width < MIN_SIDE || i.height < MIN_SIDE {
            return Err(Error::TooSmall {
                path: path.to_path_buf(),
                width: i.width,
                height: i.height,
                min: MIN_SIDE,
            });
        }
        if pixels > pixel_limit {
            return Err(Error::TooManyPixels {
                path: path.to_path_buf(),
                width: i.width,
                height: i.height,
                pixels,
                limit: pixel_limit,
            });
        }
        if i.frames == 0 {
            return Err(bad(path, "has no frames"));
        }
        Ok(())
    }
}

fn bad(path: &Path, reason: impl Into<String>) -> Error {
    Error::NotAllowed {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// A folder's frames: its image files by name; size from the first.
fn folder(dir: &Path, pixel_limit: u64) -> Result<Clip, Error> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let ext = p.extension().map(|e| e.to_string_lossy().to_lowercase());
            p.is_file() && ext.is_some_and(|e| FRAME_EXTENSIONS.contains(&e.as_str()))
        })
        .collect();
    files.sort();
    let first = files
        .first()
        .ok_or_else(|| bad(dir, "a folder with no frames (PNG, JPEG, … images) in it"))?;
    let (width, height) = load_rgb(first, pixel_limit)?.dimensions();
    let frames = files.len() as u64;
    let info = ClipInfo {
        width,
        height,
        rate: Rate::FOLDER,
        frames,
        seconds: frames as f64 / Rate::FOLDER.fps(),
        audio: false,
    };
    Ok(Clip::Folder { files, info })
}

#[derive(Deserialize)]
struct Probe {
    #[serde(default)]
    streams: Vec<Stream>,
    #[serde(default)]
    format: Option<Format>,
}

#[derive(Deserialize)]
struct Stream {
    codec_type: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    r_frame_rate: Option<String>,
    avg_frame_rate: Option<String>,
    nb_frames: Option<String>,
    duration: Option<String>,
    #[serde(default)]
    disposition: Disposition,
}

#[derive(Default, Deserialize)]
struct Disposition {
    #[serde(default)]
    attached_pic: u8,
}

#[derive(Deserialize)]
struct Format {
    duration: Option<String>,
}

/// `ffprobe -print_format json` of a video file.
pub fn probe(path: &Path) -> Result<ClipInfo, Error> {
    let out = command("ffprobe")?
        .args(["-print_format", "json", "-show_streams", "-show_format"])
        .arg(path)
        .output()
        .map_err(|e| Error::io("ffprobe", e))?;
    if !out.status.success() {
        let why = last_line(&out.stderr, "ffprobe failed");
        return Err(bad(path, format!("not a video ffmpeg can read ({why})")));
    }
    let p: Probe = serde_json::from_slice(&out.stdout)
        .map_err(|e| bad(path, format!("ffprobe's report is unreadable ({e})")))?;
    info_of(path, &p)
}

fn info_of(path: &Path, p: &Probe) -> Result<ClipInfo, Error> {
    let video = p
        .streams
        .iter()
        .find(|s| s.codec_type.as_deref() == Some("video") && s.disposition.attached_pic == 0)
        .ok_or_else(|| bad(path, "not a video (it has no video stream)"))?;
    let (Some(width), Some(height)) = (video.width, video.height) else {
        return Err(bad(path, "the video stream has no frame size"));
    };
    let rate = [&video.avg_frame_rate, &video.r_frame_rate]
        .into_iter()
        .flatten()
        .find_map(|r| Rate::parse(r))
        .ok_or_else(|| bad(path, "the video stream has no frame rate"))?;
    let num = |s: &Option<String>| s.as_deref().and_then(|s| s.trim().parse::<f64>().ok());
    let seconds = num(&video.duration)
        .or_else(|| p.format.as_ref().and_then(|f| num(&f.duration)))
        .unwrap_or(0.0);
    let frames = video
        .nb_frames
        .as_deref()
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or_else(|| (seconds * rate.fps()).round() as u64);
    Ok(ClipInfo {
        width,
        height,
        rate,
        frames,
        seconds,
        audio: p
            .streams
            .iter()
            .any(|s| s.codec_type.as_deref() == Some("audio")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_report_gives_size_rate_frames_and_audio() {
        let json = r#"{"streams": [
            {"codec_type": "video", "width": 64, "height": 48, "r_frame_rate": "10/1",
             "avg_frame_rate": "10/1", "nb_frames": "6", "duration": "0.600000"},
            {"codec_type": "audio", "r_frame_rate": "0/0"}],
            "format": {"duration": "0.62"}}"#;
        let p: Probe = serde_json::from_str(json).unwrap();
        let i = info_of(Path::new("c.mp4"), &p).unwrap();
        assert_eq!((i.width, i.height, i.frames), (64, 48, 6));
        assert_eq!(i.rate, Rate { num: 10, den: 1 });
        assert!(i.audio);
        // Without a frame count (webm, mkv): duration × rate.
        let json = r#"{"streams": [{"codec_type": "video", "width": 64, "height": 48,
            "avg_frame_rate": "30000/1001"}], "format": {"duration": "2.002"}}"#;
        let p: Probe = serde_json::from_str(json).unwrap();
        let i = info_of(Path::new("c.webm"), &p).unwrap();
        assert_eq!(i.frames, 60);
        assert!(!i.audio);
        let p: Probe = serde_json::from_str(r#"{"streams": [{"codec_type": "audio"}]}"#).unwrap();
        let e = info_of(Path::new("a.mp3"), &p).unwrap_err().to_string();
        assert!(e.contains("no video stream"), "{e}");
    }
}
