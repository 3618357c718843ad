//! Colours of the UI, from the config's `[tui.theme]` (kept there as raw
//! strings, so the config does not depend on the TUI; parsed and checked
//! here). Draw code asks the theme for a role (accent, error, the chart's
//! series…), never for a colour.

use std::str::FromStr;

use ratatui::style::{Color, Style};

pub use crate::config::ThemeConfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    /// Titles, the selected tab, the chosen inputs, the focused border.
    pub accent: Color,
    /// Everything else that is text.
    pub text: Color,
    /// Hints, placeholders, finished-but-not-done runs.
    pub muted: Color,
    pub error: Color,
    /// Done runs, a memory estimate that fits.
    pub ok: Color,
    /// Running runs, questions, paused rules.
    pub warn: Color,
    pub chart_style: Color,
    pub chart_content: Color,
    pub chart_total: Color,
    pub chart_best: Color,
    pub chart_rollback: Color,
}

impl Default for Theme {
    /// The built-in `[tui.theme]` (a test keeps the two the same).
    fn default() -> Self {
        Self {
            accent: Color::Cyan,
            text: Color::Reset,
            muted: Color::DarkGray,
            error: Color::Red,
            ok: Color::Green,
            warn: Color::Yellow,
            chart_style: Color::Magenta,
            chart_content: Color::Cyan,
            chart_total: Color::Yellow,
            chart_best: Color::Green,
            chart_rollback: Color::Red,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("[tui.theme] {key}: '{value}' is not a colour (use a name such as cyan, light-red or dark-gray, reset for the terminal's own, #rrggbb, or a palette index 0-255)")]
pub struct ThemeError {
    pub key: &'static str,
    pub value: String,
}

impl Theme {
    pub fn new(c: &ThemeConfig) -> Result<Self, ThemeError> {
        let parse = |key: &'static str, value: &str| {
            Color::from_str(value.trim()).map_err(|_| ThemeError {
                key,
                value: value.to_string(),
            })
        };
        Ok(Self {
            accent: parse("accent", &c.accent)?,
            text: parse("text", &c.text)?,
            muted: parse("muted", &c.muted)?,
            error: parse("error", &c.error)?,
            ok: parse("ok", &c.ok)?,
            warn: parse("warn", &c.warn)?,
            chart_style: parse("chart_style", &c.chart_style)?,
            chart_content: parse("chart_content", &c.chart_content)?,
            chart_total: parse("chart_total", &c.chart_total)?,
            chart_best: parse("chart_best", &c.chart_best)?,
            chart_rollback: parse("chart_rollback", &c.chart_rollback)?,
        })
    }

    pub fn fg(c: Color) -> Style {
        Style::default().fg(c)
    }

    pub fn accent(&self) -> Style {
        Self::fg(self.accent)
    }

    pub fn muted(&self) -> Style {
        Self::fg(self.muted)
    }

    pub fn error(&self) -> Style {
        Self::fg(self.error)
    }

    pub fn warn(&self) -> Style {
        Self::fg(self.warn)
    }

    pub fn ok(&self) -> Style {
        Self::fg(self.ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// A wrong colour is an error naming the key when the TUI reads the config.
    #[test]
    fn theme_colours_parse_and_a_wrong_name_is_a_clear_error() {
        let c = Config::load(None, false).unwrap();
        assert_eq!(
            Theme::new(&c.tui.theme).unwrap(),
            Theme::default(),
            "the built-in [tui.theme] and Theme::default() agree"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "[tui.theme]\naccent = \"light-magenta\"\nchart_total = \"#ff8800\"\nmuted = \"244\"\n",
        )
        .unwrap();
        let t = Theme::new(&Config::load(Some(&p), true).unwrap().tui.theme).unwrap();
        assert_eq!(t.accent, Color::LightMagenta);
        assert_eq!(t.chart_total, Color::Rgb(0xff, 0x88, 0x00));
        assert_eq!(t.muted, Color::Indexed(244));
        std::fs::write(&p, "[tui.theme]\nerror = \"redd\"\n").unwrap();
        let c = Config::load(Some(&p), true).unwrap();
        let e = Theme::new(&c.tui.theme).unwrap_err().to_string();
        assert!(
            e.contains("[tui.theme] error: 'redd' is not a colour"),
            "{e}"
        );
        std::fs::write(&p, "[tui.theme]\naccnet = \"red\"\n").unwrap();
        let e = Config::load(Some(&p), true).unwrap_err().to_string();
        assert!(e.contains("accnet"), "{e}");
    }
}
