//! One small view per job kind, shared by Live and History: the kind's
//! header lines and the series its chart draws. A new kind adds an arm to
//! [`view`] and, if it needs one, a function here.

use std::collections::BTreeMap;

use ratatui::style::{Color, Stylize};
use ratatui::text::Line;

use crate::jobs::{self, Job, Outcome, Progress};
use crate::queue::{Point, Run, Status};
use crate::tui::app::App;
use crate::tui::chart;
use crate::tui::theme::Theme;

/// What Live and History show of a run besides its image.
pub struct KindView {
    /// Header lines: what the run is, how far it is, its figures.
    pub lines: Vec<Line<'static>>,
    pub series: Vec<chart::Series>,
    pub marks: chart::Marks,
    /// The chart's x axis.
    pub x_title: &'static str,
    /// Images a kind shows beside its output, titled (an analogy's B and
    /// its field picture).
    pub extra_images: Vec<(&'static str, std::path::PathBuf)>,
}

/// The view of run `r` for its kind.
pub fn view(app: &App, r: &Run) -> KindView {
    match r.job() {
        Some(Job::Stylize(_) | Job::Texture(_)) => gatys(app, r),
        Some(Job::Train(s)) => train(app, r, s),
        Some(Job::Apply(_)) => apply(app, r),
        Some(Job::Analogy(_)) => analogy(app, r),
        Some(Job::Video(_)) | None => other(app, r, vec![]),
    }
}

/// Stylize and texture: evaluations, rate, ETA, best total, rollbacks.
fn gatys(app: &App, r: &Run) -> KindView {
    let (samples, rollbacks) = app.focus_of(r.id);
    let last = samples.last();
    let eval = app
        .progress
        .get(&r.id)
        .and_then(Progress::gatys)
        .map(|p| p.eval as i64)
        .or(last.map(|s| s.eval))
        .unwrap_or(0);
    let budget = r.params().eval_budget() as i64;
    let rate = super::live::rate(samples);
    let eta = match (rate, r.status) {
        (Some(v), Status::Running) if v > 0.0 => {
            format!("{:.0} s", (budget - eval).max(0) as f64 / v)
        }
        _ => "-".into(),
    };
    let best = samples.iter().min_by(|a, b| a.total.total_cmp(&b.total));
    let lines = vec![
        Line::from(format!(
            "run {} · {} · {} × {}",
            r.id,
            r.status,
            r.input_name(crate::jobs::Role::Content),
            super::style_names(r)
        ))
        .bold(),
        Line::from(format!(
            "step {eval}/{budget} · {} eval/s · ETA {eta} · {}",
            rate.map_or("-".into(), |v| format!("{v:.2}")),
            device(r)
        )),
        Line::from(match (last, best) {
            (Some(l), Some(b)) => format!(
                "total {:.4e} · best {:.4e} at step {}",
                l.total, b.total, b.eval
            ),
            _ => "waiting for the first evaluation".into(),
        }),
        super::live::rollback_line(rollbacks, &app.theme),
    ];
    let (series, marks) = super::loss_chart(samples, rollbacks, &app.theme);
    KindView {
        lines,
        series,
        marks,
        x_title: "evaluation",
        extra_images: Vec::new(),
    }
}

/// Training: iteration of the total, images/s, ETA, the (final) losses.
fn train(app: &App, r: &Run, spec: &jobs::train::Spec) -> KindView {
    let points = app.points_of(r.id);
    let live = match app.progress.get(&r.id) {
        Some(Progress::Train(p)) => Some(p),
        _ => None,
    };
    let done = match &r.outcome {
        Some(Outcome::Train(o)) => Some(o),
        _ => None,
    };
    let of = live.map_or(spec.train.iterations, |p| p.of);
    let iteration = live
        .map(|p| p.iteration)
        .or(done.map(|o| o.iterations))
        .or(points.last().map(|p| p.step.max(0) as u64))
        .unwrap_or(0);
    let ips = live.map(|p| p.images_per_second).or_else(|| {
        points
            .iter()
            .rev()
            .find(|p| p.series == jobs::train::RATE_SERIES)
            .map(|p| p.value)
    });
    let eta = match (step_rate(points), r.status) {
        (Some(v), Status::Running) if v > 0.0 => {
            format!("{:.0} s", of.saturating_sub(iteration) as f64 / v)
        }
        _ => "-".into(),
    };
    let losses = match (done, live) {
        (Some(o), _) => ("final", o.losses.clone()),
        (None, Some(p)) => ("losses", p.losses.clone()),
        (None, None) => ("losses", latest(points, jobs::train::RATE_SERIES)),
    };
    let lines = vec![
        Line::from(format!("run {} · {} · {}", r.id, r.status, r.describe())).bold(),
        Line::from(format!(
            "iteration {iteration}/{of} · {} images/s · ETA {eta} · {}",
            ips.map_or("-".into(), |v| format!("{v:.2}")),
            device(r)
        )),
        losses_line(losses.0, &losses.1, &app.theme),
    ];
    KindView {
        lines,
        // Images/s is a rate, not a loss: the header shows it.
        series: series_of(points, &[jobs::train::RATE_SERIES], &app.theme),
        marks: chart::Marks::default(),
        x_title: "iteration",
        extra_images: Vec::new(),
    }
}

/// Apply: photos done, then the outputs written.
fn apply(app: &App, r: &Run) -> KindView {
    let mut lines = Vec::new();
    if let Some(Progress::Apply(p)) = app.progress.get(&r.id) {
        lines.push(Line::from(format!(
            "photo {}/{} · {:.1} s",
            p.done,
            p.of,
            p.elapsed.as_secs_f64()
        )));
    }
    if let Some(Outcome::Apply(o)) = &r.outcome {
        lines.push(Line::from(format!(
            "{} output{} written by {} in {:.1} s",
            o.outputs.len(),
            if o.outputs.len() == 1 { "" } else { "s" },
            o.model,
            o.seconds
        )));
        lines.extend(
            o.outputs
                .iter()
                .map(|p| Line::from(format!("  {}", p.display()))),
        );
    }
    other(app, r, lines)
}

/// Analogy: the layer and phase it is at, then its timings.
fn analogy(app: &App, r: &Run) -> KindView {
    let mut lines = Vec::new();
    if let Some(Progress::Analogy(p)) = app.progress.get(&r.id) {
        lines.push(Line::from(format!(
            "layer {} ({}/5) · {} {}/{}",
            p.layer, p.level, p.phase, p.iteration, p.of
        )));
    }
    let mut extra = Vec::new();
    if let Some(Outcome::Analogy(o)) = &r.outcome {
        lines.push(Line::from(format!(
            "PatchMatch {:.1} s · reconstruction {:.1} s · total {:.1} s · identity {:.0}%",
            o.timings.patchmatch,
            o.timings.reconstruction,
            o.timings.total,
            o.identity_share * 100.0
        )));
        let dir = app.snap.data_dir.join("runs").join(r.id.to_string());
        extra = vec![
            (" B ", dir.join(&o.b)),
            (" A→B′ field ", dir.join(&o.flow_picture)),
        ];
    }
    let mut v = other(app, r, lines);
    v.extra_images = extra;
    v
}

/// A kind without its own figures: what the run is, then `lines`, and a
/// chart of whatever series it recorded.
fn other(app: &App, r: &Run, lines: Vec<Line<'static>>) -> KindView {
    let mut all = vec![
        Line::from(format!("run {} · {} · {}", r.id, r.status, r.describe())).bold(),
        Line::from(device(r)),
    ];
    all.extend(lines);
    KindView {
        lines: all,
        series: series_of(app.points_of(r.id), &[], &app.theme),
        marks: chart::Marks::default(),
        x_title: "step",
        extra_images: Vec::new(),
    }
}

fn device(r: &Run) -> String {
    r.device.clone().unwrap_or_else(|| "-".into())
}

/// One chart series per series name in `points` (but `skip`), by name.
pub fn series_of(points: &[Point], skip: &[&str], t: &Theme) -> Vec<chart::Series> {
    let mut by: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for p in points.iter().filter(|p| !skip.contains(&p.series.as_str())) {
        by.entry(&p.series)
            .or_default()
            .push((p.step as f64, p.value));
    }
    let mut spare = [Color::Blue, Color::LightRed, Color::White, Color::Gray]
        .into_iter()
        .cycle();
    by.into_iter()
        .map(|(name, pts)| {
            let color = match name {
                "style" => t.chart_style,
                "content" => t.chart_content,
                "total" => t.chart_total,
                _ => spare.next().unwrap_or(Color::White),
            };
            chart::Series::new(name, color, pts)
        })
        .collect()
}

/// Steps per second over the last 20 steps recorded.
fn step_rate(points: &[Point]) -> Option<f64> {
    let mut steps: Vec<(i64, f64)> = points.iter().map(|p| (p.step, p.seconds)).collect();
    steps.dedup_by_key(|s| s.0);
    let b = *steps.last()?;
    let a = steps[steps.len().saturating_sub(20)];
    let dt = b.1 - a.1;
    (dt > 0.0).then(|| (b.0 - a.0) as f64 / dt)
}

/// The last value of every series but `skip`.
fn latest(points: &[Point], skip: &str) -> BTreeMap<String, f64> {
    points
        .iter()
        .filter(|p| p.series != skip)
        .map(|p| (p.series.clone(), p.value))
        .collect()
}

fn losses_line(label: &str, losses: &BTreeMap<String, f64>, t: &Theme) -> Line<'static> {
    if losses.is_empty() {
        return Line::from("waiting for the first iteration").style(t.muted());
    }
    let parts: Vec<String> = losses.iter().map(|(k, v)| format!("{k} {v:.4e}")).collect();
    Line::from(format!("{label}: {}", parts.join(" · ")))
}
