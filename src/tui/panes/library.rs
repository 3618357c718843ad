//! Library: the content photos and style paintings, with a preview.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

use crate::tui::app::{App, Side};
use crate::tui::images::ImageKey;
use crate::tui::ui::image;

pub fn draw(f: &mut Frame, area: Rect, app: &App, want: &mut Vec<ImageKey>) {
    let [left, mid, right] = Layout::horizontal([
        Constraint::Percentage(25),
        Constraint::Percentage(35),
        Constraint::Percentage(40),
    ])
    .areas(area);
    for (side, rect, title) in [
        (Side::Contents, left, "Photos"),
        (Side::Styles, mid, "Paintings"),
    ] {
        let focused = app.lib.side() == side;
        let items: Vec<ListItem> = app
            .lib
            .visible(side)
            .iter()
            .map(|i| {
                let chosen = match side {
                    Side::Contents => app
                        .compose
                        .content
                        .as_ref()
                        .is_some_and(|c| c.path == i.path),
                    Side::Styles => app.compose.styles.iter().any(|s| s.item.path == i.path),
                };
                let mark = if chosen { "● " } else { "  " };
                let mut line = Line::from(format!("{mark}{}", i.name));
                if chosen {
                    line = line.fg(app.theme.accent);
                }
                ListItem::new(line)
            })
            .collect();
        let count = items.len();
        let filter = if app.lib.filter.is_empty() {
            String::new()
        } else {
            format!(" /{}", app.lib.filter)
        };
        let block = Block::bordered()
            .title(format!(" {title} ({count}){filter} "))
            .border_style(if focused {
                app.theme.accent()
            } else {
                Style::default()
            });
        let empty = count == 0;
        let list = List::new(items)
            .block(block)
            .highlight_style(Style::default().add_modifier(Modifier::REVERSED));
        let mut state = ListState::default().with_selected(if focused && !empty {
            Some(app.lib.sel[side as usize])
        } else {
            None
        });
        f.render_stateful_widget(list, rect, &mut state);
        if empty {
            let inner = rect.inner(ratatui::layout::Margin::new(2, 2));
            let text = if app.lib.filter.is_empty() {
                "empty: run `make setup` to fill the bundled library, or press a to add images"
            } else {
                "nothing matches the filter (Esc clears it)"
            };
            f.render_widget(
                Paragraph::new(text)
                    .wrap(Wrap { trim: true })
                    .style(app.theme.muted()),
                inner,
            );
        }
    }
    let block = Block::bordered().title(" Preview ");
    let inner = block.inner(right);
    f.render_widget(block, right);
    match app.lib.selected() {
        Some(item) => {
            let [img, meta] =
                Layout::vertical([Constraint::Min(3), Constraint::Length(4)]).areas(inner);
            image(f, img, &item.path, app, want);
            let mut lines = vec![Line::from(item.title.clone()).bold()];
            if !item.artist.is_empty() {
                lines.push(Line::from(format!("{} · {}", item.artist, item.date)));
            }
            if !item.licence.is_empty() {
                lines.push(Line::from(item.licence.clone()).style(app.theme.muted()));
            }
            f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), meta);
        }
        None => f.render_widget(
            Paragraph::new("nothing selected").style(app.theme.muted()),
            inner,
        ),
    }
}
