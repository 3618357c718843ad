//! The TUI's state and how actions change it. Nothing here draws, blocks or
//! touches the database: writes go out as [`Command`]s to the store thread.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui_image::protocol::Protocol;

use super::data::{Command, Snapshot};
use super::form::{ComposeState, Field, MarkedStyle, MemoryView};
use super::images::{ImageKey, Loaded};
use super::keymap::{Action, Context, Keymap};
use super::theme::Theme;
use crate::engine::library::Library;
use crate::engine::spec::RunSpec;
use crate::engine::transfer::Progress;
use crate::queue::worker::WorkerEvent;
use crate::queue::{Run, Status};

pub const TABS: [&str; 6] = ["Library", "Compose", "Queue", "Live", "History", "Watch"];

/// An image the library offers.
#[derive(Clone, Debug, PartialEq)]
pub struct LibItem {
    pub name: String,
    pub title: String,
    pub artist: String,
    pub date: String,
    pub licence: String,
    pub path: PathBuf,
}

impl LibItem {
    pub fn from_path(path: &Path) -> Self {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        Self {
            title: name.clone(),
            name,
            artist: String::new(),
            date: String::new(),
            licence: String::new(),
            path: path.to_path_buf(),
        }
    }

    fn matches(&self, filter: &str) -> bool {
        let f = filter.to_lowercase();
        f.is_empty()
            || [&self.name, &self.title, &self.artist]
                .iter()
                .any(|s| s.to_lowercase().contains(&f))
    }
}

pub fn load_library(dir: &Path) -> Vec<LibItem> {
    match Library::open(dir) {
        Ok(lib) => lib
            .entries()
            .iter()
            .map(|e| LibItem {
                name: e.name.clone(),
                title: e.title.clone(),
                artist: e.artist.clone(),
                date: e.date.clone(),
                licence: e.licence.clone(),
                path: lib.path_of(e),
            })
            .collect(),
        Err(e) => {
            tracing::warn!("library {}: {e}", dir.display());
            Vec::new()
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Contents,
    Styles,
}

#[derive(Default)]
pub struct LibraryState {
    pub contents: Vec<LibItem>,
    pub styles: Vec<LibItem>,
    pub focus_styles: bool,
    pub sel: [usize; 2],
    pub filter: String,
}

impl LibraryState {
    pub fn side(&self) -> Side {
        if self.focus_styles {
            Side::Styles
        } else {
            Side::Contents
        }
    }

    /// The visible (filtered) items of a side.
    pub fn visible(&self, side: Side) -> Vec<&LibItem> {
        let items = match side {
            Side::Contents => &self.contents,
            Side::Styles => &self.styles,
        };
        items.iter().filter(|i| i.matches(&self.filter)).collect()
    }

    pub fn selected(&self) -> Option<&LibItem> {
        let side = self.side();
        let idx = self.sel[side as usize];
        self.visible(side).get(idx).copied()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    Newest,
    Loss,
    Status,
}

#[derive(Default)]
pub struct HistoryState {
    pub sel: usize,
    pub sort: Option<Sort>,
    pub filter: String,
    /// Run shown in detail.
    pub open: Option<i64>,
    /// Run marked for comparison, and an open comparison.
    pub mark: Option<i64>,
    pub compare: Option<(i64, i64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum InputPurpose {
    LibraryFilter,
    HistoryFilter,
    AddPath,
    EditField(Field),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    Normal,
    Help,
    Input {
        purpose: InputPurpose,
        buffer: String,
    },
    ConfirmDelete(i64),
    ConfirmCancel(i64),
}

pub struct App {
    pub tab: usize,
    pub mode: Mode,
    pub keymap: Keymap,
    pub theme: Theme,
    /// The worker's device, as Compose's memory estimate names it.
    pub device: String,
    pub lib: LibraryState,
    pub compose: ComposeState,
    pub queue_sel: usize,
    /// The selected drop-folder rule in Watch.
    pub watch_sel: usize,
    /// The run the Live pane shows.
    pub live: Option<i64>,
    pub history: HistoryState,
    pub snap: Snapshot,
    /// Latest progress of runs executed by this TUI's own worker.
    pub progress: HashMap<i64, Progress>,
    pub worker_status: String,
    pub images: HashMap<ImageKey, Result<Protocol, String>>,
    pub message: Option<(String, Instant)>,
    pub quit: bool,
    /// Commands for the store thread, drained by the loop.
    pub outbox: Vec<Command>,
    /// Text to put on the clipboard (OSC 52), drained by the loop.
    pub clipboard: Option<String>,
    /// The run whose samples the store thread keeps fresh.
    focus: Option<i64>,
}

impl App {
    pub fn new(
        keymap: Keymap,
        contents: Vec<LibItem>,
        styles: Vec<LibItem>,
        spec: RunSpec,
    ) -> Self {
        Self {
            tab: 0,
            mode: Mode::Normal,
            keymap,
            theme: Theme::default(),
            device: "cpu".into(),
            lib: LibraryState {
                contents,
                styles,
                ..LibraryState::default()
            },
            compose: ComposeState::new(spec),
            queue_sel: 0,
            watch_sel: 0,
            live: None,
            history: HistoryState::default(),
            snap: Snapshot::default(),
            progress: HashMap::new(),
            worker_status: "worker: off".into(),
            images: HashMap::new(),
            message: None,
            quit: false,
            outbox: Vec::new(),
            clipboard: None,
            focus: None,
        }
    }

    /// Named presets (`[presets.*]` as specs for the worker's device), offered
    /// in Compose after "none".
    pub fn with_presets(mut self, presets: Vec<(String, RunSpec)>) -> Self {
        self.compose.presets.extend(presets);
        self
    }

    pub fn with_theme(mut self, theme: Theme) -> Self {
        self.theme = theme;
        self
    }

    pub fn with_device(mut self, name: impl Into<String>) -> Self {
        self.device = name.into();
        self
    }

    pub fn context(&self) -> Context {
        match self.tab {
            0 => Context::Library,
            1 => Context::Compose,
            2 => Context::Queue,
            3 => Context::Live,
            4 => Context::History,
            5 => Context::Watch,
            _ => Context::Global,
        }
    }

    /// Samples and rollbacks of run `id`, if it is the one in focus.
    pub fn focus_of(&self, id: i64) -> (&[crate::queue::Sample], &[crate::queue::RollbackRecord]) {
        match &self.snap.focus {
            Some(f) if f.run == id => (&f.samples, &f.rollbacks),
            _ => (&[], &[]),
        }
    }

    /// Compose's memory estimate from the latest snapshot.
    pub fn memory_estimate(&self) -> MemoryView {
        self.compose
            .estimate(self.snap.content_size.as_ref(), self.snap.memory)
    }

    pub fn say(&mut self, msg: impl Into<String>) {
        self.message = Some((msg.into(), Instant::now()));
    }

    // ---- news from the background -------------------------------------

    pub fn on_data(&mut self, snap: Snapshot) {
        self.snap = snap;
        // Follow a running run in Live when nothing is chosen yet.
        if self.live.is_none() {
            self.live = self
                .snap
                .queue
                .iter()
                .find(|r| r.status == Status::Running)
                .map(|r| r.id);
        }
        self.queue_sel = self.queue_sel.min(self.snap.queue.len().saturating_sub(1));
        self.watch_sel = self.watch_sel.min(self.snap.watch.len().saturating_sub(1));
        self.refocus();
    }

    pub fn on_worker(&mut self, e: WorkerEvent) {
        match e {
            WorkerEvent::Started(r) => {
                self.worker_status = format!("worker: run {}", r.id);
                if self
                    .live
                    .is_none_or(|id| self.run(id).is_none_or(|r| r.status != Status::Running))
                {
                    self.live = Some(r.id);
                }
                self.outbox.push(Command::Refresh);
            }
            WorkerEvent::Progress { run, progress } => {
                if let Some(p) = progress.gatys() {
                    self.progress.insert(run, p.clone());
                }
            }
            WorkerEvent::Resumed { .. } => {}
            WorkerEvent::Lost { run, reason } => {
                self.progress.remove(&run);
                self.say(format!("run {run}: {reason}"));
            }
            WorkerEvent::Finished {
                run,
                status,
                detail,
            } => {
                self.worker_status = "worker: idle".into();
                self.progress.remove(&run);
                self.say(format!("run {run}: {status} ({detail})"));
                self.outbox.push(Command::Refresh);
            }
            WorkerEvent::Idle => self.worker_status = "worker: idle".into(),
            WorkerEvent::Recovered(ids) => {
                self.say(format!("interrupted runs (worker gone): {ids:?}"))
            }
        }
    }

    pub fn on_image(&mut self, l: Loaded) {
        // Keep the cache small: protocols hold encoded pixels.
        if self.images.len() > 64 {
            self.images.clear();
        }
        self.images.insert(l.key, l.result);
    }

    /// Keeps the store thread's focus on the run being looked at.
    fn refocus(&mut self) {
        let want = match self.tab {
            3 => self.live,
            4 => self
                .history
                .open
                .or_else(|| self.history_rows().get(self.history.sel).map(|r| r.id)),
            _ => None,
        };
        if want != self.focus {
            self.focus = want;
            self.outbox.push(Command::Focus(want));
        }
    }

    pub fn run(&self, id: i64) -> Option<&Run> {
        self.snap
            .queue
            .iter()
            .find(|r| r.id == id)
            .or_else(|| self.snap.history.iter().find(|r| r.id == id))
    }

    /// History rows after filter and sort.
    pub fn history_rows(&self) -> Vec<&Run> {
        let f = self.history.filter.to_lowercase();
        let mut rows: Vec<&Run> = self
            .snap
            .history
            .iter()
            .filter(|r| {
                f.is_empty()
                    || r.input_name("content").to_lowercase().contains(&f)
                    || r.input_name("style").to_lowercase().contains(&f)
                    || r.status.as_str().contains(&f)
            })
            .collect();
        match self.history.sort {
            None | Some(Sort::Newest) => {}
            Some(Sort::Loss) => rows.sort_by(|a, b| {
                let key = |r: &Run| r.losses().map_or(f64::INFINITY, |l| l.total);
                key(a).total_cmp(&key(b))
            }),
            Some(Sort::Status) => rows.sort_by_key(|r| r.status.as_str()),
        }
        rows
    }

    /// Running runs, for switching in Live.
    fn running(&self) -> Vec<i64> {
        self.snap
            .queue
            .iter()
            .filter(|r| r.status == Status::Running)
            .map(|r| r.id)
            .collect()
    }

    // ---- keys ----------------------------------------------------------

    pub fn on_key(&mut self, key: KeyEvent) {
        match self.mode.clone() {
            Mode::Input {
                purpose,
                mut buffer,
            } => {
                match key.code {
                    KeyCode::Esc => {
                        if purpose == InputPurpose::LibraryFilter {
                            self.lib.filter.clear();
                        }
                        if purpose == InputPurpose::HistoryFilter {
                            self.history.filter.clear();
                        }
                        self.mode = Mode::Normal;
                    }
                    KeyCode::Enter => {
                        self.mode = Mode::Normal;
                        self.commit_input(purpose, buffer);
                    }
                    KeyCode::Backspace => {
                        buffer.pop();
                        self.live_input(&purpose, &buffer);
                        self.mode = Mode::Input { purpose, buffer };
                    }
                    KeyCode::Char(c) => {
                        buffer.push(c);
                        self.live_input(&purpose, &buffer);
                        self.mode = Mode::Input { purpose, buffer };
                    }
                    _ => {}
                }
                return;
            }
            Mode::ConfirmDelete(id) | Mode::ConfirmCancel(id) => {
                if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                    let cmd = if matches!(self.mode, Mode::ConfirmDelete(_)) {
                        if self.history.open == Some(id) {
                            self.history.open = None;
                        }
                        Command::Delete(id)
                    } else {
                        Command::Cancel(id)
                    };
                    self.outbox.push(cmd);
                } else {
                    self.say("kept");
                }
                self.mode = Mode::Normal;
                return;
            }
            Mode::Help => {
                // Any key closes the help; `q` still quits.
                if self.keymap.action(Context::Global, &key) == Some(Action::Quit) {
                    self.quit = true;
                }
                self.mode = Mode::Normal;
                return;
            }
            Mode::Normal => {}
        }
        if let Some(action) = self.keymap.action(self.context(), &key) {
            self.update(action);
        }
    }

    /// Filters apply as you type.
    fn live_input(&mut self, purpose: &InputPurpose, buffer: &str) {
        match purpose {
            InputPurpose::LibraryFilter => {
                self.lib.filter = buffer.to_string();
                self.lib.sel = [0, 0];
            }
            InputPurpose::HistoryFilter => {
                self.history.filter = buffer.to_string();
                self.history.sel = 0;
            }
            _ => {}
        }
    }

    fn commit_input(&mut self, purpose: InputPurpose, buffer: String) {
        match purpose {
            InputPurpose::LibraryFilter | InputPurpose::HistoryFilter => {}
            InputPurpose::AddPath => self.add_path(buffer.trim()),
            InputPurpose::EditField(f) => {
                if let Err(e) = self.compose.set(f, &buffer) {
                    self.compose.error = Some(format!("{}: {e}", self.compose.label(f)));
                }
            }
        }
    }

    /// Adds an image (or every image in a folder) to the library side in focus.
    fn add_path(&mut self, text: &str) {
        let path = PathBuf::from(shellexpand_home(text));
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
            self.say(format!("{}: no such file or folder", path.display()));
            return;
        }
        if found.is_empty() {
            self.say(format!(
                "{}: no images (png, jpg, webp, tiff, bmp)",
                path.display()
            ));
            return;
        }
        let n = found.len();
        let side = if self.lib.focus_styles {
            &mut self.lib.styles
        } else {
            &mut self.lib.contents
        };
        for item in found.into_iter().rev() {
            side.insert(0, item);
        }
        self.lib.sel[self.lib.side() as usize] = 0;
        self.say(format!("added {n} image(s)"));
    }

    pub fn update(&mut self, action: Action) {
        match action {
            Action::Quit => self.quit = true,
            Action::Help => self.mode = Mode::Help,
            Action::NextTab => self.tab = (self.tab + 1) % TABS.len(),
            Action::PrevTab => self.tab = (self.tab + TABS.len() - 1) % TABS.len(),
            Action::GoTab(i) => self.tab = i.min(TABS.len() - 1),
            Action::Back => {
                if self.tab == 4 && (self.history.open.is_some() || self.history.compare.is_some())
                {
                    self.history.open = None;
                    self.history.compare = None;
                } else if self.tab == 0 {
                    self.lib.filter.clear();
                } else if self.tab == 4 {
                    self.history.filter.clear();
                }
            }
            _ => match self.tab {
                0 => self.library_action(action),
                1 => self.compose_action(action),
                2 => self.queue_action(action),
                3 => self.live_action(action),
                4 => self.history_action(action),
                5 => self.watch_action(action),
                _ => {}
            },
        }
        self.refocus();
    }

    fn library_action(&mut self, action: Action) {
        let side = self.lib.side();
        let n = self.lib.visible(side).len();
        let sel = &mut self.lib.sel[side as usize];
        if move_selection(sel, n, action) {
            return;
        }
        match action {
            Action::Left => self.lib.focus_styles = false,
            Action::Right => self.lib.focus_styles = true,
            Action::Filter => {
                self.mode = Mode::Input {
                    purpose: InputPurpose::LibraryFilter,
                    buffer: self.lib.filter.clone(),
                }
            }
            Action::AddPath => {
                self.mode = Mode::Input {
                    purpose: InputPurpose::AddPath,
                    buffer: String::new(),
                }
            }
            Action::UseAsContent if side == Side::Contents => {
                if let Some(item) = self.lib.selected().cloned() {
                    self.say(format!("content: {}", item.name));
                    self.set_content(item);
                }
            }
            Action::UseAsContent | Action::ToggleStyle if side == Side::Styles => {
                if let Some(item) = self.lib.selected().cloned() {
                    let name = item.name.clone();
                    if self.compose.toggle_style(item) {
                        self.say(format!(
                            "marked {name} ({} styles)",
                            self.compose.styles.len()
                        ));
                    } else {
                        self.say(format!("unmarked {name}"));
                    }
                }
            }
            _ => {}
        }
    }

    /// Makes `item` Compose's content, and has the store thread measure it
    /// for the memory estimate.
    fn set_content(&mut self, item: LibItem) {
        self.outbox.push(Command::Content(Some(item.path.clone())));
        self.compose.content = Some(item);
    }

    fn compose_action(&mut self, action: Action) {
        let last = self.compose.fields().len() - 1;
        let c = &mut self.compose;
        c.field = c.field.min(last);
        match action {
            Action::Up => c.field = c.field.saturating_sub(1),
            Action::Down => c.field = (c.field + 1).min(last),
            Action::Top => c.field = 0,
            Action::Bottom => c.field = last,
            Action::Increase | Action::Right => c.nudge(1),
            Action::Decrease | Action::Left => c.nudge(-1),
            Action::Select => {
                let f = c.selected();
                self.mode = Mode::Input {
                    purpose: InputPurpose::EditField(f),
                    buffer: c.edit_text(f),
                }
            }
            Action::Enqueue => match c.runs() {
                Ok(runs) => {
                    c.error = None;
                    self.outbox.push(Command::Enqueue(runs));
                    self.say("queueing…");
                }
                Err(e) => c.error = Some(e),
            },
            _ => {}
        }
    }

    fn queue_action(&mut self, action: Action) {
        let n = self.snap.queue.len();
        if move_selection(&mut self.queue_sel, n, action) {
            return;
        }
        let Some(run) = self.snap.queue.get(self.queue_sel) else {
            return;
        };
        let (id, status, priority) = (run.id, run.status, run.priority);
        // Place among queued runs (1-based), for moves.
        let place = self
            .snap
            .queue
            .iter()
            .filter(|r| r.status == Status::Queued)
            .position(|r| r.id == id)
            .map(|p| p + 1);
        match action {
            Action::MoveUp | Action::MoveDown => match place {
                Some(p) => {
                    let to = if action == Action::MoveUp {
                        p.saturating_sub(1).max(1)
                    } else {
                        p + 1
                    };
                    self.outbox.push(Command::Move(id, to));
                    if action == Action::MoveUp {
                        self.queue_sel = self.queue_sel.saturating_sub(1);
                    } else {
                        self.queue_sel = (self.queue_sel + 1).min(n.saturating_sub(1));
                    }
                }
                None => self.say("only queued runs can be moved"),
            },
            Action::PriorityUp => self.outbox.push(Command::Priority(id, priority + 1)),
            Action::PriorityDown => self.outbox.push(Command::Priority(id, priority - 1)),
            Action::Cancel => self.mode = Mode::ConfirmCancel(id),
            Action::Select => {
                if status == Status::Running {
                    self.live = Some(id);
                    self.tab = 3;
                } else {
                    self.say("not running yet");
                }
            }
            _ => {}
        }
    }

    fn live_action(&mut self, action: Action) {
        let running = self.running();
        if running.is_empty() {
            return;
        }
        let at = self
            .live
            .and_then(|id| running.iter().position(|r| *r == id));
        let next = match (action, at) {
            (Action::NextRun | Action::Down | Action::Right, Some(i)) => {
                running[(i + 1) % running.len()]
            }
            (Action::PrevRun | Action::Up | Action::Left, Some(i)) => {
                running[(i + running.len() - 1) % running.len()]
            }
            (Action::NextRun | Action::PrevRun, None) => running[0],
            _ => return,
        };
        self.live = Some(next);
    }

    fn history_action(&mut self, action: Action) {
        let rows: Vec<(i64, Option<PathBuf>)> = self
            .history_rows()
            .iter()
            .map(|r| (r.id, r.output.clone()))
            .collect();
        if self.history.open.is_none()
            && self.history.compare.is_none()
            && move_selection(&mut self.history.sel, rows.len(), action)
        {
            return;
        }
        let Some((id, output)) = rows.get(self.history.sel).cloned() else {
            if action == Action::Filter {
                self.mode = Mode::Input {
                    purpose: InputPurpose::HistoryFilter,
                    buffer: self.history.filter.clone(),
                };
            }
            return;
        };
        match action {
            Action::Filter => {
                self.mode = Mode::Input {
                    purpose: InputPurpose::HistoryFilter,
                    buffer: self.history.filter.clone(),
                }
            }
            Action::Sort => {
                self.history.sort = Some(match self.history.sort {
                    None | Some(Sort::Newest) => Sort::Loss,
                    Some(Sort::Loss) => Sort::Status,
                    Some(Sort::Status) => Sort::Newest,
                });
                self.history.sel = 0;
            }
            Action::Select => self.history.open = Some(id),
            Action::Mark => {
                self.history.mark = if self.history.mark == Some(id) {
                    None
                } else {
                    Some(id)
                };
                self.say(match self.history.mark {
                    Some(m) => format!("marked run {m}; select another and press C to compare"),
                    None => "unmarked".into(),
                });
            }
            Action::Compare => match self.history.mark {
                Some(m) if m != id => self.history.compare = Some((m, id)),
                _ => self.say("mark a run with m first, then select another"),
            },
            Action::Rerun => self.outbox.push(Command::Rerun(id)),
            Action::EditRerun => {
                if let Some(r) = self.run(id).cloned() {
                    let item = |role: &str, p: &Path| LibItem {
                        name: r.input_name(role),
                        ..LibItem::from_path(p)
                    };
                    self.set_content(item("content", &r.params().content));
                    let names: Vec<String> = r
                        .inputs
                        .iter()
                        .filter(|i| i.role == "style")
                        .filter_map(|i| i.name.clone())
                        .collect();
                    let c = &mut self.compose;
                    c.styles = r
                        .params()
                        .styles
                        .iter()
                        .enumerate()
                        .map(|(i, s)| {
                            let lib = LibItem::from_path(&s.path);
                            MarkedStyle {
                                item: LibItem {
                                    name: names.get(i).cloned().unwrap_or(lib.name.clone()),
                                    ..lib
                                },
                                weight: s.weight,
                            }
                        })
                        .collect();
                    c.blend = c.styles.len() > 1;
                    c.spec = r.params().clone();
                    c.match_preset();
                    c.error = None;
                    self.tab = 1;
                    self.say(format!(
                        "run {id} loaded into Compose: edit, then r to queue"
                    ));
                }
            }
            Action::CopyPath => match output {
                Some(p) => {
                    let text = p.display().to_string();
                    self.say(format!("copied {text}"));
                    self.clipboard = Some(text);
                }
                None => self.say("this run has no output"),
            },
            Action::Delete => self.mode = Mode::ConfirmDelete(id),
            _ => {}
        }
    }

    fn watch_action(&mut self, action: Action) {
        let n = self.snap.watch.len();
        if move_selection(&mut self.watch_sel, n, action) {
            return;
        }
        if action != Action::PauseRule {
            return;
        }
        let Some(rule) = self.snap.watch.get_mut(self.watch_sel) else {
            self.say("no drop-folder rules configured");
            return;
        };
        // Shown at once; the store thread writes it and the next snapshot
        // confirms it.
        rule.paused = !rule.paused;
        let cmd = Command::PauseRule(rule.name.clone(), rule.paused);
        self.outbox.push(cmd);
    }
}

/// Arrow/page/home/end movement in a list of `n`; returns whether it handled it.
fn move_selection(sel: &mut usize, n: usize, action: Action) -> bool {
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

fn is_image_name(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
        matches!(
            e.to_lowercase().as_str(),
            "png" | "jpg" | "jpeg" | "webp" | "tif" | "tiff" | "bmp"
        )
    })
}

fn shellexpand_home(s: &str) -> String {
    match (s.strip_prefix("~/"), std::env::var("HOME")) {
        (Some(rest), Ok(home)) => format!("{home}/{rest}"),
        _ => s.to_string(),
    }
}
