//! The `video` kind: a clip (a video file or a folder of frames) stylized
//! frame by frame, with Gatys or a model, kept steady by the temporal terms
//! of [`crate::engine::video`]. Each finished frame is a PNG in the job's
//! frames folder: the checkpoint a stopped job resumes from.

pub mod build;
pub mod run;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::apply;
use super::summary::{Headline, Summary};
use crate::engine::gatys::pyramid::Scales;
use crate::engine::gatys::spec::RunSpec;
use crate::engine::infra::image_io::fit_longer_side;
use crate::engine::video::estimate::PerFrame;
use crate::engine::video::{ClipInfo, Encoding};
use crate::engine::Error;

pub const KIND: &str = "video";

/// The folder of a job's finished frames in its run folder (its checkpoints).
pub const FRAMES: &str = "frames";

/// Ruder et al.'s temporal weight, with the Gatys weights' units.
pub const GATYS_TEMPORAL_WEIGHT: f64 = 1e3;
/// A model's frame: as much of the previous output as of the network's.
pub const MODEL_TEMPORAL_WEIGHT: f64 = 1.0;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The clip: a video file or a folder of frames (absolute).
    pub input: PathBuf,
    pub method: Method,
    /// Weight of the steadiness terms; 0: every frame on its own.
    pub temporal_weight: f64,
    #[serde(default)]
    pub encoding: Encoding,
    /// The video's extension (`mp4`, …) when frames are encoded, `None`:
    /// frames only.
    #[serde(default)]
    pub container: Option<String>,
    /// Frames in the clip when it was queued (for progress; the clip's own
    /// count is what runs).
    #[serde(default)]
    pub frames: u64,
}

/// How each frame is stylized.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "settings", rename_all = "lowercase")]
pub enum Method {
    /// A Gatys optimisation per frame (single scale, untiled).
    Gatys(RunSpec),
    /// A model applied to each frame (its `contents` are empty).
    Model(apply::Spec),
}

impl Spec {
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.temporal_weight.is_finite() && self.temporal_weight >= 0.0) {
            return Err(Error::invalid(
                "temporal weight",
                format!("{} (use 0 or more)", self.temporal_weight),
            ));
        }
        match &self.method {
            Method::Gatys(g) => {
                g.validate()?;
                if g.tile.is_some() || !matches!(g.scales, Scales::Count(1)) {
                    return Err(Error::invalid(
                        "video",
                        "frames are stylized at one scale, untiled: drop --tile and --scales",
                    ));
                }
                Ok(())
            }
            Method::Model(m) => apply::check_size(m.size, crate::engine::gatys::spec::MAX_SIZE),
        }
    }

    pub fn pixel_limit(&self) -> u64 {
        match &self.method {
            Method::Gatys(g) => g.pixel_limit,
            Method::Model(m) => m.pixel_limit,
        }
    }

    /// The size frames are stylized at: the clip's, its longer side set to
    /// the run's size when it has one.
    pub fn frame_size(&self, clip: &ClipInfo) -> (u32, u32) {
        let size = match &self.method {
            Method::Gatys(g) => Some(g.size),
            Method::Model(m) => m.size,
        };
        match size {
            Some(s) => fit_longer_side(clip.width, clip.height, s),
            None => (clip.width, clip.height),
        }
    }

    /// Optimiser steps of frame `i`: later frames start from the previous
    /// result, so they take half (Ruder et al.: 2000 then 1000).
    pub fn steps_of_frame(&self, i: u64) -> usize {
        match &self.method {
            Method::Gatys(g) if i > 0 && self.temporal_weight > 0.0 => (g.steps / 2).max(1),
            Method::Gatys(g) => g.steps,
            Method::Model(_) => 1,
        }
    }

    /// What a frame costs, for the estimate of a clip of `frames` frames.
    pub fn per_frame(&self, frames: u64) -> PerFrame {
        match &self.method {
            Method::Gatys(_) => {
                let later = self.steps_of_frame(1) as f64 * frames.saturating_sub(1) as f64;
                let evals = (self.steps_of_frame(0) as f64 + later) / frames.max(1) as f64;
                PerFrame::Gatys { evals }
            }
            Method::Model(_) => PerFrame::Model,
        }
    }

    /// `64 px · 48 frames · irises`, for lists.
    pub fn shape(&self) -> String {
        let size = match &self.method {
            Method::Gatys(g) => format!("{} px, {} steps", g.size, g.steps),
            Method::Model(m) => m.size.map_or("as is".into(), |p| format!("{p} px")),
        };
        format!("{size} · {} frames · {}", self.frames, self.label())
    }

    /// The file the job's video is written to in its run folder.
    pub fn video_name(&self) -> Option<String> {
        self.container.as_ref().map(|ext| format!("video.{ext}"))
    }

    /// For output names: the paintings or the model with its styles.
    pub fn label(&self) -> String {
        match &self.method {
            Method::Gatys(g) => g
                .styles
                .iter()
                .map(|s| super::stylize::stem(&s.path))
                .collect::<Vec<_>>()
                .join("+"),
            Method::Model(m) => m.label(),
        }
    }
}

/// After every evaluation of a Gatys frame, and after every frame.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Progress {
    /// Frames finished, and in the clip.
    pub frame: usize,
    pub of: usize,
    /// The current frame's evaluations (Gatys), and its total loss.
    pub eval: usize,
    pub evals: usize,
    pub loss: Option<f64>,
    /// Frames stylized by this attempt (not taken from a checkpoint), and
    /// the time since it started.
    pub fresh: usize,
    pub elapsed: Duration,
}

impl Progress {
    /// Frames per second of this attempt.
    pub fn fps(&self) -> Option<f64> {
        let s = self.elapsed.as_secs_f64();
        (s > 0.0 && self.fresh > 0).then(|| self.fresh as f64 / s)
    }

    /// Time left at this attempt's pace.
    pub fn eta(&self) -> Option<Duration> {
        let fps = self.fps()?;
        Some(Duration::from_secs_f64(
            self.of.saturating_sub(self.frame) as f64 / fps,
        ))
    }
}

/// What a finished video job made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub frames: usize,
    pub width: u32,
    pub height: u32,
    /// Frames taken from a stopped attempt's checkpoints.
    pub resumed: usize,
    pub seconds: f64,
    /// The video encoded from the frames (absent: frames only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<PathBuf>,
    /// The clip's frame rate (absent from runs made before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fps: Option<f64>,
}

pub fn summary(p: &Progress) -> Summary {
    let s = Summary::counted(KIND, p.frame, p.of, p.elapsed.as_secs_f64());
    match p.loss {
        Some(l) => s.with_headline(Headline {
            label: "loss",
            value: l,
        }),
        None => s,
    }
}

/// A video's own settings.
pub fn params(s: &Spec) -> super::params::Params {
    use super::params::num;
    let (size, method) = match &s.method {
        Method::Gatys(g) => (
            format!("{} px", g.size),
            format!("gatys, {} steps", g.steps),
        ),
        Method::Model(m) => (
            m.size.map_or("as is".into(), |p| format!("{p} px")),
            format!("model {}", m.model_display()),
        ),
    };
    super::params::Params {
        size: size.trim_end_matches(" px").to_string(),
        length: s.frames.to_string(),
        pairs: vec![
            ("clip", super::stylize::stem(&s.input)),
            ("method", method),
            ("styles", s.label()),
            ("size", size),
            ("temporal weight", num(s.temporal_weight)),
        ],
    }
}

/// What a video run is, by its inputs' names: `video of pan`.
pub fn title(name: &dyn Fn(super::Role) -> String) -> String {
    format!("{KIND} of {}", name(super::Role::Content))
}

/// `frames 48 · 24 fps · 2.0 s`: the clip a finished run made.
pub fn clip_line(o: &Outcome) -> String {
    match o.fps.filter(|f| *f > 0.0) {
        Some(fps) => format!(
            "frames {} · {} fps · {:.1} s",
            o.frames,
            super::params::num((fps * 100.0).round() / 100.0),
            o.frames as f64 / fps
        ),
        None => format!("frames {}", o.frames),
    }
}

/// `runs show`'s lines of a finished video.
pub fn outcome_lines(o: &Outcome) -> Vec<(&'static str, String)> {
    let mut v = vec![(
        "video",
        format!(
            "{} frames, {}x{}, {} taken from a stopped attempt, {:.1} s",
            o.frames, o.width, o.height, o.resumed, o.seconds
        ),
    )];
    if let Some(p) = &o.video {
        v.push(("output", p.display().to_string()));
    }
    v
}

/// The checkpoint of frame `i` (0-based), relative to the run folder.
pub fn frame_file(i: usize) -> PathBuf {
    PathBuf::from(FRAMES).join(crate::engine::video::encode::frame_name(i as u64))
}

/// Live: frame n of N, the frame's loss, fps and ETA, and the latest frame
/// finished; History: the clip made, its middle frame as the run's image
/// and its first and last frames below.
pub fn view(s: &Spec, seen: super::view::Seen<'_>) -> super::view::View {
    use super::view::{seconds, View};
    let mut v = View {
        x_title: Some("frame"),
        ..View::default()
    };
    if let Some(super::Progress::Video(p)) = seen.live {
        let loss = p.loss.map_or(String::new(), |l| format!(" · loss {l:.4e}"));
        let step = if p.evals > 0 {
            format!(" · step {}/{}", p.eval, p.evals)
        } else {
            String::new()
        };
        v.lines.push(format!(
            "frame {} of {}{step}{loss}",
            (p.frame + 1).min(p.of.max(1)),
            p.of
        ));
        v.lines.push(format!(
            "{} fps · ETA {}",
            p.fps().map_or("-".into(), |f| format!("{f:.2}")),
            seconds(p.eta().map(|d| d.as_secs_f64()))
        ));
        if p.frame > 0 {
            v.image = Some(frame_file(p.frame - 1));
            v.image_title = Some(" current frame ");
        }
    } else if seen.outcome.is_none() {
        let done = seen.recorded.last_step.unwrap_or(0);
        v.lines.push(format!("frame {done} of {}", s.frames));
    }
    if let Some(super::Outcome::Video(o)) = seen.outcome {
        v.lines.push(clip_line(o));
        v.brief = Some(clip_line(o));
        v.lines.push(format!(
            "{}×{} · {} from a stopped attempt · {:.1} s",
            o.width, o.height, o.resumed, o.seconds
        ));
        if let Some(p) = &o.video {
            v.lines.push(format!("  {}", p.display()));
        }
        if o.frames > 0 {
            v.image = Some(frame_file(o.frames / 2));
            v.image_title = Some(" middle frame ");
            v.extra_images = vec![
                (" first frame ", frame_file(0)),
                (" last frame ", frame_file(o.frames - 1)),
            ];
        }
    }
    v
}
