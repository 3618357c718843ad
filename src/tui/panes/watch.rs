//! Watch: drop folders (arrives with the drop-folder feature).

use ratatui::layout::Rect;
use ratatui::style::Stylize;
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

pub fn draw(f: &mut Frame, area: Rect) {
    f.render_widget(
        Paragraph::new("No drop folders yet. Drop folders (`[[watch]]` rules) will be shown here with their state and recent events.")
            .wrap(Wrap { trim: true })
            .dim()
            .block(Block::bordered().title(" Watch ")),
        area,
    );
}
