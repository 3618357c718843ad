//! Queue: running and queued runs, in the order they will be taken.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Block, Paragraph, TableState};
use ratatui::Frame;

use super::{follow, move_selection, Col, Effect};
use crate::queue::{Run, Status, WorkerInfo};
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

/// A worker whose heartbeat is older than this is named as silent (killed,
/// or its host unreachable) until the store's recovery forgets it.
const SILENT_AFTER: f64 = 30.0;

/// The workers on this store, any host: `box-a cuda:0 run 7 · box-b cpu idle`.
pub fn workers_line(workers: &[WorkerInfo], now: f64) -> String {
    if workers.is_empty() {
        return "no worker: queued runs wait (start `atelier worker`)".into();
    }
    let each: Vec<String> = workers
        .iter()
        .map(|w| {
            let doing = match w.current_run {
                Some(id) => format!("run {id}"),
                None => "idle".into(),
            };
            let age = now - w.heartbeat;
            match age > SILENT_AFTER {
                true => format!("{} {} {doing} (silent {age:.0} s)", w.host, w.device),
                false => format!("{} {} {doing}", w.host, w.device),
            }
        })
        .collect();
    format!("workers: {}", each.join(" · "))
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let block = Block::bordered()
        .title(format!(" Queue ({}) ", app.snap.queue.len()))
        .title_bottom(format!(" {} ", workers_line(&app.snap.workers, now)));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(host: &str, device: &str, run: Option<i64>, heartbeat: f64) -> WorkerInfo {
        WorkerInfo {
            id: format!("{host}:1"),
            pid: 1,
            host: host.into(),
            device: device.into(),
            started: 0.0,
            heartbeat,
            current_run: run,
        }
    }

    #[test]
    fn the_workers_line_names_each_host_its_device_its_run_and_a_silent_one() {
        let now = 1000.0;
        let line = workers_line(
            &[
                worker("box-a", "cuda:0", Some(7), now - 2.0),
                worker("box-b", "cpu", None, now - 120.0),
            ],
            now,
        );
        assert_eq!(
            line,
            "workers: box-a cuda:0 run 7 · box-b cpu idle (silent 120 s)"
        );
        assert!(workers_line(&[], now).starts_with("no worker"));
    }
}
