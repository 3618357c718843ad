//! The one builder of a video job: a clip and a method (Gatys with its run
//! spec, or a model with its styles, checked by the apply builder) turned
//! into a checked [`Spec`] and its inputs. The CLI, `queue add video` and
//! drop folders build through here.

use std::path::Path;

use super::{Method, Spec, GATYS_TEMPORAL_WEIGHT, MODEL_TEMPORAL_WEIGHT};
use crate::engine::gatys::pyramid::Scales;
use crate::engine::gatys::spec::RunSpec;
use crate::engine::video::{Clip, Encoding};
use crate::engine::Error;
use crate::jobs::apply::{styling, Libraries, ModelStyles, Request, StyleChoice};
use crate::jobs::{Input, Job, Limits, Role};

/// How the frames are to be stylized, as the user chose.
pub enum Choice<'a> {
    /// Gatys with this spec (its content is replaced by the clip).
    Gatys(Box<RunSpec>),
    /// A model by name or file, with its styles and a size.
    Model {
        model: &'a str,
        size: Option<u32>,
        styles: &'a StyleChoice,
        libs: Libraries<'a>,
    },
}

/// A checked video job and its inputs (the clip, then the method's files).
pub type Built = crate::jobs::Built<Spec>;

impl Built {
    pub fn job(self) -> (crate::jobs::Job, Vec<Input>) {
        (crate::jobs::Job::Video(self.spec), self.inputs)
    }
}

/// What a video of `input` by `choice` is; `temporal_weight` `None`: the
/// method's default. The clip is probed (ffprobe for a video) and every
/// other input read, so a request that cannot run is refused here.
pub fn build(
    input: &Path,
    choice: Choice<'_>,
    temporal_weight: Option<f64>,
    encoding: Encoding,
    container: Option<String>,
    limits: &Limits,
) -> Result<(Built, Clip), Error> {
    let clip = Clip::open(input, limits.pixel_limit)?;
    let abs = std::fs::canonicalize(input).map_err(|e| Error::io(input, e))?;
    let mut inputs = vec![clip_input(&abs, &clip)?];
    let (method, default_weight) = match choice {
        Choice::Gatys(g) => {
            let mut g = *g;
            g.content = abs.clone();
            for s in g.styles.iter_mut() {
                let i = Input::checked(Role::Style, None, &s.path, g.pixel_limit)?;
                s.path = i.path.clone();
                inputs.push(i);
            }
            (Method::Gatys(g), GATYS_TEMPORAL_WEIGHT)
        }
        Choice::Model {
            model,
            size,
            styles,
            libs,
        } => {
            let entry = libs.models.find(model)?;
            let kind = ModelStyles::of(&entry)?;
            let styling = styling(&entry.name, &kind, styles, libs.paintings)?;
            // The apply builder's checks with the clip as its one content;
            // the frames are given to the model as they are decoded.
            let req = Request {
                model_name: entry.name,
                model: entry.path,
                contents: vec![abs.clone()],
                size,
                styling,
            };
            let mut spec = req.spec(limits)?;
            spec.contents.clear();
            inputs.extend(spec.inputs()?);
            (Method::Model(spec), MODEL_TEMPORAL_WEIGHT)
        }
    };
    let spec = Spec {
        input: abs,
        method,
        temporal_weight: temporal_weight.unwrap_or(default_weight),
        encoding,
        container,
        frames: clip.info().frames,
    };
    spec.validate()?;
    Ok((Built { spec, inputs }, clip))
}

/// A still image's job (a drop folder's stylize or apply) made the video job
/// of the same settings for the clip it names as its content, encoded as
/// mp4 ([`QUEUED_VIDEO`]); `frames` as probed. Other kinds stay as they are.
pub fn as_video(job: Job, frames: u64) -> Job {
    let (input, method, weight) = match job {
        Job::Stylize(g) => {
            let g = RunSpec {
                scales: Scales::Count(1),
                tile: None,
                ..g
            };
            (g.content.clone(), Method::Gatys(g), GATYS_TEMPORAL_WEIGHT)
        }
        Job::Apply(mut a) if !a.contents.is_empty() => {
            let input = a.contents.remove(0);
            a.contents.clear();
            (input, Method::Model(a), MODEL_TEMPORAL_WEIGHT)
        }
        other => return other,
    };
    Job::Video(Spec {
        input,
        method,
        temporal_weight: weight,
        encoding: Encoding::default(),
        container: Some(QUEUED_CONTAINER.into()),
        frames,
    })
}

/// The container of a queued video (`queue add video`, drop folders).
pub const QUEUED_CONTAINER: &str = "mp4";
/// Its file in the run folder.
pub const QUEUED_VIDEO: &str = "video.mp4";

/// The inputs of `spec` checked again (a re-run): the clip probed and
/// hashed, the paintings and the model read.
pub fn inputs(spec: &mut Spec) -> Result<Vec<Input>, Error> {
    let limit = spec.pixel_limit();
    let clip = Clip::open(&spec.input, limit)?;
    let mut inputs = vec![clip_input(&spec.input, &clip)?];
    match &mut spec.method {
        Method::Gatys(g) => {
            for s in &g.styles {
                inputs.push(Input::checked(Role::Style, None, &s.path, limit)?);
            }
        }
        Method::Model(m) => inputs.extend(m.inputs()?),
    }
    spec.frames = clip.info().frames;
    Ok(inputs)
}

/// The clip as a run input: a video file hashed; a folder by its path.
fn clip_input(abs: &Path, clip: &Clip) -> Result<Input, Error> {
    let sha = match clip {
        Clip::Video { .. } => crate::engine::nets::weights::sha256_file(abs)?,
        Clip::Folder { .. } => String::new(),
    };
    Ok(Input::hashed(Role::Content, None, abs.to_path_buf(), sha))
}
