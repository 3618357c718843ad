//! Colours of the UI, from the config's `[tui.theme]`. Draw code asks the
//! theme for a role (accent, error, the chart's series…), never for a colour.

use std::str::FromStr;

use ratatui::style::{Color, Style};
use serde::Deserialize;

/// `[tui.theme]` as written: colour names, `#rrggbb` or a 0–255 palette index.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThemeConfig {
    pub accent: String,
    pub text: String,
    pub muted: String,
    pub error: String,
    pub ok: String,
    pub warn: String,
    pub chart_style: String,
    pub chart_content: String,
    pub chart_total: String,
    pub chart_best: String,
    pub chart_rollback: String,
}

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
#[error("{key}: '{value}' is not a colour (use a name such as cyan, light-red or dark-gray, reset for the terminal's own, #rrggbb, or a palette index 0-255)")]
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
