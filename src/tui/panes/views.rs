//! The view of a run shared by Live and History: its header lines, the
//! series its chart draws and its images. A Gatys run's is drawn here from
//! its evaluations; every other kind says its own (`jobs::<kind>::view`),
//! so a new kind needs nothing here.

use std::collections::BTreeMap;

use ratatui::style::{Color, Stylize};
use ratatui::text::Line;

use crate::jobs::{self, Progress};
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
    /// The run's image when its kind shows another than its output or
    /// latest iterate (a video's frame).
    pub image: Option<std::path::PathBuf>,
    /// Its title, when the kind names it (`current frame`).
    pub image_title: Option<&'static str>,
    /// One line on what a finished run made, for History's side panel.
    pub brief: Option<String>,
    /// Images a kind shows beside its output, titled (an analogy's B and
    /// its field picture).
    pub extra_images: Vec<(&'static str, std::path::PathBuf)>,
}

/// The view of run `r`: a Gatys run's drawn from its evaluations, any
/// other's from what its kind says of it ([`jobs::Job::view`]).
pub fn view(app: &App, r: &Run) -> KindView {
    if r.spec().is_some() {
        gatys(app, r)
    } else {
        of_kind(app, r)
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
        image: None,
        image_title: None,
        brief: None,
        extra_images: Vec::new(),
    }
}

/// A kind's own lines under what the run is, a chart of the series it
/// recorded, and its images (relative to its run folder).
fn of_kind(app: &App, r: &Run) -> KindView {
    let points = app.points_of(r.id);
    let recorded = recorded(points);
    let seen = jobs::view::Seen {
        live: app.progress.get(&r.id),
        outcome: r.outcome.as_ref(),
        recorded: &recorded,
        running: r.status == Status::Running,
    };
    let kind = r.job().map(|j| j.view(seen)).unwrap_or_default();
    let dir = app.snap.data_dir.join("runs").join(r.id.to_string());
    let mut lines = vec![
        Line::from(format!("run {} · {} · {}", r.id, r.status, r.describe())).bold(),
        Line::from(device(r)),
    ];
    lines.extend(kind.lines.into_iter().map(Line::from));
    KindView {
        lines,
        series: series_of(points, kind.unplotted, &app.theme),
        marks: chart::Marks::default(),
        x_title: kind.x_title.unwrap_or("step"),
        image: kind.image.map(|p| dir.join(p)),
        image_title: kind.image_title,
        brief: kind.brief,
        extra_images: kind
            .extra_images
            .into_iter()
            .map(|(t, p)| (t, dir.join(p)))
            .collect(),
    }
}

/// What the store recorded of a run's series, for its kind's view.
fn recorded(points: &[Point]) -> jobs::view::Recorded {
    jobs::view::Recorded {
        last_step: points.last().map(|p| p.step.max(0) as u64),
        step_rate: step_rate(points),
        latest: points.iter().map(|p| (p.series.clone(), p.value)).collect(),
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
