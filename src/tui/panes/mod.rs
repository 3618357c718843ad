//! One module per pane: each owns its state, turns its keys into changes of
//! that state or [`Effect`]s for the app (`handle`), and draws (`draw`).

pub mod compose;
pub mod history;
pub mod library;
pub mod live;
pub mod queue;
pub mod views;
pub mod watch;

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Cell, Row, Table};
use ratatui::Frame;

use crate::queue::{RollbackRecord, Run, Sample, Status};
use crate::tui::app::App;
use crate::tui::chart;
use crate::tui::data::Command;
use crate::tui::images::ImageKey;
use crate::tui::keymap::Action;
use crate::tui::theme::Theme;
use crate::tui::ui::image_or_none;

/// What a pane asks of the app: things that reach past the pane (another
/// pane's state, the store thread, the input line, the clipboard).
#[derive(Debug)]
pub enum Effect {
    Command(Command),
    Say(String),
    /// Open the input line for `purpose`, starting from the text.
    Input(InputPurpose, String),
    ConfirmCancel(i64),
    ConfirmDelete(i64),
    /// Make the item Compose's content.
    UseContent(library::LibItem),
    /// Mark the style in Compose, or unmark it.
    ToggleStyle(library::LibItem),
    /// Make the model Compose's model (and its kind "apply").
    UseModel(library::ModelItem),
    /// Show the running run in Live.
    Watch(i64),
    /// Load the run into Compose for editing.
    EditRun(i64),
    Copy(String),
}

/// What the input line is for.
#[derive(Clone, Debug, PartialEq)]
pub enum InputPurpose {
    LibraryFilter,
    HistoryFilter,
    AddPath,
    EditField(compose::Field),
}

/// Arrow/page/home/end movement in a list of `n`; returns whether it handled it.
pub fn move_selection(sel: &mut usize, n: usize, action: Action) -> bool {
    let last = n.saturating_sub(1);
    let new = match action {
        Action::Up => sel.saturating_sub(1),
        Action::Down => (*sel + 1).min(last),
        Action::PageUp => sel.saturating_sub(10),
        Action::PageDown => (*sel + 10).min(last),
        Action::Top => 0,
        Action::Bottom => last,
        _ => return false,
    };
    *sel = new;
    true
}

/// Where the cursor goes in a fresh list of run `ids`: to run `id` wherever it
/// is now, or the same row (within the list) when it is gone.
pub fn follow(id: Option<i64>, sel: usize, ids: impl ExactSizeIterator<Item = i64>) -> usize {
    let n = ids.len();
    let mut ids = ids;
    id.and_then(|id| ids.position(|i| i == id))
        .unwrap_or(sel.min(n.saturating_sub(1)))
}

/// A run's chart (its kind's [`views::KindView`]) in `chart_area` and its
/// image in a block titled `image_title` filling `image_area`: the Live pane
/// and a History detail show a run the same way.
pub fn chart_and_image(
    f: &mut Frame,
    (chart_area, image_area): (Rect, Rect),
    image_title: &str,
    app: &App,
    r: &Run,
    view: &views::KindView,
    want: &mut Vec<ImageKey>,
) {
    if view.series.iter().all(|s| s.points.is_empty()) {
        // An empty chart says nothing; say why there is none.
        let note = match r.status {
            Status::Queued | Status::Running => "no samples yet",
            _ => "no losses recorded for this run",
        };
        f.render_widget(
            ratatui::widgets::Paragraph::new(note)
                .style(app.theme.muted())
                .block(Block::bordered().title(" losses ")),
            chart_area,
        );
    } else {
        chart::draw(
            f,
            chart_area,
            " losses (log scale) ",
            view.x_title,
            &view.series,
            &view.marks,
        );
    }
    // The output, then any images the kind adds (an analogy's B and field),
    // stacked.
    let images: Vec<(&str, Option<std::path::PathBuf>)> = std::iter::once((
        view.image_title.unwrap_or(image_title),
        live::run_image(app, r),
    ))
    .chain(view.extra_images.iter().map(|(t, p)| (*t, Some(p.clone()))))
    .collect();
    let n = images.len() as u32;
    let areas = Layout::vertical((0..n).map(|_| Constraint::Ratio(1, n))).split(image_area);
    for ((title, path), area) in images.iter().zip(areas.iter()) {
        let block = Block::bordered().title(title.to_string());
        let inner = block.inner(*area);
        f.render_widget(block, *area);
        run_image_or_note(f, inner, app, r, path.as_deref(), want);
    }
}

/// A run's image; for a run that ended without one, a note saying so (not
/// "no preview yet", which promises one).
pub fn run_image_or_note(
    f: &mut Frame,
    area: Rect,
    app: &App,
    r: &Run,
    path: Option<&std::path::Path>,
    want: &mut Vec<ImageKey>,
) {
    match path {
        None if !matches!(r.status, Status::Queued | Status::Running) => f.render_widget(
            ratatui::widgets::Paragraph::new("no image: the run ended before making one")
                .wrap(ratatui::widgets::Wrap { trim: true })
                .style(app.theme.muted()),
            area,
        ),
        _ => image_or_none(f, area, path, app, want),
    }
}

/// The loss series of a run (style, content, total), its best total and its
/// rollbacks, as the chart draws them. A job kind with other series builds
/// its own list.
pub fn loss_chart(
    samples: &[Sample],
    rollbacks: &[RollbackRecord],
    t: &Theme,
) -> (Vec<chart::Series>, chart::Marks) {
    let pick = |f: fn(&Sample) -> f64| -> Vec<(f64, f64)> {
        samples.iter().map(|s| (s.eval as f64, f(s))).collect()
    };
    let series = vec![
        chart::Series::new("style", t.chart_style, pick(|s| s.style)),
        chart::Series::new("content", t.chart_content, pick(|s| s.content)),
        chart::Series::new("total", t.chart_total, pick(|s| s.total)),
    ];
    let best = samples
        .iter()
        .filter(|s| s.total > 0.0)
        .min_by(|a, b| a.total.total_cmp(&b.total))
        .map(|s| (s.eval as f64, s.total));
    let best = Some(chart::Series::new(
        "best",
        t.chart_best,
        best.into_iter().collect(),
    ));
    let lines = (!rollbacks.is_empty()).then(|| {
        let n = rollbacks.len();
        chart::Verticals {
            name: format!("{n} rollback{}", if n == 1 { "" } else { "s" }),
            color: t.chart_rollback,
            xs: rollbacks.iter().map(|r| r.eval as f64).collect(),
        }
    });
    (series, chart::Marks { best, lines })
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

/// The style names of a run: one, or a blend as `a + b`.
pub fn style_names(r: &Run) -> String {
    let names: Vec<String> = r
        .inputs
        .iter()
        .filter(|i| i.role == crate::jobs::Role::Style)
        .map(crate::queue::Input::display_name)
        .collect();
    names.join(" + ")
}

/// A column of a run list: its header, its width (a flexible column takes
/// what is left, at least that), and its rank: a narrow table drops the
/// lowest ranks first, so no cell is cut into something else (a loss
/// `3.314e6` into `3.314`).
pub struct Col {
    pub header: &'static str,
    pub width: u16,
    pub flex: bool,
    pub rank: u8,
}

const fn col(header: &'static str, width: u16, flex: bool, rank: u8) -> Col {
    Col {
        header,
        width,
        flex,
        rank,
    }
}

/// The columns of [`run_cells`].
pub const RUN_COLS: [Col; 8] = [
    col("id", 4, false, 9),
    col("status", 9, false, 8),
    col("kind", 7, false, 3),
    col("content", 10, true, 5),
    col("style", 10, true, 6),
    col("size", 5, false, 2),
    col("steps", 5, false, 1),
    col("loss", 9, false, 7),
];

/// Which of `cols` fit in `width` (with a space between columns), in order.
pub fn fit_columns(cols: &[Col], width: u16) -> Vec<usize> {
    let mut keep: Vec<usize> = (0..cols.len()).collect();
    let need = |keep: &[usize]| -> u16 {
        keep.iter()
            .map(|&i| cols[i].width + 1)
            .sum::<u16>()
            .saturating_sub(1)
    };
    while need(&keep) > width && keep.len() > 1 {
        let Some(at) = (0..keep.len()).min_by_key(|&k| cols[keep[k]].rank) else {
            break;
        };
        keep.remove(at);
    }
    keep
}

/// A run list's table for the `area` it fills (borders included): the
/// columns that fit, their header, and each row's cells of those columns.
pub fn run_table(
    cols: &[Col],
    area: Rect,
    rows: Vec<(Vec<Cell<'static>>, Style)>,
) -> Table<'static> {
    let keep = fit_columns(cols, area.width.saturating_sub(2));
    let widths: Vec<Constraint> = keep
        .iter()
        .map(|&i| match cols[i].flex {
            true => Constraint::Min(cols[i].width),
            false => Constraint::Length(cols[i].width),
        })
        .collect();
    let header: Vec<&str> = keep.iter().map(|&i| cols[i].header).collect();
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|(cells, style)| {
            let mut cells: Vec<Option<Cell>> = cells.into_iter().map(Some).collect();
            Row::new(keep.iter().filter_map(|&i| cells.get_mut(i)?.take())).style(style)
        })
        .collect();
    Table::new(rows, widths)
        .header(Row::new(header).style(Style::default().add_modifier(Modifier::BOLD)))
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
}

/// The cells of a run's row ([`RUN_COLS`]): id, status, kind, content, style, and the
/// kind's own size and length (px and steps, crop and iterations, …), loss.
pub fn run_cells(r: &Run, t: &Theme) -> Vec<Cell<'static>> {
    let p = r.job_params();
    vec![
        Cell::from(r.id.to_string()),
        Cell::from(r.status.to_string()).style(status_style(r.status, t)),
        Cell::from(r.kind().to_string()),
        Cell::from(r.input_name(crate::jobs::Role::Content)),
        Cell::from(style_names(r)),
        Cell::from(p.as_ref().map(|p| p.size.clone()).unwrap_or_default()),
        Cell::from(p.map(|p| p.length).unwrap_or_default()),
        Cell::from(
            r.final_loss()
                .map(|l| format!("{l:.3e}"))
                .unwrap_or_default(),
        ),
    ]
}
