//! One file per pane; each draws from the app state.

pub mod compose;
pub mod history;
pub mod library;
pub mod live;
pub mod queue;
pub mod watch;

use ratatui::widgets::{Cell, Row};

use crate::queue::{Run, Status};

/// Colour of a status word.
pub fn status_style(s: Status) -> ratatui::style::Style {
    use ratatui::style::{Color, Style};
    Style::default().fg(match s {
        Status::Queued => Color::Gray,
        Status::Running => Color::Yellow,
        Status::Done => Color::Green,
        Status::Failed => Color::Red,
        Status::Cancelled | Status::Interrupted => Color::DarkGray,
    })
}

/// A table row summarising a run.
pub fn run_row(r: &Run) -> Row<'static> {
    Row::new(run_cells(r))
}

/// The cells of [`run_row`]: id, status, content, style, size, steps, loss.
pub fn run_cells(r: &Run) -> Vec<Cell<'static>> {
    vec![
        Cell::from(r.id.to_string()),
        Cell::from(r.status.to_string()).style(status_style(r.status)),
        Cell::from(r.input_name("content")),
        Cell::from(r.input_name("style")),
        Cell::from(format!("{}", r.spec.size)),
        Cell::from(format!("{}", r.spec.steps)),
        Cell::from(
            r.losses
                .map(|l| format!("{:.3e}", l.total))
                .unwrap_or_default(),
        ),
    ]
}
