//! Curves on a log scale. ratatui's Chart has no log axis, so the values are
//! plotted as log10 and the y labels name the decades. The chart knows nothing
//! of losses: a view hands it any list of named, coloured series.

use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType};
use ratatui::Frame;

/// One named curve: points (x, value) in data units; non-positive and
/// non-finite values are skipped on the log axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub name: String,
    pub color: Color,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    pub fn new(name: impl Into<String>, color: Color, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            color,
            points,
        }
    }
}

/// Vertical lines at `xs` (rollbacks), with their legend name and colour.
#[derive(Clone, Debug, PartialEq)]
pub struct Verticals {
    pub name: String,
    pub color: Color,
    pub xs: Vec<f64>,
}

/// What a chart shows besides its curves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Marks {
    /// Highlighted points, drawn as dots (in the legend even before there
    /// is a point).
    pub best: Option<Series>,
    pub lines: Option<Verticals>,
}

/// Points (x, log10 value); non-positive values are skipped.
pub fn log_points(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    points
        .iter()
        .filter(|p| p.1 > 0.0 && p.1.is_finite())
        .map(|&(x, v)| (x, v.log10()))
        .collect()
}

/// Decade bounds covering the data: (floor, ceil) of log10, at least one apart.
pub fn decade_bounds(series: &[&[(f64, f64)]]) -> (f64, f64) {
    let ys = series.iter().flat_map(|s| s.iter().map(|p| p.1));
    let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
        (lo.min(y), hi.max(y))
    });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let (lo, hi) = (lo.floor(), hi.ceil());
    if hi <= lo {
        (lo, lo + 1.0)
    } else {
        (lo, hi)
    }
}

/// The y labels for decades `lo..=hi` on an axis `rows` high: every k-th
/// decade so that no two labels share a row (ratatui places labels evenly and
/// draws a later one over an earlier one, which turned `1e-21` into `1e21`),
/// all right-aligned to one width. `hi` is raised to a whole number of steps
/// so the evenly placed labels sit on their decades; returns (hi, labels).
pub fn decade_labels(lo: i32, hi: i32, rows: u16) -> (i32, Vec<String>) {
    let span = (hi - lo).max(1);
    let fit = i32::from(rows.max(2)) - 1;
    let step = (span + fit - 1) / fit;
    let n = (span + step - 1) / step;
    let hi = lo + n * step;
    let names: Vec<String> = (0..=n).map(|i| format!("1e{}", lo + i * step)).collect();
    let w = names.iter().map(String::len).max().unwrap_or(0);
    (hi, names.into_iter().map(|s| format!("{s:>w$}")).collect())
}

/// Vertical lines (x, lo)–(x, hi) at each x.
pub fn vertical_lines(xs: &[f64], lo: f64, hi: f64) -> Vec<[(f64, f64); 2]> {
    xs.iter().map(|&x| [(x, lo), (x, hi)]).collect()
}

/// Draws `series` on a log scale over x in `[0, last x]`, with `marks`, and a
/// one-line legend in the title.
pub fn draw(
    f: &mut Frame,
    area: Rect,
    title: &str,
    x_title: &str,
    series: &[Series],
    marks: &Marks,
) {
    let logs: Vec<Vec<(f64, f64)>> = series.iter().map(|s| log_points(&s.points)).collect();
    let refs: Vec<&[(f64, f64)]> = logs.iter().map(Vec::as_slice).collect();
    let (lo, hi) = decade_bounds(&refs);
    // Inside the border, above the x axis line, its labels and its title.
    let rows = area.height.saturating_sub(5);
    let (hi_i, decades) = decade_labels(lo as i32, hi as i32, rows);
    let hi = f64::from(hi_i);
    let line_xs = marks.lines.as_ref().map_or(&[][..], |l| l.xs.as_slice());
    let max_x = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .chain(line_xs.iter().copied())
        .fold(1.0_f64, f64::max);
    let line = |name: String, color, data| {
        Dataset::default()
            .name(name)
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(color))
            .data(data)
    };
    let verticals = vertical_lines(line_xs, lo, hi);
    let best = marks
        .best
        .as_ref()
        .map(|b| log_points(&b.points))
        .unwrap_or_default();
    // Vertical marks first, so the curves are drawn over them.
    let mut datasets: Vec<Dataset> = Vec::new();
    if let Some(v) = &marks.lines {
        datasets.extend(verticals.iter().map(|m| line(v.name.clone(), v.color, m)));
    }
    for (s, pts) in series.iter().zip(&logs) {
        datasets.push(line(s.name.clone(), s.color, pts));
    }
    if let Some(b) = &marks.best {
        datasets.push(
            Dataset::default()
                .name(b.name.clone())
                .marker(Marker::Dot)
                .graph_type(GraphType::Scatter)
                .style(Style::default().fg(b.color))
                .data(&best),
        );
    }
    let key = |sym: &str, name: &str, color| {
        [
            Span::styled(sym.to_string(), Style::default().fg(color)),
            Span::raw(format!("{name} ")),
        ]
    };
    let mut legend: Vec<Span> = Vec::new();
    for s in series {
        legend.extend(key("━", &s.name, s.color));
    }
    if let Some(b) = &marks.best {
        legend.extend(key("•", &b.name, b.color));
    }
    if let Some(v) = marks.lines.as_ref().filter(|v| !v.xs.is_empty()) {
        legend.extend(key("┃", &v.name, v.color));
    }
    let legend = Line::from(legend).right_aligned();
    // The legend wins when both do not fit: the decade labels say it is a log scale.
    let mut block = Block::bordered();
    if title.chars().count() + legend.width() + 3 <= usize::from(area.width) {
        block = block.title(title.to_string());
    }
    let chart = Chart::new(datasets)
        .block(block.title_top(legend))
        // The legend is the title line: the built-in box would hide the curves.
        .legend_position(None)
        .x_axis(
            Axis::default()
                .title(x_title.to_string())
                .bounds([0.0, max_x])
                .labels(vec![Span::raw("0"), Span::raw(format!("{}", max_x as i64))]),
        )
        .y_axis(
            Axis::default()
                .bounds([lo, hi])
                .labels(decades.into_iter().map(Span::raw).collect::<Vec<_>>()),
        );
    f.render_widget(chart, area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    #[test]
    fn decades_cover_the_data() {
        let pts = log_points(&[(1.0, 2e7), (2.0, 3e5), (3.0, 0.0)]);
        assert_eq!(pts.len(), 2, "zero is not plotted on a log axis");
        assert_eq!(decade_bounds(&[&pts]), (5.0, 8.0));
        assert_eq!(decade_bounds(&[]), (0.0, 1.0));
        let flat = log_points(&[(1.0, 100.0)]);
        assert_eq!(decade_bounds(&[&flat]), (2.0, 3.0));
    }

    #[test]
    fn labels_thin_out_to_one_per_row_and_keep_their_sign() {
        let (hi, l) = decade_labels(5, 8, 20);
        assert_eq!(hi, 8);
        assert_eq!(l, ["1e5", "1e6", "1e7", "1e8"]);
        // 29 decades on 10 rows: every 4th, up to a whole step past 1e8.
        let (hi, l) = decade_labels(-21, 8, 10);
        assert_eq!(hi, 11);
        assert_eq!(l.first().map(String::as_str), Some("1e-21"));
        assert_eq!(l.last().map(String::as_str), Some(" 1e11"));
        assert!(l.len() <= 10, "{l:?}");
        assert!(l.iter().all(|s| s.len() == 5), "{l:?}");
    }

    #[test]
    fn vertical_lines_span_the_decades() {
        assert_eq!(
            vertical_lines(&[37.0], 5.0, 8.0),
            [[(37.0, 5.0), (37.0, 8.0)]]
        );
    }

    /// The bug of issue 20: values down to 1e-21 drew a "1e21" label.
    #[test]
    fn a_tiny_value_is_labelled_with_its_negative_decade() {
        let pts: Vec<(f64, f64)> = (0..30).map(|i| (f64::from(i), 10f64.powi(8 - i))).collect();
        let series = [Series::new("style", Color::Magenta, pts)];
        let mut t = Terminal::new(TestBackend::new(60, 16)).unwrap();
        t.draw(|f| {
            draw(f, f.area(), " losses ", "step", &series, &Marks::default());
        })
        .unwrap();
        let text: String = t
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|c| c.symbol())
            .collect();
        assert!(text.contains("1e-21"), "{text}");
        assert!(!text.contains("1e21"), "{text}");
    }
}
