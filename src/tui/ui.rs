//! Drawing: the frame layout (tabs, pane, hints, message) and overlays. Draw
//! functions read the state; the images they need are collected in `want` and
//! requested by the loop after the frame.

use std::path::Path;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Row, Table, Tabs, Wrap};
use ratatui::Frame;
use ratatui_image::Image;

use super::app::{App, Mode};
use super::images::ImageKey;
use super::panes;
use super::panes::InputPurpose;
use super::tab::Tab;

/// Draws the whole frame.
pub fn draw(f: &mut Frame, app: &App, want: &mut Vec<ImageKey>) {
    let area = f.area();
    let t = &app.theme;
    // The text colour under everything; widgets only add to it.
    f.render_widget(Block::default().style(Style::default().fg(t.text)), area);
    if area.width < 40 || area.height < 12 {
        f.render_widget(
            Paragraph::new("atelier needs at least 40×12; enlarge the terminal (q quits)")
                .wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    let [top, body, hints, msg] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    top_bar(f, top, app);
    match app.tab {
        Tab::Library => panes::library::draw(f, body, app, want),
        Tab::Compose => panes::compose::draw(f, body, app),
        Tab::Queue => panes::queue::draw(f, body, app),
        Tab::Live => panes::live::draw(f, body, app, want),
        Tab::History => panes::history::draw(f, body, app, want),
        Tab::Watch => panes::watch::draw(f, body, app),
    }
    f.render_widget(footer(app, hints.width), hints);
    let message = match &app.mode {
        Mode::Input { purpose, buffer } => {
            let what = match purpose {
                InputPurpose::LibraryFilter | InputPurpose::HistoryFilter => "filter".to_string(),
                InputPurpose::AddPath => "add image or folder".to_string(),
                InputPurpose::EditField(f) => app.compose.label(*f),
            };
            Line::from(vec![
                Span::styled(format!("{what}: "), t.accent()),
                Span::raw(format!("{buffer}▏")),
                Span::styled("   Enter ok · Esc cancel", t.muted()),
            ])
        }
        Mode::ConfirmDelete(id) => {
            Line::from(format!("delete run {id} and its files? y/N")).style(t.warn())
        }
        Mode::ConfirmCancel(id) => Line::from(format!("cancel run {id}? y/N")).style(t.warn()),
        _ => match &app.message {
            Some((m, at)) if at.elapsed().as_secs() < 8 => {
                let style = if m.starts_with("error") {
                    t.error()
                } else {
                    Style::default()
                };
                Line::from(m.clone()).style(style)
            }
            _ => Line::from(""),
        },
    };
    f.render_widget(message, msg);
    if app.mode == Mode::Help {
        help(f, area, app);
    }
}

/// The tab bar, and the worker's status in what room it leaves (all of it,
/// the counts only, or nothing): every tab stays visible at 80 columns.
fn top_bar(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let titles: Vec<Line> = Tab::ALL
        .iter()
        .enumerate()
        .map(|(i, t)| Line::from(format!("{} {}", i + 1, t.title())))
        .collect();
    // Each title is padded by a space either side; one divider between.
    let tabs_width: u16 =
        titles.iter().map(|l| l.width() as u16 + 2).sum::<u16>() + Tab::ALL.len() as u16 - 1;
    let [tabs_area, status_area] =
        Layout::horizontal([Constraint::Length(tabs_width), Constraint::Min(0)]).areas(area);
    f.render_widget(
        Tabs::new(titles)
            .select(app.tab.index())
            .highlight_style(t.accent().add_modifier(Modifier::BOLD | Modifier::REVERSED)),
        tabs_area,
    );
    let running = app
        .snap
        .queue
        .iter()
        .filter(|r| r.status == crate::queue::Status::Running)
        .count();
    let queued = app.snap.queue.len() - running;
    // Glyphs every common monospace font has (DejaVu Sans Mono lacks ⏸).
    let counts = format!("▶{running} ≡{queued}");
    let room = status_area.width as usize;
    let status = [format!("{}  {counts}", app.worker_status), counts]
        .into_iter()
        .find(|s| Line::from(s.as_str()).width() < room)
        .unwrap_or_default();
    f.render_widget(
        Line::from(status).right_aligned().style(t.muted()),
        status_area,
    );
}

/// The key hints of the pane, as many whole hints as fit in `width`.
fn footer(app: &App, width: u16) -> Line<'static> {
    let t = &app.theme;
    let mut spans = vec![
        Span::styled(" ? ", t.accent().add_modifier(Modifier::REVERSED)),
        Span::raw(" help  "),
    ];
    let mut used: usize = spans.iter().map(Span::width).sum();
    for (k, h) in app.keymap.hints(app.context()).into_iter().take(6) {
        let key = Span::styled(
            format!(" {k} "),
            Style::default().add_modifier(Modifier::REVERSED),
        );
        let help = Span::raw(format!(" {h}  "));
        // The trailing spaces may fall off the edge; words may not.
        let need = key.width() + help.width() - 2;
        if used + need > width as usize {
            break;
        }
        used += key.width() + help.width();
        spans.push(key);
        spans.push(help);
    }
    Line::from(spans)
}

/// The help overlay, generated from the keymap.
fn help(f: &mut Frame, area: Rect, app: &App) {
    let w = area.width.saturating_sub(4).min(76);
    let h = area.height.saturating_sub(2);
    let r = Rect::new(area.x + (area.width - w) / 2, area.y + 1, w, h);
    f.render_widget(Clear, r);
    let ctx = app.context();
    let mut rows = app.keymap.help(Some(ctx));
    // The pane's own keys first: they are what the user is looking for.
    rows.sort_by_key(|row| row.context != ctx);
    // Borders and header take three rows; the scroll stops at the last key.
    let visible = h.saturating_sub(3) as usize;
    app.help_rows.set(visible);
    let top = app.help_scroll.min(rows.len().saturating_sub(visible));
    let rows: Vec<Row> = rows
        .into_iter()
        .skip(top)
        .map(|row| {
            Row::new(vec![
                row.context.title().to_string(),
                row.keys,
                row.help.to_string(),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(11),
            Constraint::Length(16),
            Constraint::Min(20),
        ],
    )
    .header(
        Row::new(vec!["where", "keys", "does"])
            .style(Style::default().add_modifier(Modifier::BOLD)),
    )
    .block(
        Block::bordered()
            .title(" keys · j/k scroll · Esc closes ")
            .border_style(app.theme.accent()),
    );
    f.render_widget(table, r);
}

/// Draws the image at `path` scaled into `area`, or a placeholder while it loads.
pub fn image(f: &mut Frame, area: Rect, path: &Path, app: &App, want: &mut Vec<ImageKey>) {
    if area.width < 2 || area.height < 2 {
        return;
    }
    let key = ImageKey::new(path, area.width, area.height);
    match app.images.get(&key) {
        Some(Ok(p)) => f.render_widget(Image::new(p), area),
        Some(Err(e)) => f.render_widget(
            Paragraph::new(format!("cannot show image: {e}"))
                .wrap(Wrap { trim: true })
                .style(app.theme.muted()),
            area,
        ),
        None => {
            // A new snapshot of the same file: the previous one stays until
            // this one is decoded (no blank frame, no sixel flicker).
            match app.images.previous(&key) {
                Some(p) => f.render_widget(Image::new(p), area),
                None => f.render_widget(
                    Paragraph::new("loading image…").style(app.theme.muted()),
                    area,
                ),
            }
            want.push(key);
        }
    }
}

/// [`image`], or a short muted note where a run has no image yet.
pub fn image_or_none(
    f: &mut Frame,
    area: Rect,
    path: Option<&Path>,
    app: &App,
    want: &mut Vec<ImageKey>,
) {
    match path {
        Some(p) => image(f, area, p, app, want),
        None => f.render_widget(
            Paragraph::new("no preview yet").style(app.theme.muted()),
            area,
        ),
    }
}
