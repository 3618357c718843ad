//! Library: the content photos, the style paintings and the trained models,
//! with a preview.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::Line;
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

use std::path::{Path, PathBuf};

use super::{move_selection, Effect, InputPurpose};
use crate::tui::app::App;
use crate::tui::browse::Shown;
use crate::tui::images::ImageKey;
use crate::tui::keymap::Action;
use crate::tui::lib_item::user_path;
pub use crate::tui::lib_item::{load_library, load_models, LibItem, ModelItem};
use crate::tui::ui::image;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Side {
    #[default]
    Contents,
    Styles,
    Models,
}

impl Side {
    /// The column to the right (`right`) or left, stopping at the ends.
    fn step(self, right: bool) -> Side {
        match (self, right) {
            (Side::Contents, true) | (Side::Models, false) => Side::Styles,
            (Side::Styles, true) | (Side::Models, true) => Side::Models,
            _ => Side::Contents,
        }
    }
}

#[derive(Default)]
pub struct LibraryState {
    pub contents: Vec<LibItem>,
    pub styles: Vec<LibItem>,
    pub models: Vec<ModelItem>,
    pub focus: Side,
    pub sel: [usize; 3],
    pub filter: String,
}

impl LibraryState {
    pub fn side(&self) -> Side {
        self.focus
    }

    /// The visible (filtered) images of a side (none for the models side).
    pub fn visible(&self, side: Side) -> Vec<&LibItem> {
        let items = match side {
            Side::Contents => &self.contents,
            Side::Styles => &self.styles,
            Side::Models => return Vec::new(),
        };
        items.iter().filter(|i| i.matches(&self.filter)).collect()
    }

    /// The visible (filtered) models.
    pub fn visible_models(&self) -> Vec<&ModelItem> {
        self.models
            .iter()
            .filter(|m| m.matches(&self.filter))
            .collect()
    }

    fn count(&self, side: Side) -> usize {
        match side {
            Side::Models => self.visible_models().len(),
            _ => self.visible(side).len(),
        }
    }

    /// The highlighted image (photos and paintings sides).
    pub fn selected(&self) -> Option<&LibItem> {
        let side = self.side();
        let idx = self.sel[side as usize];
        self.visible(side).get(idx).copied()
    }

    /// The highlighted model (models side).
    pub fn selected_model(&self) -> Option<&ModelItem> {
        if self.focus != Side::Models {
            return None;
        }
        self.visible_models()
            .get(self.sel[Side::Models as usize])
            .copied()
    }

    /// Replaces the models (after a training run finished, say), keeping the
    /// cursor on the same model where it is still there.
    pub fn set_models(&mut self, models: Vec<ModelItem>) {
        let keep = self.selected_model().map(|m| m.path.clone());
        self.models = models;
        let i = Side::Models as usize;
        self.sel[i] = keep
            .and_then(|p| self.visible_models().iter().position(|m| m.path == p))
            .unwrap_or_else(|| self.sel[i].min(self.count(Side::Models).saturating_sub(1)));
    }
}

impl LibraryState {
    /// Keys → what the pane does itself, or asks of the app.
    pub fn handle(&mut self, action: Action) -> Option<Effect> {
        let side = self.side();
        let n = self.count(side);
        if move_selection(&mut self.sel[side as usize], n, action) {
            return None;
        }
        match action {
            Action::Left => self.focus = side.step(false),
            Action::Right => self.focus = side.step(true),
            Action::Back => self.filter.clear(),
            Action::Filter => {
                return Some(Effect::Input(
                    InputPurpose::LibraryFilter,
                    self.filter.clone(),
                ))
            }
            Action::AddPath if side == Side::Models => {
                return Some(Effect::Say(
                    "models come from training (Compose: kind train) or `atelier models import`"
                        .into(),
                ))
            }
            Action::AddPath => return Some(Effect::Input(InputPurpose::AddPath, String::new())),
            Action::UseAsContent | Action::ToggleStyle if side == Side::Models => {
                return self.selected_model().cloned().map(Effect::UseModel)
            }
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
        self.sel = [0, 0, 0];
    }

    /// Adds an image (or every image in a folder) to the side in focus;
    /// returns what to say.
    pub fn add_path(&mut self, text: &str) -> String {
        let path = user_path(text);
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
        let side = match self.focus {
            Side::Styles => &mut self.styles,
            _ => &mut self.contents,
        };
        for item in found.into_iter().rev() {
            side.insert(0, item);
        }
        self.sel[self.side() as usize] = 0;
        format!("added {n} image(s)")
    }
}

pub(crate) fn is_image_name(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        matches!(
            e.to_lowercase().as_str(),
            "png" | "jpg" | "jpeg" | "webp" | "tif" | "tiff" | "bmp"
        )
    })
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, want: &mut Vec<ImageKey>) {
    let [left, mid, models, right] = Layout::horizontal([
        Constraint::Percentage(22),
        Constraint::Percentage(28),
        Constraint::Percentage(18),
        Constraint::Percentage(32),
    ])
    .areas(area);
    for (side, rect, title) in [
        (Side::Contents, left, "Photos"),
        (Side::Styles, mid, "Paintings"),
        (Side::Models, models, "Models"),
    ] {
        let focused = app.lib.side() == side;
        // (name, chosen in Compose) per row.
        let rows: Vec<(String, bool)> = match side {
            Side::Contents => app
                .lib
                .visible(side)
                .iter()
                .map(|i| {
                    let chosen = app
                        .compose
                        .content
                        .as_ref()
                        .is_some_and(|c| c.path == i.path);
                    (i.name.clone(), chosen)
                })
                .collect(),
            Side::Styles => app
                .lib
                .visible(side)
                .iter()
                .map(|i| {
                    let chosen = app.compose.styles.iter().any(|s| s.item.path == i.path);
                    (i.name.clone(), chosen)
                })
                .collect(),
            Side::Models => app
                .lib
                .visible_models()
                .iter()
                .map(|m| {
                    let chosen = app.compose.model.as_ref().is_some_and(|c| c.path == m.path);
                    let name = if m.error.is_some() {
                        format!("{} (unreadable)", m.name)
                    } else {
                        m.name.clone()
                    };
                    (name, chosen)
                })
                .collect(),
        };
        let items: Vec<ListItem> = rows
            .into_iter()
            .map(|(name, chosen)| {
                let mark = if chosen { "● " } else { "  " };
                let mut line = Line::from(format!("{mark}{name}"));
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
            let text = match (app.lib.filter.is_empty(), side) {
                (false, _) => "nothing matches the filter (Esc clears it)",
                (true, Side::Models) => {
                    "none yet: train one (Compose, kind train) or `atelier models import`"
                }
                (true, _) => {
                    "empty: run `make setup` to fill the bundled library, or press a to add images"
                }
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
    if let Some(m) = app.lib.selected_model() {
        draw_model(f, inner, app, m, want);
        return;
    }
    match app.lib.selected() {
        Some(item) => {
            // With a photo chosen, a painting is previewed as that photo in its style.
            let styled = app.browse_key().map(|k| (app.browse.done.get(&k), k));
            let meta_rows = if styled.is_some() { 5 } else { 4 };
            let [img, meta] =
                Layout::vertical([Constraint::Min(3), Constraint::Length(meta_rows)]).areas(inner);
            let shown = match &styled {
                Some((Some(Shown { result: Ok(p), .. }), _)) => p.as_path(),
                _ => item.path.as_path(),
            };
            image(f, img, shown, app, want);
            let mut lines = vec![Line::from(item.title.clone()).bold()];
            if let (Some((state, key)), Some(model)) = (&styled, &app.browse_model) {
                let photo = LibItem::from_path(&key.content).name;
                lines.push(match state {
                    Some(Shown {
                        result: Ok(_),
                        stage,
                    }) => Line::from(format!("{photo} in this style ({})", stage.caption(model)))
                        .fg(app.theme.accent),
                    Some(Shown { result: Err(e), .. }) => {
                        Line::from(format!("{model}: {e}")).fg(app.theme.error)
                    }
                    None => Line::from(format!("making {photo} in this style ({model})…"))
                        .style(app.theme.muted()),
                });
            }
            // An undated photo is "NASA", not "NASA ·".
            let by: Vec<&str> = [item.artist.as_str(), item.date.as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect();
            if !by.is_empty() {
                lines.push(Line::from(by.join(" · ")));
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

/// A model's preview: the painting it was trained on, and how.
fn draw_model(f: &mut Frame, area: Rect, app: &App, m: &ModelItem, want: &mut Vec<ImageKey>) {
    let mut lines = vec![Line::from(format!("{} ({})", m.name, m.origin)).bold()];
    match &m.error {
        Some(e) => lines.push(Line::from(e.clone()).fg(app.theme.error)),
        None => {
            lines.extend(m.about.iter().map(|a| Line::from(a.clone())));
            let names: Vec<String> = m
                .styles
                .iter()
                .map(|p| {
                    app.lib
                        .styles
                        .iter()
                        .find(|s| &s.path == p)
                        .map_or_else(|| LibItem::from_path(p).name, |s| s.name.clone())
                })
                .collect();
            if !names.is_empty() {
                lines.push(Line::from(format!("style: {}", names.join(", "))));
            }
            lines.push(Line::from("Enter: apply it in Compose").style(app.theme.muted()));
        }
    }
    // Room for each line wrapped once.
    let [img, meta] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(2 * lines.len() as u16),
    ])
    .areas(area);
    match m.styles.first() {
        Some(p) => image(f, img, p, app, want),
        None => f.render_widget(
            Paragraph::new("(no style image recorded)").style(app.theme.muted()),
            img,
        ),
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), meta);
}
