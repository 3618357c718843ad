//! Library: the content photos and style paintings, with a preview.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

use std::path::{Path, PathBuf};

use super::{move_selection, Effect, InputPurpose};
use crate::tui::app::App;
use crate::tui::images::ImageKey;
use crate::tui::keymap::Action;
pub use crate::tui::lib_item::{load_library, LibItem};
use crate::tui::ui::image;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Contents,
    Styles,
}

#[derive(Default)]
pub struct LibraryState {
    pub contents: Vec<LibItem>,
    pub styles: Vec<LibItem>,
    pub focus_styles: bool,
    pub sel: [usize; 2],
    pub filter: String,
}

impl LibraryState {
    pub fn side(&self) -> Side {
        if self.focus_styles {
            Side::Styles
        } else {
            Side::Contents
        }
    }

    /// The visible (filtered) items of a side.
    pub fn visible(&self, side: Side) -> Vec<&LibItem> {
        let items = match side {
            Side::Contents => &self.contents,
            Side::Styles => &self.styles,
        };
        items.iter().filter(|i| i.matches(&self.filter)).collect()
    }

    pub fn selected(&self) -> Option<&LibItem> {
        let side = self.side();
        let idx = self.sel[side as usize];
        self.visible(side).get(idx).copied()
    }
}

impl LibraryState {
    /// Keys → what the pane does itself, or asks of the app.
    pub fn handle(&mut self, action: Action) -> Option<Effect> {
        let side = self.side();
        let n = self.visible(side).len();
        if move_selection(&mut self.sel[side as usize], n, action) {
            return None;
        }
        match action {
            Action::Left => self.focus_styles = false,
            Action::Right => self.focus_styles = true,
            Action::Back => self.filter.clear(),
            Action::Filter => {
                return Some(Effect::Input(
                    InputPurpose::LibraryFilter,
                    self.filter.clone(),
                ))
            }
            Action::AddPath => return Some(Effect::Input(InputPurpose::AddPath, String::new())),
            Action::UseAsContent if side == Side::Contents => {
                return self.selected().cloned().map(Effect::UseContent)
            }
            Action::UseAsContent | Action::ToggleStyle if side == Side::Styles => {
                return self.selected().cloned().map(Effect::ToggleStyle)
            }
            _ => {}
        }
        None
    }

    /// The filter as typed so far (it applies as you type).
    pub fn set_filter(&mut self, text: &str) {
        self.filter = text.to_string();
        self.sel = [0, 0];
    }

    /// Adds an image (or every image in a folder) to the side in focus;
    /// returns what to say.
    pub fn add_path(&mut self, text: &str) -> String {
        let path = PathBuf::from(shellexpand_home(text));
        let mut found = Vec::new();
        if path.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                let mut files: Vec<PathBuf> = entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| is_image_name(p))
                    .collect();
                files.sort();
                found.extend(files.iter().map(|p| LibItem::from_path(p)));
            }
        } else if path.is_file() {
            found.push(LibItem::from_path(&path));
        } else {
            return format!("{}: no such file or folder", path.display());
        }
        if found.is_empty() {
            return format!("{}: no images (png, jpg, webp, tiff, bmp)", path.display());
        }
        let n = found.len();
        let side = if self.focus_styles {
            &mut self.styles
        } else {
            &mut self.contents
        };
        for item in found.into_iter().rev() {
            side.insert(0, item);
        }
        self.sel[self.side() as usize] = 0;
        format!("added {n} image(s)")
    }
}

fn is_image_name(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        matches!(
            e.to_lowercase().as_str(),
            "png" | "jpg" | "jpeg" | "webp" | "tif" | "tiff" | "bmp"
        )
    })
}

fn shellexpand_home(s: &str) -> String {
    match (s.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => s.to_string(),
    }
}

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
