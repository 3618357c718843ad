//! History: past runs, one opened in detail, or two compared.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, TableState, Wrap};
use ratatui::Frame;

use crate::queue::run::format_time;
use crate::queue::store::history::Order;
use crate::queue::Filter;

use super::{move_selection, Effect, InputPurpose};
use crate::queue::Run;
use crate::tui::app::App;
use crate::tui::data::Command;
use crate::tui::images::ImageKey;
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;

use super::live::run_image;

/// Runs the store thread reads at once around the cursor: History filters,
/// sorts and pages in the store, never holding every run.
pub const PAGE: usize = 100;
/// How near the page's edge the cursor comes before the next page is read.
const MARGIN: usize = 25;

#[derive(Default)]
pub struct HistoryState {
    /// The cursor, counted over every run that matches (not only the page).
    pub sel: usize,
    /// The run the cursor is on: new runs arrive at the top, and the cursor
    /// stays with its run, not its row.
    pub id: Option<i64>,
    pub order: Order,
    pub filter: String,
    /// Where the snapshot's page starts among the runs that match, and how
    /// many match (the store thread counts them).
    pub offset: usize,
    pub total: usize,
    /// Run shown in detail.
    pub open: Option<i64>,
    /// Run marked for comparison, and an open comparison.
    pub mark: Option<i64>,
    pub compare: Option<(i64, i64)>,
}

impl HistoryState {
    /// What the store thread is to read: the filter, the order, and the page
    /// around the cursor (the one it has while the cursor is well inside).
    pub fn view(&self) -> Filter {
        let low = if self.offset == 0 { 0 } else { MARGIN };
        let inside = self.sel >= self.offset + low
            && (self.sel + MARGIN < self.offset + PAGE || self.offset + PAGE >= self.total);
        Filter {
            text: (!self.filter.is_empty()).then(|| self.filter.clone()),
            order: self.order,
            offset: if inside {
                self.offset
            } else {
                self.sel.saturating_sub(PAGE / 2)
            },
            limit: Some(PAGE),
            ..Filter::default()
        }
    }

    /// The page's rows, filtered and sorted here too: the store did it
    /// already, and a page read before the filter changed is shown filtered
    /// at once.
    pub fn rows<'a>(&self, runs: &'a [Run]) -> Vec<&'a Run> {
        self.view().arrange(runs)
    }

    /// How many runs match: the store's count, or the page's own.
    pub fn count(&self, runs: &[Run]) -> usize {
        self.total.max(self.offset + self.rows(runs).len())
    }

    /// The run under the cursor, when the page holds it.
    pub fn selected<'a>(&self, runs: &'a [Run]) -> Option<&'a Run> {
        let i = self.sel.checked_sub(self.offset)?;
        self.rows(runs).get(i).copied()
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
        (self.sel, self.offset) = (0, 0);
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
        if let Some(r) = self.selected(runs) {
            self.id = Some(r.id);
        }
    }

    /// Puts the cursor back on its run in a fresh page.
    pub fn follow(&mut self, runs: &[Run]) {
        let ids: Vec<i64> = self.rows(runs).iter().map(|r| r.id).collect();
        self.sel = match self.id.and_then(|id| ids.iter().position(|&i| i == id)) {
            Some(i) => self.offset + i,
            None => self.sel.min(self.count(runs).saturating_sub(1)),
        };
    }

    fn act(&mut self, action: Action, runs: &[Run]) -> Option<Effect> {
        let total = self.count(runs);
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
        if !detail && move_selection(&mut self.sel, total, action) {
            // Off the page: the cursor's run is not known until the next one.
            self.id = self.selected(runs).map(|r| r.id);
            return None;
        }
        if action == Action::Filter {
            return Some(Effect::Input(
                InputPurpose::HistoryFilter,
                self.filter.clone(),
            ));
        }
        let r = self.selected(runs)?;
        let (id, output) = (r.id, r.output.clone());
        match action {
            Action::Sort => {
                self.order = match self.order {
                    Order::Newest => Order::Loss,
                    Order::Loss => Order::Status,
                    Order::Status => Order::Newest,
                };
                (self.sel, self.offset) = (0, 0);
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
    let h = &app.history;
    let rows_src = h.rows(&app.snap.history);
    let [list, side] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(area);
    let sort = match h.order {
        Order::Newest => "newest",
        Order::Loss => "loss",
        Order::Status => "status",
    };
    let filter = if app.history.filter.is_empty() {
        String::new()
    } else {
        format!(" /{}", app.history.filter)
    };
    let block = Block::bordered().title(format!(
        " History ({}) · sort {sort}{filter} ",
        h.count(&app.snap.history)
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
    // The page holds the cursor's row once the store has read it.
    let sel = h.sel.saturating_sub(h.offset).min(rows_src.len() - 1);
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
    let kind = super::views::view(app, r);
    // A kind's own image first (a video's middle frame), then the thumbnail.
    let path = match kind.image {
        Some(p) => Some(p),
        None if thumb.exists() => Some(thumb),
        None => run_image(app, r),
    };
    super::run_image_or_note(f, inner, app, r, path.as_deref(), want);
    f.render_widget(
        Paragraph::new(summary(r, kind.brief, &app.theme)).wrap(Wrap { trim: true }),
        meta,
    );
}

/// The side panel's lines; `brief`: what the kind says of a finished run.
fn summary(r: &Run, brief: Option<String>, theme: &Theme) -> Vec<Line<'static>> {
    let mut v = vec![Line::from(format!(
        "{} {} · {}",
        r.kind(),
        r.status,
        format_time(r.created)
    ))];
    v.extend(brief.map(Line::from));
    // Each kind's own settings: never a Gatys spec for a training.
    if let Some(mut p) = r.job_params() {
        // A run's masks on a line of their own, before the settings that
        // may wrap off a small panel.
        if let Some(i) = p
            .pairs
            .iter()
            .position(|(k, _)| *k == crate::jobs::stylize::MASKS_PARAM)
        {
            let (k, masks) = p.pairs.remove(i);
            v.push(Line::from(format!("{k} {masks}")));
        }
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
        // Masks are named on their own line.
        .filter(|i| !matches!(i.role, crate::jobs::Role::Dataset | crate::jobs::Role::Mask))
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
        let brief = super::views::view(app, r).brief;
        f.render_widget(
            Paragraph::new(summary(r, brief, &app.theme)).wrap(Wrap { trim: true }),
            meta,
        );
    }
}

/// A stylize or texture run's summary, rollbacks and inputs.
fn gatys_detail(r: &Run, app: &App) -> Vec<Line<'static>> {
    // A Gatys run's losses are its brief.
    let mut lines = summary(r, None, &app.theme);
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
