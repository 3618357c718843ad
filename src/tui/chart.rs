//! Loss curves on a log scale. ratatui's Chart has no log axis, so the values
//! are plotted as log10 and the y labels name the decades.

use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::Span;
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType};
use ratatui::Frame;

use crate::queue::Sample;

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

/// Draws style, content and total loss of `samples`, marking the best total.
pub fn draw(f: &mut Frame, area: Rect, title: &str, samples: &[Sample]) {
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
    let max_x = samples.last().map_or(1.0, |s| s.eval as f64).max(1.0);
    let datasets = vec![
        Dataset::default()
            .name("style")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(Color::Magenta))
            .data(&style),
        Dataset::default()
            .name("content")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(Color::Cyan))
            .data(&content),
        Dataset::default()
            .name("total")
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(Style::default().fg(Color::Yellow))
            .data(&total),
        Dataset::default()
            .name("best")
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(Style::default().fg(Color::Green))
            .data(&best),
    ];
    let decades: Vec<Span> = (lo as i32..=hi as i32)
        .map(|d| Span::raw(format!("1e{d}")))
        .collect();
    let chart = Chart::new(datasets)
        .block(Block::bordered().title(title.to_string()))
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
}
