//! What a kind shows of one of its runs on the screens that show a single
//! run (Live, History's panel): the lines under the generic header, the
//! chart's axis, and its images. Each kind writes its own in its folder;
//! [`super::Job::view`] reaches it, so a front end names no kind.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// A kind's view of one run. Paths are relative to the run's folder.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct View {
    /// How far it is and its figures, one line each.
    pub lines: Vec<String>,
    /// The chart's x axis (`None`: steps).
    pub x_title: Option<&'static str>,
    /// Recorded series the header shows but the chart leaves out (a rate
    /// has no place on a loss chart).
    pub unplotted: &'static [&'static str],
    /// The run's image when it is not the generic one (its output, else its
    /// latest iterate): a video's current or middle frame.
    pub image: Option<PathBuf>,
    /// Its title when it is one (`current frame`).
    pub image_title: Option<&'static str>,
    /// One line on what a finished run made, for a list's side panel
    /// (`frames 48 · 24 fps · 2.0 s`).
    pub brief: Option<String>,
    /// Images shown below it, titled (an analogy's B, a video's first and
    /// last frames).
    pub extra_images: Vec<(&'static str, PathBuf)>,
}

/// What the store recorded of a run's series, for a kind's view when no
/// progress of it is live (a stopped run, a run another process runs).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recorded {
    /// The last step any series was recorded at.
    pub last_step: Option<u64>,
    /// Steps per second over the last steps recorded.
    pub step_rate: Option<f64>,
    /// The last value of each series.
    pub latest: BTreeMap<String, f64>,
}

/// What a view reads besides the spec: the run's live progress, its outcome
/// once finished, what was recorded, and whether it runs now (an ETA is
/// only shown then).
#[derive(Clone, Copy, Debug)]
pub struct Seen<'a> {
    pub live: Option<&'a super::Progress>,
    pub outcome: Option<&'a super::Outcome>,
    pub recorded: &'a Recorded,
    pub running: bool,
}

/// `12 s`, or `-` when unknown.
pub fn seconds(s: Option<f64>) -> String {
    s.filter(|s| s.is_finite())
        .map_or("-".into(), |s| format!("{s:.0} s"))
}
