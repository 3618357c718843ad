//! The parameter table of a video: the clip (a video file or a folder of
//! frames, typed as a path), how its frames are stylized (Gatys with the
//! marked paintings, or the model chosen in the Library), the size, the
//! Gatys steps and the steadiness weight. The runs are the stylize or apply
//! runs of the form with the clip as their content, made video jobs by the
//! video kind's builder ([`crate::jobs::video::build::as_video`]); the clip
//! is probed and hashed when the run is queued, as by `queue add video`.

use std::path::{Path, PathBuf};

use super::form::ComposeState;
use super::kind::Queues;
use super::params::{number, scale, Param};
use crate::jobs::video::{self, Method};
use crate::jobs::Job;
use crate::queue::Run;
use crate::tui::data::NewRun;
use crate::tui::lib_item::{LibItem, ModelItem};

/// The video part of the form.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VideoForm {
    /// The clip: a video file or a folder of frames.
    pub clip: Option<PathBuf>,
    /// Stylize with the Library's chosen model rather than Gatys.
    pub with_model: bool,
    /// The steadiness weight; `None`: the method's default.
    pub temporal_weight: Option<f64>,
}

/// The clip row without a clip.
const NO_CLIP: &str = "none: Enter, then its path";

/// The rows of the form, in order.
pub fn params() -> Vec<Param<ComposeState>> {
    vec![
        Param {
            name: "clip",
            show: |s| {
                s.forms
                    .video
                    .clip
                    .as_ref()
                    .map_or_else(|| NO_CLIP.into(), |p| p.display().to_string())
            },
            nudge: |_, _| {},
            parse: |s, t| {
                let t = t.trim();
                if t.is_empty() || t == NO_CLIP {
                    s.forms.video.clip = None;
                    return Ok(());
                }
                let p = crate::config::resolve(Path::new(t));
                if !p.exists() {
                    return Err(format!(
                        "{}: no such video file or folder of frames",
                        p.display()
                    ));
                }
                s.forms.video.clip = Some(p);
                Ok(())
            },
        },
        Param {
            name: "method",
            show: |s| match (&s.model, s.forms.video.with_model) {
                (Some(m), true) => format!("model {}", m.name),
                (None, true) => "model (none: in Library, Enter on a model)".into(),
                (_, false) => "gatys (the marked paintings)".into(),
            },
            nudge: |s, _| s.forms.video.with_model = !s.forms.video.with_model,
            parse: |s, t| {
                s.forms.video.with_model = match t.split_whitespace().next().unwrap_or("") {
                    "gatys" => false,
                    "model" => true,
                    _ => return Err(format!("'{t}' (use gatys or model)")),
                };
                Ok(())
            },
        },
        Param {
            name: "size",
            show: |s| method_row(s, "size").map_or_else(String::new, |p| (p.show)(s)),
            nudge: |s, up| {
                if let Some(p) = method_row(s, "size") {
                    (p.nudge)(s, up);
                }
            },
            parse: |s, t| method_row(s, "size").map_or(Ok(()), |p| (p.parse)(s, t)),
        },
        Param {
            name: "steps per frame",
            show: |s| match method_row(s, "steps") {
                Some(p) => format!("{} (later frames half)", (p.show)(s)),
                None => "-".into(),
            },
            nudge: |s, up| {
                if let Some(p) = method_row(s, "steps") {
                    (p.nudge)(s, up);
                }
            },
            parse: |s, t| {
                let n = t.split_whitespace().next().unwrap_or("");
                method_row(s, "steps").map_or(Ok(()), |p| (p.parse)(s, n))
            },
        },
        Param {
            name: "temporal weight",
            show: |s| match s.forms.video.temporal_weight {
                Some(w) => w.to_string(),
                None => format!("default ({})", default_weight(s)),
            },
            nudge: |s, up| {
                let w = s.forms.video.temporal_weight.unwrap_or(default_weight(s));
                s.forms.video.temporal_weight = Some(if w == 0.0 && up {
                    default_weight(s)
                } else {
                    scale(w, up)
                });
            },
            parse: |s, t| {
                s.forms.video.temporal_weight = match t.split_whitespace().next().unwrap_or("") {
                    "default" => None,
                    n => Some(number(n)?),
                };
                Ok(())
            },
        },
    ]
}

/// Row `name` of the table of the method the frames are stylized with
/// (stylize's or apply's); `None` when that method has no such row.
fn method_row(s: &ComposeState, name: &str) -> Option<Param<ComposeState>> {
    let rows = if s.forms.video.with_model {
        super::apply::params()
    } else {
        super::stylize::params()
    };
    rows.into_iter().find(|p| p.name == name)
}

fn default_weight(s: &ComposeState) -> f64 {
    if s.forms.video.with_model {
        video::MODEL_TEMPORAL_WEIGHT
    } else {
        video::GATYS_TEMPORAL_WEIGHT
    }
}

/// The video runs of the form: the stylize runs (Gatys) or apply runs (a
/// model) of the clip, each made the video job of the same settings.
pub fn runs(c: &ComposeState) -> Result<Vec<NewRun>, String> {
    let Some(clip) = &c.forms.video.clip else {
        return Err(
            "type the clip's path in the clip row (a video file or a folder of frames)".into(),
        );
    };
    let content = LibItem::from_path(clip);
    let stills = if c.forms.video.with_model {
        c.apply_runs_of(&content)?
    } else {
        c.stylize_runs_of(&content)?
    };
    stills
        .into_iter()
        .map(|r| {
            // The clip's frames are counted when it is queued (probed then).
            let mut job = video::build::as_video(r.job, 0);
            if let (Job::Video(v), Some(w)) = (&mut job, c.forms.video.temporal_weight) {
                v.temporal_weight = w;
            }
            job.validate().map_err(|e| e.to_string())?;
            Ok(NewRun { job, ..r })
        })
        .collect()
}

/// What `r` queues.
pub fn queues(c: &ComposeState) -> Queues {
    let n = c.styles.len();
    match (&c.forms.video.clip, c.forms.video.with_model, &c.model) {
        (None, _, _) => {
            Queues::Waiting("r queues a video once its clip is typed in the clip row".into())
        }
        (Some(_), true, None) => {
            Queues::Waiting("r queues the video once a model is chosen".into())
        }
        (Some(p), true, Some(m)) => Queues::Ready(format!(
            "r queues a video of {} through {}",
            LibItem::from_path(p).name,
            m.name
        )),
        (Some(_), false, _) if n == 0 => {
            Queues::Waiting("r queues a video per marked painting (Space on paintings)".into())
        }
        (Some(p), false, _) => Queues::Ready(format!(
            "r queues {n} video{} of {} (one per painting)",
            if n == 1 { "" } else { "s" },
            LibItem::from_path(p).name
        )),
    }
}

/// A video run into the form: its clip, its method's paintings or model
/// and settings, and its steadiness weight; `Err` says why it cannot be.
pub fn load(
    c: &mut ComposeState,
    r: &Run,
    spec: &video::Spec,
    models: &[ModelItem],
) -> Result<Option<LibItem>, String> {
    match &spec.method {
        Method::Gatys(g) => {
            c.styles = super::form::marked_styles(r, &g.styles);
            c.spec = g.clone();
            c.forms.video.with_model = false;
        }
        Method::Model(a) => {
            super::apply::load_model(c, r, a, models)?;
            c.forms.video.with_model = true;
        }
    }
    c.forms.video.clip = Some(spec.input.clone());
    c.forms.video.temporal_weight = Some(spec.temporal_weight);
    c.blend = c.styles.len() > 1;
    // The clip is the video's content; the photo chosen stays.
    Ok(None)
}
