//! Loss curves on a log scale. ratatui's Chart has no log axis, so the values
//! are plotted as log10 and the y labels name the decades.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType};
use ratatui::Frame;

use super::theme::Theme;
use crate::queue::{RollbackRecord, Sample};

/// Points (eval, log10 value) for one series; non-positive values are skipped.
pub fn log_points(samples: &[Sample], pick: fn(&Sample) -> f64) -> Vec<(f64, f64)> {
    samples
        .iter()
        .filter_map(|s| {
            let v = pick(s);
            (v > 0.0 && v.is_finite()).then(|| (s.eval as f64, v.log10()))
        })
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

/// Vertical lines (eval, lo)–(eval, hi) at each rollback's diverged evaluation:
/// its loss is off the chart (or not a number), so the place is what shows.
pub fn rollback_lines(rollbacks: &[RollbackRecord], lo: f64, hi: f64) -> Vec<[(f64, f64); 2]> {
    rollbacks
        .iter()
        .map(|r| [(r.eval as f64, lo), (r.eval as f64, hi)])
        .collect()
}

/// Draws style, content and total loss of `samples`, marking the best total
/// and the rollbacks, with a one-line legend in the title.
pub fn draw(
    f: &mut Frame,
    area: Rect,
    title: &str,
    samples: &[Sample],
    rollbacks: &[RollbackRecord],
    theme: &Theme,
) {
    let style = log_points(samples, |s| s.style);
    let content = log_points(samples, |s| s.content);
    let total = log_points(samples, |s| s.total);
    let best: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.total > 0.0)
        .min_by(|a, b| a.total.total_cmp(&b.total))
        .map(|s| vec![(s.eval as f64, s.total.log10())])
        .unwrap_or_default();
    let (lo, hi) = decade_bounds(&[&style, &content, &total]);
    let last_eval = samples
        .last()
        .map(|s| s.eval)
        .into_iter()
        .chain(rollbacks.iter().map(|r| r.eval))
        .max()
        .unwrap_or(1);
    let max_x = (last_eval as f64).max(1.0);
    let line = |name: &'static str, color, data| {
        Dataset::default()
            .name(name)
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(color))
            .data(data)
    };
    let marks = rollback_lines(rollbacks, lo, hi);
    // Rollbacks first, so the loss curves are drawn over them.
    let mut datasets: Vec<Dataset> = marks
        .iter()
        .map(|m| line("rollback", theme.chart_rollback, m))
        .collect();
    datasets.extend([
        line("style", theme.chart_style, &style),
        line("content", theme.chart_content, &content),
        line("total", theme.chart_total, &total),
        Dataset::default()
            .name("best")
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(Style::default().fg(theme.chart_best))
            .data(&best),
    ]);
    let key = |sym: &str, name: String, color| {
        [
            Span::styled(sym.to_string(), Style::default().fg(color)),
            Span::raw(format!("{name} ")),
        ]
    };
    let mut legend: Vec<Span> = Vec::new();
    legend.extend(key("━", "style".into(), theme.chart_style));
    legend.extend(key("━", "content".into(), theme.chart_content));
    legend.extend(key("━", "total".into(), theme.chart_total));
    legend.extend(key("•", "best".into(), theme.chart_best));
    if !rollbacks.is_empty() {
        let n = rollbacks.len();
        let name = format!("{n} rollback{}", if n == 1 { "" } else { "s" });
        legend.extend(key("┃", name, theme.chart_rollback));
    }
    let decades: Vec<Span> = (lo as i32..=hi as i32)
        .map(|d| Span::raw(format!("1e{d}")))
        .collect();
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
                .title("evaluation")
                .bounds([0.0, max_x])
                .labels(vec![Span::raw("0"), Span::raw(format!("{}", max_x as i64))]),
        )
        .y_axis(Axis::default().bounds([lo, hi]).labels(decades));
    f.render_widget(chart, area);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(eval: i64, total: f64) -> Sample {
        Sample {
            eval,
            style: total / 2.0,
            content: total / 2.0,
            tv: 0.0,
            total,
            seconds: 0.0,
        }
    }

    #[test]
    fn decades_cover_the_data() {
        let pts = log_points(&[s(1, 2e7), s(2, 3e5), s(3, 0.0)], |x| x.total);
        assert_eq!(pts.len(), 2, "zero is not plotted on a log axis");
        assert_eq!(decade_bounds(&[&pts]), (5.0, 8.0));
        assert_eq!(decade_bounds(&[]), (0.0, 1.0));
        let flat = log_points(&[s(1, 100.0)], |x| x.total);
        assert_eq!(decade_bounds(&[&flat]), (2.0, 3.0));
    }

    #[test]
    fn rollbacks_are_vertical_lines_across_the_decades() {
        let r = RollbackRecord {
            eval: 37,
            to_eval: 30,
            loss: None,
            reason: "loss is NaN".into(),
            remedy: String::new(),
        };
        assert_eq!(rollback_lines(&[r], 5.0, 8.0), [[(37.0, 5.0), (37.0, 8.0)]]);
    }
}
