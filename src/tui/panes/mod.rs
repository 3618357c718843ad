//! One file per pane; each draws from the app state.

pub mod compose;
pub mod history;
pub mod library;
pub mod live;
pub mod queue;
pub mod watch;

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{Block, Cell, Row};
use ratatui::Frame;

use crate::queue::{Run, Status};
use crate::tui::app::App;
use crate::tui::chart;
use crate::tui::images::ImageKey;
use crate::tui::theme::Theme;
use crate::tui::ui::image;

/// A run's loss chart in `chart_area` and its image in a block titled
/// `image_title` filling `image_area`: the Live pane and a History detail
/// show a run the same way.
pub fn chart_and_image(
    f: &mut Frame,
    chart_area: Rect,
    image_area: Rect,
    image_title: &str,
    app: &App,
    r: &Run,
    want: &mut Vec<ImageKey>,
) {
    let (samples, rollbacks) = app.focus_of(r.id);
    chart::draw(
        f,
        chart_area,
        " losses (log scale) ",
        samples,
        rollbacks,
        &app.theme,
    );
    let block = Block::bordered().title(image_title.to_string());
    let inner = block.inner(image_area);
    f.render_widget(block, image_area);
    image(f, inner, &live::run_image(app, r), app, want);
}

/// Colour of a status word.
pub fn status_style(s: Status, t: &Theme) -> Style {
    match s {
        Status::Queued => Style::default(),
        Status::Running => t.warn(),
        Status::Done => t.ok(),
        Status::Failed => t.error(),
        Status::Cancelled | Status::Interrupted => t.muted(),
    }
}

/// A table row summarising a run.
pub fn run_row(r: &Run, t: &Theme) -> Row<'static> {
    Row::new(run_cells(r, t))
}

/// The style names of a run: one, or a blend as `a + b`.
pub fn style_names(r: &Run) -> String {
    let names: Vec<String> = r
        .inputs
        .iter()
        .filter(|i| i.role == "style")
        .map(crate::queue::Input::display_name)
        .collect();
    names.join(" + ")
}

/// The cells of [`run_row`]: id, status, content, style, size, steps, loss.
pub fn run_cells(r: &Run, t: &Theme) -> Vec<Cell<'static>> {
    vec![
        Cell::from(r.id.to_string()),
        Cell::from(r.status.to_string()).style(status_style(r.status, t)),
        Cell::from(r.input_name("content")),
        Cell::from(style_names(r)),
        Cell::from(format!("{}", r.params().size)),
        Cell::from(format!("{}", r.params().steps)),
        Cell::from(
            r.losses()
                .map(|l| format!("{:.3e}", l.total))
                .unwrap_or_default(),
        ),
    ]
}
