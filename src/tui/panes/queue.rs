//! Queue: running and queued runs, in the order they will be taken.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Block, Paragraph, TableState};
use ratatui::Frame;

use super::{follow, move_selection, Col, Effect};
use crate::queue::{Run, Status};
use crate::tui::app::App;
use crate::tui::data::Command;
use crate::tui::keymap::Action;

#[derive(Default)]
pub struct QueueState {
    pub sel: usize,
    /// The run the cursor is on: moves and priorities reorder the queue, and
    /// the cursor stays with the run, not the row.
    pub id: Option<i64>,
}

impl QueueState {
    /// Keys → store commands; `queue` is the snapshot's queue.
    pub fn handle(&mut self, action: Action, queue: &[Run]) -> Option<Effect> {
        let effect = self.act(action, queue);
        self.id = queue.get(self.sel).map(|r| r.id);
        effect
    }

    /// Puts the cursor back on its run in a fresh `queue`.
    pub fn follow(&mut self, queue: &[Run]) {
        self.sel = follow(self.id, self.sel, queue.iter().map(|r| r.id));
    }

    fn act(&mut self, action: Action, queue: &[Run]) -> Option<Effect> {
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
                // The cursor stays on the run; the next snapshot shows it moved.
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

/// The run columns, then the queue's own.
const COLS: [Col; 10] = {
    let [a, b, c, d, e, f, g, h] = super::RUN_COLS;
    [
        a,
        b,
        c,
        d,
        e,
        f,
        g,
        h,
        super::col("prio", 4, false, 4),
        super::col("worker", 14, false, 0),
    ]
};

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
    let rows = app
        .snap
        .queue
        .iter()
        .map(|r| {
            let mut cells = super::run_cells(r, &app.theme);
            cells.push(format!("{}", r.priority).into());
            cells.push(r.worker.clone().unwrap_or_default().into());
            (cells, Style::default())
        })
        .collect();
    let table = super::run_table(&COLS, area, rows).block(block);
    let mut state = TableState::default().with_selected(Some(app.queue.sel));
    f.render_stateful_widget(table, area, &mut state);
}
