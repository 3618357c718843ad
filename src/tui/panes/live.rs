//! Live: the loss curves, rate, ETA and the image of a running run.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::Effect;
use crate::queue::{RollbackRecord, Run, Sample, Status};
use crate::tui::app::App;
use crate::tui::images::ImageKey;
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;

/// Which run Live shows.
#[derive(Default)]
pub struct LiveState {
    pub run: Option<i64>,
    /// Chosen with `[`/`]`: stays when it finishes, instead of following the
    /// worker to its next run.
    pub pinned: bool,
}

impl LiveState {
    /// Keys switch between the `running` runs.
    pub fn handle(&mut self, action: Action, running: &[i64]) -> Option<Effect> {
        if running.is_empty() {
            return None;
        }
        let at = self
            .run
            .and_then(|id| running.iter().position(|r| *r == id));
        let next = match (action, at) {
            (Action::NextRun | Action::Down | Action::Right, Some(i)) => {
                running[(i + 1) % running.len()]
            }
            (Action::PrevRun | Action::Up | Action::Left, Some(i)) => {
                running[(i + running.len() - 1) % running.len()]
            }
            (Action::NextRun | Action::PrevRun, None) => running[0],
            _ => return None,
        };
        self.run = Some(next);
        self.pinned = true;
        None
    }
}

/// The image to show for a run: the one its kind picks, else the worker's
/// latest iterate (or a training's preview) while it runs, its output once done, its content photo before
/// anything exists; `None` for a run with none of these yet (a training).
pub fn run_image(app: &App, r: &Run) -> Option<std::path::PathBuf> {
    // A kind that shows another image says so (a video: its frames).
    if let Some(p) = super::views::view(app, r).image {
        return Some(p);
    }
    let dir = app.snap.data_dir.join("runs").join(r.id.to_string());
    let current = dir.join("current.png");
    match (&r.output, current.exists()) {
        (Some(out), _) if r.status == Status::Done => Some(out.clone()),
        (_, true) => Some(current),
        // The photo a run starts from, while it waits or starts; a run that
        // ended with no image has no output to show, not its photo.
        _ if matches!(r.status, Status::Queued | Status::Running) => {
            let content = &r.params().content;
            (!content.as_os_str().is_empty()).then(|| content.clone())
        }
        _ => None,
    }
}

/// Evaluations per second over the last samples.
pub fn rate(samples: &[Sample]) -> Option<f64> {
    let n = samples.len();
    if n < 2 {
        return None;
    }
    let a = &samples[n.saturating_sub(20)];
    let b = &samples[n - 1];
    let dt = b.seconds - a.seconds;
    (dt > 0.0).then(|| (b.eval - a.eval) as f64 / dt)
}

/// The latest rollback of a run, for its stats.
pub fn rollback_line(rollbacks: &[RollbackRecord], theme: &Theme) -> Line<'static> {
    match rollbacks.last() {
        None => Line::from("no rollbacks").style(theme.muted()),
        Some(r) => Line::from(format!(
            "{} rollback{} · last at step {} to {}: {}",
            rollbacks.len(),
            if rollbacks.len() == 1 { "" } else { "s" },
            r.eval,
            r.to_eval,
            r.reason
        ))
        .style(Style::default().fg(theme.chart_rollback)),
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, want: &mut Vec<ImageKey>) {
    let Some(r) = app.live.run.and_then(|id| app.run(id)) else {
        f.render_widget(
            Paragraph::new("no run to watch: queue one in Compose (2), or pick a running run in Queue (3) with Enter")
                .wrap(Wrap { trim: true })
                .style(app.theme.muted())
                .block(Block::bordered().title(" Live ")),
            area,
        );
        return;
    };
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(area);
    let [stats, chart_area] =
        Layout::vertical([Constraint::Length(6), Constraint::Min(6)]).areas(left);
    let view = super::views::view(app, r);
    let running: Vec<i64> = app
        .snap
        .queue
        .iter()
        .filter(|q| q.status == Status::Running)
        .map(|q| q.id)
        .collect();
    let title = if running.len() > 1 {
        format!(" Live ({} running: [ ] switch) ", running.len())
    } else {
        " Live ".into()
    };
    f.render_widget(
        Paragraph::new(view.lines.clone()).block(Block::bordered().title(title)),
        stats,
    );
    super::chart_and_image(f, (chart_area, right), " Image ", app, r, &view, want);
}
