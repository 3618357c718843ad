//! Watch: the drop-folder rules, their counts and recent failures, from the
//! ledger that `atelier watch` keeps. A rule paused here (kept in the
//! database) is skipped by the watcher until it is resumed.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

use super::{move_selection, Effect};
use crate::queue::run::format_time;
use crate::tui::app::App;
use crate::tui::data::Command;
use crate::tui::keymap::Action;
use crate::watch::RuleState;

/// The selected drop-folder rule.
#[derive(Default)]
pub struct WatchState {
    pub sel: usize,
}

impl WatchState {
    /// Keys pause and resume the selected of `rules` (the snapshot's): shown
    /// at once, written by the store thread, confirmed by the next snapshot.
    pub fn handle(&mut self, action: Action, rules: &mut [RuleState]) -> Option<Effect> {
        if move_selection(&mut self.sel, rules.len(), action) || action != Action::PauseRule {
            return None;
        }
        let Some(rule) = rules.get_mut(self.sel) else {
            return Some(Effect::Say("no drop-folder rules configured".into()));
        };
        rule.paused = !rule.paused;
        Some(Effect::Command(Command::PauseRule(
            rule.name.clone(),
            rule.paused,
        )))
    }
}

/// Whether the rules are being watched: without a running `atelier watch`,
/// "on" only means the rule will be watched once one starts.
fn watcher_line(app: &App) -> Line<'static> {
    let arriving: usize = app.snap.watch.iter().map(|r| r.arriving).sum();
    match app.snap.watcher_running {
        true if arriving > 0 => Line::from(format!(
            " watcher running · {arriving} file{} arriving (waiting until written) ",
            if arriving == 1 { "" } else { "s" }
        )),
        true => Line::from(" watcher running ").style(app.theme.muted()),
        false => Line::from(" no watcher running: start one with `atelier watch` ")
            .style(app.theme.warn()),
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let rules = &app.snap.watch;
    if rules.is_empty() {
        f.render_widget(
            Paragraph::new(
                "No drop folders configured. Add [[watch]] rules to your config (see docs/drop-folders.md) and run `atelier watch`; their state shows here.",
            )
            .wrap(Wrap { trim: true })
            .style(app.theme.muted())
            .block(Block::bordered().title(" Watch ")),
            area,
        );
        return;
    }
    let [top, bottom] = Layout::vertical([
        Constraint::Length(rules.len() as u16 + 3),
        Constraint::Min(3),
    ])
    .areas(area);
    let rows: Vec<Row> = rules
        .iter()
        .map(|r| {
            Row::new(vec![
                Cell::from(r.name.clone()),
                Cell::from(r.inbox.display().to_string()),
                Cell::from(r.styles.join(", ")),
                Cell::from(r.preset.clone().unwrap_or_else(|| "-".into())),
                match (r.enabled, r.paused) {
                    (false, _) => Cell::from("off").style(app.theme.muted()),
                    (true, true) => Cell::from("paused").style(app.theme.warn()),
                    (true, false) => Cell::from("on"),
                },
                Cell::from(format!("{}", r.counts.queued)),
                Cell::from(format!("{}", r.counts.done)),
                Cell::from(format!("{}", r.counts.failed)),
                Cell::from(format!("{}", r.counts.delivered)),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(12),
        Constraint::Min(16),
        Constraint::Min(14),
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(9),
    ];
    let mut state = TableState::default().with_selected(Some(app.watch.sel.min(rules.len() - 1)));
    f.render_stateful_widget(
        Table::new(rows, widths)
            .header(
                Row::new(vec![
                    "rule",
                    "inbox",
                    "styles",
                    "preset",
                    "on",
                    "queued",
                    "done",
                    "failed",
                    "delivered",
                ])
                .bold(),
            )
            .block(
                Block::bordered()
                    .title(" Watch: drop folders (Space pauses or resumes) ")
                    .title_bottom(watcher_line(app)),
            )
            .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED)),
        top,
        &mut state,
    );
    let mut lines: Vec<Line> = Vec::new();
    for r in rules {
        for fail in &r.failures {
            lines.push(Line::from(format!(
                "{}  {}  {}: {}",
                format_time(fail.time),
                r.name,
                fail.path.display(),
                fail.reason
            )));
        }
    }
    if lines.is_empty() {
        lines.push(Line::from("no failures").style(app.theme.muted()));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(" Recent failures ")),
        bottom,
    );
}
