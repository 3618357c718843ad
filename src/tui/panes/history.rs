//! History: past runs, one opened in detail, or two compared.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, TableState, Wrap};
use ratatui::Frame;

use crate::queue::run::format_time;
use std::path::PathBuf;

use super::{move_selection, Effect, InputPurpose};
use crate::queue::Run;
use crate::tui::app::App;
use crate::tui::data::Command;
use crate::tui::images::ImageKey;
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;

use super::live::run_image;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    Newest,
    Loss,
    Status,
}

#[derive(Default)]
pub struct HistoryState {
    pub sel: usize,
    /// The run the cursor is on: new runs arrive at the top, and the cursor
    /// stays with its run, not its row.
    pub id: Option<i64>,
    pub sort: Option<Sort>,
    pub filter: String,
    /// Run shown in detail.
    pub open: Option<i64>,
    /// Run marked for comparison, and an open comparison.
    pub mark: Option<i64>,
    pub compare: Option<(i64, i64)>,
}

impl HistoryState {
    /// History rows of `runs` after filter and sort.
    pub fn rows<'a>(&self, runs: &'a [Run]) -> Vec<&'a Run> {
        let f = self.filter.to_lowercase();
        let mut rows: Vec<&Run> = runs
            .iter()
            .filter(|r| f.is_empty() || matches(r, &f))
            .collect();
        match self.sort {
            None | Some(Sort::Newest) => {}
            Some(Sort::Loss) => rows.sort_by(|a, b| {
                let key = |r: &Run| r.final_loss().unwrap_or(f64::INFINITY);
                key(a).total_cmp(&key(b))
            }),
            Some(Sort::Status) => rows.sort_by_key(|r| r.status.as_str()),
        }
        rows
    }

    /// What a run with no row says: nothing in the store, or nothing that
    /// matches the filter.
    pub fn empty_text(&self) -> String {
        match self.filter.is_empty() {
            true => "no runs yet".into(),
            false => format!("no run matches /{} (Esc clears the filter)", self.filter),
        }
    }

    /// The filter as typed so far (it applies as you type).
    pub fn set_filter(&mut self, text: &str) {
        self.filter = text.to_string();
        self.sel = 0;
    }

    /// Keys → what the pane does itself, or asks of the app; `runs` is the
    /// snapshot's history.
    pub fn handle(&mut self, action: Action, runs: &[Run]) -> Option<Effect> {
        let effect = self.act(action, runs);
        self.remember(runs);
        effect
    }

    /// Notes which run the cursor is on now.
    pub fn remember(&mut self, runs: &[Run]) {
        self.id = self.rows(runs).get(self.sel).map(|r| r.id);
    }

    /// Puts the cursor back on its run in a fresh history.
    pub fn follow(&mut self, runs: &[Run]) {
        let rows = self.rows(runs);
        self.sel = super::follow(self.id, self.sel, rows.iter().map(|r| r.id));
    }

    fn act(&mut self, action: Action, runs: &[Run]) -> Option<Effect> {
        let rows: Vec<(i64, Option<PathBuf>)> = self
            .rows(runs)
            .iter()
            .map(|r| (r.id, r.output.clone()))
            .collect();
        let detail = self.open.is_some() || self.compare.is_some();
        if action == Action::Back {
            if detail {
                self.open = None;
                self.compare = None;
            } else {
                self.filter.clear();
            }
            return None;
        }
        if !detail && move_selection(&mut self.sel, rows.len(), action) {
            return None;
        }
        if action == Action::Filter {
            return Some(Effect::Input(
                InputPurpose::HistoryFilter,
                self.filter.clone(),
            ));
        }
        let (id, output) = rows.get(self.sel).cloned()?;
        match action {
            Action::Sort => {
                self.sort = Some(match self.sort {
                    None | Some(Sort::Newest) => Sort::Loss,
                    Some(Sort::Loss) => Sort::Status,
                    Some(Sort::Status) => Sort::Newest,
                });
                self.sel = 0;
                None
            }
            Action::Select => {
                self.open = Some(id);
                None
            }
            Action::Mark => {
                self.mark = if self.mark == Some(id) {
                    None
                } else {
                    Some(id)
                };
                Some(Effect::Say(match self.mark {
                    Some(m) => format!("marked run {m}; select another and press C to compare"),
                    None => "unmarked".into(),
                }))
            }
            Action::Compare => match self.mark {
                Some(m) if m != id => {
                    self.compare = Some((m, id));
                    None
                }
                _ => Some(Effect::Say(
                    "mark a run with m first, then select another".into(),
                )),
            },
            Action::Rerun => Some(Effect::Command(Command::Rerun(id))),
            Action::EditRerun => Some(Effect::EditRun(id)),
            Action::CopyPath => Some(match output {
                Some(p) => Effect::Copy(p.display().to_string()),
                None => Effect::Say("this run has no output".into()),
            }),
            Action::Delete => Some(Effect::ConfirmDelete(id)),
            _ => None,
        }
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, want: &mut Vec<ImageKey>) {
    if let Some((a, b)) = app.history.compare {
        return compare(f, area, app, a, b, want);
    }
    if let Some(r) = app.history.open.and_then(|id| app.run(id)) {
        return detail(f, area, app, r, want);
    }
    let rows_src = app.history.rows(&app.snap.history);
    let [list, side] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(area);
    let sort = match app.history.sort {
        None | Some(Sort::Newest) => "newest",
        Some(Sort::Loss) => "loss",
        Some(Sort::Status) => "status",
    };
    let filter = if app.history.filter.is_empty() {
        String::new()
    } else {
        format!(" /{}", app.history.filter)
    };
    let block = Block::bordered().title(format!(
        " History ({}) · sort {sort}{filter} ",
        rows_src.len()
    ));
    if rows_src.is_empty() {
        f.render_widget(
            Paragraph::new(app.history.empty_text())
                .style(app.theme.muted())
                .block(block),
            list,
        );
        return;
    }
    let rows = rows_src
        .iter()
        .map(|r| {
            // The run marked for comparison is underlined.
            let style = match app.history.mark == Some(r.id) {
                true => Style::default().add_modifier(Modifier::UNDERLINED),
                false => Style::default(),
            };
            (super::run_cells(r, &app.theme), style)
        })
        .collect();
    let table = super::run_table(&super::RUN_COLS, list, rows).block(block);
    let sel = app.history.sel.min(rows_src.len() - 1);
    let mut state = TableState::default().with_selected(Some(sel));
    f.render_stateful_widget(table, list, &mut state);
    let r = rows_src[sel];
    let [img, meta] = Layout::vertical([Constraint::Min(4), Constraint::Length(8)]).areas(side);
    let block = Block::bordered().title(format!(" run {} ", r.id));
    let inner = block.inner(img);
    f.render_widget(block, img);
    let thumb = app
        .snap
        .data_dir
        .join("runs")
        .join(r.id.to_string())
        .join("thumb.png");
    let path = if thumb.exists() {
        Some(thumb)
    } else {
        run_image(app, r)
    };
    super::run_image_or_note(f, inner, app, r, path.as_deref(), want);
    f.render_widget(
        Paragraph::new(summary(r, &app.theme)).wrap(Wrap { trim: true }),
        meta,
    );
}

/// Whether `f` (lower case) is in what a user would search a run by: its
/// kind, status, id, every input's name, its output's name and its error.
fn matches(r: &Run, f: &str) -> bool {
    let has = |s: &str| s.to_lowercase().contains(f);
    has(r.kind())
        || has(r.status.as_str())
        || r.id.to_string() == f.trim_start_matches('#')
        || r.inputs.iter().any(|i| has(&i.display_name()))
        || r.output
            .as_ref()
            .and_then(|o| o.file_name())
            .is_some_and(|n| has(&n.to_string_lossy()))
        || r.error.as_deref().is_some_and(has)
}

fn summary(r: &Run, theme: &Theme) -> Vec<Line<'static>> {
    let mut v = vec![Line::from(format!(
        "{} {} · {}",
        r.kind(),
        r.status,
        format_time(r.created)
    ))];
    // Each kind's own settings: never a Gatys spec for a training.
    if let Some(p) = r.job_params() {
        v.push(Line::from(p.line()));
    }
    if let Some(l) = r.losses() {
        v.push(Line::from(format!(
            "loss {:.4e} (best at evaluation {})",
            l.total,
            r.outcome
                .as_ref()
                .and_then(|o| o.gatys())
                .map_or(0, |o| o.best_eval)
        )));
    }
    let inputs: Vec<String> = r
        .inputs
        .iter()
        .filter(|i| i.role != crate::jobs::Role::Dataset)
        .map(|i| format!("{} {}", i.role, i.display_name()))
        .collect();
    if !inputs.is_empty() {
        v.push(Line::from(inputs.join(" · ")));
    }
    if let Some(e) = &r.error {
        v.push(Line::from(e.clone()).style(theme.error()));
    }
    v
}

fn detail(f: &mut Frame, area: Rect, app: &App, r: &Run, want: &mut Vec<ImageKey>) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let [info, chart_area] =
        Layout::vertical([Constraint::Min(8), Constraint::Length(12)]).areas(left);
    let view = super::views::view(app, r);
    let mut lines = if r.spec().is_some() {
        // The Gatys kinds show their parameters and inputs as before.
        gatys_detail(r, app)
    } else {
        view.lines.clone()
    };
    if let Some(o) = &r.output {
        lines.push(Line::from(format!("output  {}", o.display())));
    }
    lines.push(
        Line::from("Esc back · y copy path · R re-run · e edit · D delete")
            .style(app.theme.muted()),
    );
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(Block::bordered().title(format!(" run {} ", r.id))),
        info,
    );
    super::chart_and_image(f, (chart_area, right), " output ", app, r, &view, want);
}

fn compare(f: &mut Frame, area: Rect, app: &App, a: i64, b: i64, want: &mut Vec<ImageKey>) {
    let halves: [Rect; 2] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(area);
    for (id, rect) in [a, b].into_iter().zip(halves) {
        let block = Block::bordered().title(format!(" run {id} (Esc back) "));
        let inner = block.inner(rect);
        f.render_widget(block, rect);
        let Some(r) = app.run(id) else {
            f.render_widget(
                Paragraph::new("run not found").style(app.theme.muted()),
                inner,
            );
            continue;
        };
        let [img, meta] =
            Layout::vertical([Constraint::Min(3), Constraint::Length(7)]).areas(inner);
        super::run_image_or_note(f, img, app, r, run_image(app, r).as_deref(), want);
        f.render_widget(
            Paragraph::new(summary(r, &app.theme)).wrap(Wrap { trim: true }),
            meta,
        );
    }
}

/// A stylize or texture run's summary, rollbacks and inputs.
fn gatys_detail(r: &Run, app: &App) -> Vec<Line<'static>> {
    let mut lines = summary(r, &app.theme);
    let (_, rollbacks) = app.focus_of(r.id);
    if !rollbacks.is_empty() {
        lines.push(super::live::rollback_line(rollbacks, &app.theme));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(format!(
        "content {}",
        r.params().content.display()
    )));
    for s in &r.params().styles {
        lines.push(Line::from(format!(
            "style   {} ×{}",
            s.path.display(),
            s.weight
        )));
    }
    lines
}
