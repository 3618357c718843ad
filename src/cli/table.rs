//! Plain text tables for list commands.

use std::io::Write;

use crate::jobs::summary::Headline;

pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; control characters in a cell (a newline in a file name)
    /// are escaped so each row stays one line.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| escape(c)).collect());
    }

    /// Prints with columns padded to their widest cell; a closed pipe is fine.
    pub fn print(&self) {
        let n = self.header.len();
        let mut width = vec![0; n];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (i, cell) in r.iter().enumerate().take(n) {
                width[i] = width[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for r in std::iter::once(&self.header).chain(&self.rows) {
            let line: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c:<w$}", w = width[i]))
                .collect();
            out += line.join("  ").trim_end();
            out.push('\n');
        }
        let _ = std::io::stdout().lock().write_all(out.as_bytes());
    }
}

/// `c` with control characters written as escapes (`\n`, `\t`, `\u{1b}`).
pub fn escape(c: &str) -> String {
    if !c.chars().any(char::is_control) {
        return c.to_string();
    }
    c.chars()
        .map(|ch| match ch {
            '\n' => "\\n".to_string(),
            '\r' => "\\r".to_string(),
            '\t' => "\\t".to_string(),
            ch if ch.is_control() => ch.escape_unicode().to_string(),
            ch => ch.to_string(),
        })
        .collect()
}

/// A run's headline figure as lists print it: a count as an integer, seconds
/// with one decimal, a loss in scientific notation.
pub fn headline(h: &Headline) -> String {
    match h.label {
        "photos" | "frames" => format!("{} {}", h.label, h.value),
        "seconds" => format!("{} {:.1}", h.label, h.value),
        _ => format!("{} {:.4e}", h.label, h.value),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_in_cells_are_escaped() {
        let mut t = super::Table::new(&["name"]);
        t.row(vec!["a\nb\tc\u{1b}[31m".into()]);
        assert_eq!(t.rows[0][0], "a\\nb\\tc\\u{1b}[31m");
        assert_eq!(super::escape("plain"), "plain");
    }
}
