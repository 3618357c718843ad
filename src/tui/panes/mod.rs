//! One file per pane; each draws from the app state.

pub mod compose;
pub mod history;
pub mod library;
pub mod live;
pub mod queue;
pub mod watch;

use ratatui::style::Style;
use ratatui::widgets::{Cell, Row};

use crate::queue::{Run, Status};
use crate::tui::theme::Theme;

/// Colour of a status word.
pub fn status_style(s: Status, t: &Theme) -> Style {
    match s {
        Status::Queued => Style::default(),
        Status::Running => t.warn(),
        Status::Done => t.ok(),
        Status::Failed => t.error(),
        Status::Cancelled | Status::Interrupted => t.muted(),
    }
}

/// A table row summarising a run.
pub fn run_row(r: &Run, t: &Theme) -> Row<'static> {
    Row::new(run_cells(r, t))
}

/// The style names of a run: one, or a blend as `a + b`.
pub fn style_names(r: &Run) -> String {
    let names: Vec<String> = r
        .inputs
        .iter()
        .filter(|i| i.role == "style")
        .map(|i| {
            i.name.clone().unwrap_or_else(|| {
                i.path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
        })
        .collect();
    names.join(" + ")
}

/// The cells of [`run_row`]: id, status, content, style, size, steps, loss.
pub fn run_cells(r: &Run, t: &Theme) -> Vec<Cell<'static>> {
    vec![
        Cell::from(r.id.to_string()),
        Cell::from(r.status.to_string()).style(status_style(r.status, t)),
        Cell::from(r.input_name("content")),
        Cell::from(style_names(r)),
        Cell::from(format!("{}", r.spec.size)),
        Cell::from(format!("{}", r.spec.steps)),
        Cell::from(
            r.losses
                .map(|l| format!("{:.3e}", l.total))
                .unwrap_or_default(),
        ),
    ]
}
