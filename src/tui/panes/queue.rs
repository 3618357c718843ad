//! Queue: running and queued runs, in the order they will be taken.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::{move_selection, Effect};
use crate::queue::{Run, Status};
use crate::tui::app::App;
use crate::tui::data::Command;
use crate::tui::keymap::Action;

#[derive(Default)]
pub struct QueueState {
    pub sel: usize,
}

impl QueueState {
    /// Keys → store commands; `queue` is the snapshot's queue.
    pub fn handle(&mut self, action: Action, queue: &[Run]) -> Option<Effect> {
        let n = queue.len();
        if move_selection(&mut self.sel, n, action) {
            return None;
        }
        let run = queue.get(self.sel)?;
        let (id, status, priority) = (run.id, run.status, run.priority);
        // Place among queued runs (1-based), for moves.
        let place = queue
            .iter()
            .filter(|r| r.status == Status::Queued)
            .position(|r| r.id == id)
            .map(|p| p + 1);
        match action {
            Action::MoveUp | Action::MoveDown => {
                let Some(p) = place else {
                    return Some(Effect::Say("only queued runs can be moved".into()));
                };
                let up = action == Action::MoveUp;
                let to = if up {
                    p.saturating_sub(1).max(1)
                } else {
                    p + 1
                };
                self.sel = if up {
                    self.sel.saturating_sub(1)
                } else {
                    (self.sel + 1).min(n.saturating_sub(1))
                };
                Some(Effect::Command(Command::Move(id, to)))
            }
            Action::PriorityUp => Some(Effect::Command(Command::Priority(id, priority + 1))),
            Action::PriorityDown => Some(Effect::Command(Command::Priority(id, priority - 1))),
            Action::Cancel => Some(Effect::ConfirmCancel(id)),
            Action::Select if status == Status::Running => Some(Effect::Watch(id)),
            Action::Select => Some(Effect::Say("not running yet".into())),
            _ => None,
        }
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let block = Block::bordered().title(format!(" Queue ({}) ", app.snap.queue.len()));
    if app.snap.queue.is_empty() {
        f.render_widget(
            Paragraph::new("nothing queued: compose a run (2) and press r")
                .style(app.theme.muted())
                .block(block),
            area,
        );
        return;
    }
    let rows: Vec<Row> = app
        .snap
        .queue
        .iter()
        .map(|r| {
            let mut cells = super::run_cells(r, &app.theme);
            cells.push(format!("{}", r.priority).into());
            cells.push(r.worker.clone().unwrap_or_default().into());
            Row::new(cells)
        })
        .collect();
    let mut widths = super::run_widths(10).to_vec();
    widths.extend([Constraint::Length(4), Constraint::Length(14)]);
    let mut header = super::RUN_HEADER.to_vec();
    header.extend(["prio", "worker"]);
    let table = Table::new(rows, widths)
        .header(Row::new(header).bold())
        .block(block)
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(Some(app.queue.sel));
    f.render_stateful_widget(table, area, &mut state);
}
