//! Compose: the content, the marked styles with their blend weights, the
//! memory estimate, and the form (preset, styles, weights, run parameters).

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState, Wrap};
use ratatui::Frame;

pub mod analogy;
pub mod apply;
pub mod estimate;
pub mod form;
pub mod kind;
pub mod masks;
pub mod params;
pub mod stylize;
pub mod texture;
pub mod train;
pub mod video;

pub use form::{ComposeState, Field, MarkedStyle, MemoryView};
pub use kind::{Kind, Queues};

use super::{Effect, InputPurpose};
use crate::tui::app::App;
use crate::tui::data::Command;
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;

impl ComposeState {
    /// Keys move the cursor, step the field, open it for typing, or queue.
    pub fn handle(&mut self, action: Action) -> Option<Effect> {
        let last = self.fields().len() - 1;
        self.field = self.field.min(last);
        match action {
            Action::Up => self.field = self.field.saturating_sub(1),
            Action::Down => self.field = (self.field + 1).min(last),
            Action::Top => self.field = 0,
            Action::Bottom => self.field = last,
            Action::Increase | Action::Right => self.nudge(1),
            Action::Decrease | Action::Left => self.nudge(-1),
            Action::Select => {
                let f = self.selected();
                return Some(Effect::Input(InputPurpose::EditField(f), self.edit_text(f)));
            }
            Action::Enqueue => match self.runs() {
                Ok(runs) => {
                    self.error = None;
                    return Some(Effect::Command(Command::Enqueue(runs)));
                }
                Err(e) => {
                    // The status line says it too: what it said before
                    // (`queued runs 4, 5`) is not news of this `r`.
                    self.error = Some(e.clone());
                    return Some(Effect::Say(format!("not queued: {e}")));
                }
            },
            _ => {}
        }
        None
    }

    /// Typed text for field `f`, committed with Enter: refused text leaves
    /// the form as it was and says why in it.
    pub fn commit(&mut self, f: Field, text: &str) {
        if let Err(e) = self.set(f, text) {
            self.error = Some(format!("{}: {e}", self.label(f)));
        }
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let c = &app.compose;
    let t = &app.theme;
    let mut lines = Vec::new();
    if c.kind.takes_content() {
        lines.push(Line::from("Content").bold());
        lines.push(match &c.content {
            Some(i) => Line::from(format!("  {}", i.name)).fg(t.accent),
            None => Line::from("  none: in Library, Enter on a photo").style(t.muted()),
        });
        lines.push(Line::from(""));
    }
    if c.kind == Kind::Apply {
        lines.push(Line::from("Model").bold());
        lines.push(match &c.model {
            Some(m) => Line::from(format!("  {} ({})", m.name, m.origin)).fg(t.accent),
            None => Line::from("  none: in Library, Enter on a model").style(t.muted()),
        });
        lines.push(Line::from(""));
    }
    let n = c.styles.len();
    if c.kind.takes_styles() || c.applies_arbitrary() {
        lines.push(
            Line::from(if c.blends() {
                let verb = if c.applies_arbitrary() {
                    "mix"
                } else {
                    "blend"
                };
                format!("Styles ({n}) · {verb} {}", c.shares_label())
            } else {
                format!("Styles ({n})")
            })
            .bold(),
        );
        if c.styles.is_empty() {
            lines.push(Line::from("  none: in Library, Space on paintings").style(t.muted()));
        }
        let shares = c.shares();
        for (s, share) in c.styles.iter().zip(shares) {
            lines.push(
                Line::from(if c.blends() {
                    format!("  {share:.2}  {}", s.item.name)
                } else {
                    format!("  {}", s.item.name)
                })
                .fg(t.accent),
            );
        }
        lines.push(Line::from(""));
    }
    if c.kind == Kind::Train {
        lines.extend(dataset_lines(c, t));
    }
    lines.push(queues_line(c, t));
    if let Some(e) = &c.error {
        // Why the last edit or `r` was refused, wrapped inside the box.
        lines.push(Line::from(e.clone()).style(t.error()));
    }
    lines.push(Line::from(""));
    if c.kind.gatys() {
        lines.extend(memory_lines(&app.memory_estimate(), &app.device, t));
    }
    if c.kind == Kind::Train {
        lines.extend(time_lines(c, app));
    }
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Inputs ")),
        left,
    );
    let fields = c.fields();
    let rows: Vec<Row> = fields
        .iter()
        .map(|&field| Row::new(vec![c.label(field), c.value(field)]))
        .collect();
    let block = Block::bordered()
        .title(" Parameters (↑↓ field · ←→/+- change · Enter type) ")
        .border_style(t.accent());
    let table = Table::new(rows, [Constraint::Length(18), Constraint::Min(10)])
        .block(block)
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state =
        TableState::default().with_selected(Some(c.field.min(fields.len().saturating_sub(1))));
    f.render_stateful_widget(table, right, &mut state);
}

/// What `r` would queue, for the chosen kind ([`Kind::queues`]).
fn queues_line(c: &ComposeState, t: &Theme) -> Line<'static> {
    match c.kind.queues(c) {
        Queues::Ready(s) => Line::from(s).fg(t.accent),
        Queues::Waiting(s) => Line::from(s).style(t.muted()),
        Queues::Refused(s) => Line::from(s).style(t.error()),
    }
}

/// The photos a training learns from, and how to get the training set
/// when it is not made yet.
fn dataset_lines(c: &ComposeState, t: &Theme) -> Vec<Line<'static>> {
    let path = crate::config::resolve(&c.train.dataset);
    let chosen = c.datasets.iter().find(|d| d.path == path);
    let mut v = vec![Line::from("Photos to learn from").bold()];
    v.push(match chosen {
        Some(d) if d.images == 0 => Line::from(format!("  {}", d.show())).style(t.error()),
        Some(d) => Line::from(format!("  {}", d.show())).fg(t.accent),
        None => Line::from(format!("  {}", c.train.dataset.display())).fg(t.accent),
    });
    if c.datasets.iter().any(|d| d.unmade_training_set()) {
        v.push(Line::from("  `make dataset` builds the full training set").style(t.muted()));
    }
    v.push(Line::from(""));
    v
}

/// How long one training run of the form should take on the worker's
/// device, at the pace of the latest training there (History's, else a
/// model's record).
fn time_lines(c: &ComposeState, app: &App) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut v = vec![Line::from(format!("Time on {}", app.device)).bold()];
    let paces = app.training_paces();
    v.push(
        match estimate::train_seconds(&c.train, &app.device, &paces) {
            Some((secs, pace)) => Line::from(format!(
                "  ≈ {} per model (at the pace of {})",
                estimate::duration(secs),
                pace.from
            )),
            None => Line::from("  unknown: no training on this device yet").style(t.muted()),
        },
    );
    v
}

/// The memory estimate: what one run needs, and whether it fits.
fn memory_lines(m: &MemoryView, device: &str, t: &Theme) -> Vec<Line<'static>> {
    let mut v = vec![Line::from(format!("Memory on {device}")).bold()];
    v.push(Line::from(format!(
        "  ≈ {} for the run, peak ≈ {}",
        bytes(m.run),
        bytes(m.peak)
    )));
    v.push(match m.available {
        None => Line::from("  free memory unknown").style(t.muted()),
        Some(a) if m.too_big => Line::from(format!(
            "  too big: only {} free (lower the size)",
            bytes(a)
        ))
        .style(t.error()),
        Some(a) => Line::from(format!("  fits: {} free", bytes(a))).style(t.ok()),
    });
    if m.assumed_square {
        v.push(Line::from("  (content not measured: square assumed)").style(t.muted()));
    }
    v
}

/// Bytes in MiB, or GiB from 1 GiB.
pub fn bytes(b: u64) -> String {
    let mib = b as f64 / (1024.0 * 1024.0);
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.0} MiB")
    }
}
