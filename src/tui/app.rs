//! The TUI's state: the tab, the input mode, and each pane's own state.
//! Global keys are handled here; a pane's keys go to that pane, which changes
//! its own state or hands back an [`Effect`] that this applies (another
//! pane's state, a [`Command`] for the store thread, the input line).
//! Nothing here draws, blocks or touches the database.

use std::collections::HashMap;
use std::time::Instant;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::browse::{BrowseKey, BrowseState};
use super::data::{Command, Snapshot};
use super::images::{ImageCache, Loaded};
use super::keymap::{Action, Context, Keymap};
use super::panes::compose::estimate::Pace;
use super::panes::compose::{ComposeState, Kind, MemoryView};
use super::panes::history::HistoryState;
use super::panes::library::{load_models, LibItem, LibraryState};
use super::panes::live::LiveState;
use super::panes::queue::QueueState;
use super::panes::watch::WatchState;
use super::panes::{Effect, InputPurpose};
use super::tab::Tab;
use super::theme::Theme;
use crate::engine::fast::models::ModelLibrary;
use crate::engine::gatys::spec::RunSpec;
use crate::jobs::Job;
use crate::jobs::Progress;
use crate::queue::worker::WorkerEvent;
use crate::queue::{Run, Status};

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
    pub tab: Tab,
    pub mode: Mode,
    pub keymap: Keymap,
    pub theme: Theme,
    /// The worker's device, as Compose's memory estimate names it.
    pub device: String,
    pub lib: LibraryState,
    pub compose: ComposeState,
    pub queue: QueueState,
    pub live: LiveState,
    pub history: HistoryState,
    pub watch: WatchState,
    pub snap: Snapshot,
    /// Latest progress of runs executed by this TUI's own worker.
    pub progress: HashMap<i64, Progress>,
    pub worker_status: String,
    pub images: ImageCache,
    /// The first key row the help overlay shows.
    pub help_scroll: usize,
    /// How many key rows the help overlay had room for at the last frame.
    pub help_rows: std::cell::Cell<usize>,
    pub message: Option<(String, Instant)>,
    pub quit: bool,
    /// Commands for the store thread, drained by the loop.
    pub outbox: Vec<Command>,
    /// Text to put on the clipboard (OSC 52), drained by the loop.
    pub clipboard: Option<String>,
    /// The run whose samples the store thread keeps fresh.
    focus: Option<i64>,
    /// The page of History and the runs held by id the store thread reads.
    history_view: Option<crate::queue::Filter>,
    pins: Vec<i64>,
    /// Where the Library's models come from.
    models: Option<ModelLibrary>,
    /// The newest finished training run the models were loaded after.
    models_after: Option<i64>,
    /// Previews of the chosen photo in the highlighted painting's style.
    pub browse: BrowseState,
    /// The model making them (`None`: off, or no such model).
    pub browse_model: Option<String>,
}

impl App {
    pub fn new(
        keymap: Keymap,
        contents: Vec<LibItem>,
        styles: Vec<LibItem>,
        spec: RunSpec,
    ) -> Self {
        Self {
            tab: Tab::default(),
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
            queue: QueueState::default(),
            live: LiveState::default(),
            history: HistoryState::default(),
            watch: WatchState::default(),
            snap: Snapshot::default(),
            progress: HashMap::new(),
            worker_status: "worker: off".into(),
            images: ImageCache::default(),
            help_scroll: 0,
            help_rows: std::cell::Cell::new(0),
            message: None,
            quit: false,
            outbox: Vec::new(),
            clipboard: None,
            focus: None,
            history_view: None,
            pins: Vec::new(),
            models: None,
            models_after: None,
            browse: BrowseState::default(),
            browse_model: None,
        }
    }

    /// A model of the Library by name.
    pub fn model_entry(&self, name: &str) -> Option<crate::engine::fast::models::ModelEntry> {
        self.models.as_ref()?.find(name).ok()
    }

    /// The browse preview the Library shows now, if it is not made or asked
    /// for yet: the chosen photo with the highlighted painting.
    pub fn browse_request(&mut self) -> Option<BrowseKey> {
        let key = self.browse_key()?;
        self.browse.needs(&key).then_some(key)
    }

    /// The pair the Library's Preview would show in style, if any.
    pub fn browse_key(&self) -> Option<BrowseKey> {
        if self.tab != Tab::Library || self.browse_model.is_none() {
            return None;
        }
        if self.lib.side() != crate::tui::panes::library::Side::Styles {
            return None;
        }
        Some(BrowseKey {
            content: self.compose.content.as_ref()?.path.clone(),
            style: self.lib.selected()?.path.clone(),
        })
    }

    /// The model library the Library's Models column shows (loaded now, and
    /// again whenever a training run has finished).
    pub fn with_models(mut self, lib: ModelLibrary) -> Self {
        self.lib.set_models(load_models(&lib));
        self.models = Some(lib);
        self
    }

    /// Reloads the models once a training run newer than the last seen is done.
    fn refresh_models(&mut self) {
        let newest = self
            .snap
            .history
            .iter()
            .filter(|r| r.status == Status::Done && r.job.kind() == crate::jobs::train::KIND)
            .map(|r| r.id)
            .max();
        if newest.is_some() && newest != self.models_after {
            self.models_after = newest;
            if let Some(lib) = &self.models {
                let models = load_models(lib);
                self.lib.set_models(models);
            }
        }
    }

    /// Named presets (`[presets.*]` as specs for the worker's device), offered
    /// in Compose after "none".
    pub fn with_presets(mut self, presets: Vec<(String, RunSpec)>) -> Self {
        self.compose.presets.extend(presets);
        self
    }

    /// The config's limits and paintings library, for the jobs Compose builds.
    pub fn with_limits(
        mut self,
        limits: crate::jobs::Limits,
        paintings: Option<crate::engine::infra::library::Library>,
    ) -> Self {
        self.compose.limits = limits;
        self.compose.paintings = paintings;
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
        self.tab.context()
    }

    /// Samples and rollbacks of run `id`, if it is the one in focus.
    pub fn focus_of(&self, id: i64) -> (&[crate::queue::Sample], &[crate::queue::RollbackRecord]) {
        match &self.snap.focus {
            Some(f) if f.run == id => (&f.samples, &f.rollbacks),
            _ => (&[], &[]),
        }
    }

    /// Every recorded series of run `id`, if it is the one in focus.
    pub fn points_of(&self, id: i64) -> &[crate::queue::Point] {
        match &self.snap.focus {
            Some(f) if f.run == id => &f.points,
            _ => &[],
        }
    }

    /// The paces of earlier trainings, newest first: History's finished
    /// training runs, then the models' records (for Compose's time estimate).
    pub fn training_paces(&self) -> Vec<Pace> {
        let runs = self.snap.history.iter().filter_map(|r| {
            let (Some(Job::Train(spec)), Some(crate::jobs::Outcome::Train(o))) =
                (r.job(), r.outcome.as_ref())
            else {
                return None;
            };
            let shape = (o.iterations, spec.train.batch, spec.train.size);
            Pace::measured(
                r.device.as_deref()?,
                format!("run {}", r.id),
                o.seconds,
                shape,
            )
        });
        let models = self.lib.models.iter().filter_map(|m| m.pace.clone());
        runs.chain(models).collect()
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
        self.follow_worker();
        self.queue.follow(&self.snap.queue);
        self.history.offset = self.snap.history_offset;
        self.history.total = self.snap.history_total;
        self.history.follow(&self.snap.history);
        self.watch.sel = self.watch.sel.min(self.snap.watch.len().saturating_sub(1));
        self.refresh_models();
        self.refocus();
    }

    /// Live shows the worker's current run when nothing is chosen yet, or
    /// when the run shown is over and the user did not pin it with `[`/`]`.
    fn follow_worker(&mut self) {
        let shown_over = self
            .live
            .run
            .and_then(|id| self.run(id))
            .is_none_or(|r| !matches!(r.status, Status::Running | Status::Queued));
        if self.live.run.is_some() && (self.live.pinned || !shown_over) {
            return;
        }
        if let Some(r) = self.snap.queue.iter().find(|r| r.status == Status::Running) {
            self.live.run = Some(r.id);
        }
    }

    pub fn on_worker(&mut self, e: WorkerEvent) {
        match e {
            WorkerEvent::Started(r) => {
                self.worker_status = format!("worker: run {}", r.id);
                if self
                    .live
                    .run
                    .is_none_or(|id| self.run(id).is_none_or(|r| r.status != Status::Running))
                {
                    self.live.run = Some(r.id);
                }
                self.outbox.push(Command::Refresh);
            }
            WorkerEvent::Progress { run, progress } => {
                self.progress.insert(run, progress.clone());
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
                // "cancelled (cancelled)" says one thing twice.
                match detail.is_empty() || detail == status.as_str() {
                    true => self.say(format!("run {run}: {status}")),
                    false => self.say(format!("run {run}: {status} ({detail})")),
                }
                self.outbox.push(Command::Refresh);
            }
            WorkerEvent::Idle => self.worker_status = "worker: idle".into(),
            WorkerEvent::Recovered(ids) => {
                self.say(format!("interrupted runs (worker gone): {ids:?}"))
            }
        }
    }

    /// The worker thread is gone: the status bar says so until the TUI quits.
    pub fn on_worker_stopped(&mut self, why: String) {
        self.worker_status = if why.starts_with("worker crashed") {
            "worker: crashed".into()
        } else {
            "worker: stopped".into()
        };
        self.say(format!("error: {why}"));
        self.outbox.push(Command::Refresh);
    }

    pub fn on_image(&mut self, l: Loaded) {
        self.images.insert(l);
    }

    /// Keeps the store thread's focus on the run being looked at.
    fn refocus(&mut self) {
        let want = match self.tab {
            Tab::Live => self.live.run,
            Tab::History => self
                .history
                .open
                .or_else(|| self.history.selected(&self.snap.history).map(|r| r.id)),
            _ => None,
        };
        if want != self.focus {
            self.focus = want;
            self.outbox.push(Command::Focus(want));
        }
        let view = self.history.view();
        if self.history_view.as_ref() != Some(&view) {
            self.history_view = Some(view.clone());
            self.outbox.push(Command::History(view));
        }
        let h = &self.history;
        let mut pins: Vec<i64> = [
            h.open,
            h.mark,
            h.compare.map(|c| c.0),
            h.compare.map(|c| c.1),
        ]
        .into_iter()
        .flatten()
        .collect();
        pins.dedup();
        if pins != self.pins {
            self.pins = pins.clone();
            self.outbox.push(Command::Pin(pins));
        }
    }

    pub fn run(&self, id: i64) -> Option<&Run> {
        self.snap
            .queue
            .iter()
            .find(|r| r.id == id)
            .or_else(|| self.snap.history.iter().find(|r| r.id == id))
            .or_else(|| self.snap.pinned.iter().find(|r| r.id == id))
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
                        match purpose {
                            InputPurpose::LibraryFilter => self.lib.filter.clear(),
                            InputPurpose::HistoryFilter => {
                                self.history.filter.clear();
                                self.history.follow(&self.snap.history);
                            }
                            _ => {}
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
                    // Ctrl-U clears the line (as in a shell); other control
                    // chords are not text.
                    KeyCode::Char(c) if key.modifiers.contains(KeyModifiers::CONTROL) => {
                        if c == 'u' {
                            buffer.clear();
                            self.live_input(&purpose, &buffer);
                        }
                        self.mode = Mode::Input { purpose, buffer };
                    }
                    KeyCode::Char(c) => {
                        buffer.push(c);
                        self.live_input(&purpose, &buffer);
                        self.mode = Mode::Input { purpose, buffer };
                    }
                    _ => {}
                }
                // A filter typed so far is read from the store at once.
                self.refocus();
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
                self.help_key(key);
                return;
            }
            Mode::Normal => {}
        }
        if let Some(action) = self.keymap.action(self.context(), &key) {
            self.update(action);
        }
    }

    /// The help scrolls with j/k, arrows, pages, g/G; Esc, q or ? close it
    /// (other keys do nothing, so a scroll key never closes it by surprise).
    fn help_key(&mut self, key: KeyEvent) {
        let s = self.help_scroll;
        let s = match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.quit = true;
                s
            }
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('?') => {
                self.mode = Mode::Normal;
                s
            }
            KeyCode::Char('j') | KeyCode::Down => s + 1,
            KeyCode::Char('k') | KeyCode::Up => s.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => s + 10,
            KeyCode::PageUp => s.saturating_sub(10),
            KeyCode::Char('g') | KeyCode::Home => 0,
            KeyCode::Char('G') | KeyCode::End => usize::MAX,
            _ => s,
        };
        // Never past the last key, so k answers at once after G.
        let rows = self.keymap.help(Some(self.context())).len();
        self.help_scroll = s.min(rows.saturating_sub(self.help_rows.get()));
    }

    /// Filters apply as you type.
    fn live_input(&mut self, purpose: &InputPurpose, buffer: &str) {
        match purpose {
            InputPurpose::LibraryFilter => self.lib.set_filter(buffer),
            InputPurpose::HistoryFilter => {
                self.history.set_filter(buffer);
                self.history.remember(&self.snap.history);
            }
            _ => {}
        }
    }

    fn commit_input(&mut self, purpose: InputPurpose, buffer: String) {
        match purpose {
            InputPurpose::LibraryFilter | InputPurpose::HistoryFilter => {}
            InputPurpose::AddPath => {
                let said = self.lib.add_path(buffer.trim());
                self.say(said);
            }
            InputPurpose::EditField(f) => {
                self.compose.commit(f, &buffer);
                if let Some(e) = &self.compose.error {
                    self.say(format!("not set: {e}"));
                }
            }
        }
    }

    /// Global actions here; the rest go to the pane of the tab.
    pub fn update(&mut self, action: Action) {
        let before = self.tab;
        let effect = match action {
            Action::Quit => {
                self.quit = true;
                None
            }
            Action::Help => {
                self.mode = Mode::Help;
                self.help_scroll = 0;
                None
            }
            Action::NextTab => {
                self.tab = self.tab.next();
                None
            }
            Action::PrevTab => {
                self.tab = self.tab.prev();
                None
            }
            Action::GoTab(t) => {
                self.tab = t;
                None
            }
            _ => match self.tab {
                Tab::Library => self.lib.handle(action),
                Tab::Compose => self.compose.handle(action),
                Tab::Queue => self.queue.handle(action, &self.snap.queue),
                Tab::Live => {
                    let running = self.running();
                    self.live.handle(action, &running)
                }
                Tab::History => self.history.handle(action, &self.snap.history),
                Tab::Watch => self.watch.handle(action, &mut self.snap.watch),
            },
        };
        if let Some(e) = effect {
            self.apply(e);
        }
        if before == Tab::Compose && self.tab != before {
            // A refusal is news of the moment, not a state to come back to.
            self.compose.error = None;
        }
        self.refocus();
    }

    fn apply(&mut self, effect: Effect) {
        match effect {
            Effect::Command(cmd) => {
                if matches!(cmd, Command::Enqueue(_)) {
                    self.say("queueing…");
                }
                self.outbox.push(cmd);
            }
            Effect::Say(m) => self.say(m),
            Effect::Input(purpose, buffer) => self.mode = Mode::Input { purpose, buffer },
            Effect::ConfirmCancel(id) => self.mode = Mode::ConfirmCancel(id),
            Effect::ConfirmDelete(id) => self.mode = Mode::ConfirmDelete(id),
            Effect::UseContent(item) => {
                self.say(format!("content: {}", item.name));
                self.set_content(item);
            }
            Effect::ToggleStyle(item) => {
                let name = item.name.clone();
                if self.compose.toggle_style(item) {
                    let n = self.compose.styles.len();
                    let paintings = if n == 1 { "painting" } else { "paintings" };
                    self.say(format!("marked {name} ({n} {paintings} marked)"));
                } else {
                    self.say(format!("unmarked {name}"));
                }
            }
            Effect::UseModel(m) => {
                self.say(format!("model: {} (Compose: kind apply)", m.name));
                self.compose.model = Some(m);
                self.compose.kind = Kind::Apply;
            }
            Effect::Watch(id) => {
                self.live.run = Some(id);
                self.tab = Tab::Live;
            }
            Effect::EditRun(id) => self.edit_run(id),
            Effect::Copy(text) => {
                self.say(format!("copied {text}"));
                self.clipboard = Some(text);
            }
        }
    }

    /// Makes `item` Compose's content, and has the store thread measure it
    /// for the memory estimate.
    fn set_content(&mut self, item: LibItem) {
        self.outbox.push(Command::Content(Some(item.path.clone())));
        self.compose.content = Some(item);
    }

    /// Loads run `id` into Compose (its inputs, named as when it was queued,
    /// and its parameters) for editing and queueing again; its kind's table
    /// knows how ([`ComposeState::load_run`]).
    fn edit_run(&mut self, id: i64) {
        let Some(r) = self.run(id).cloned() else {
            return;
        };
        let Some(job) = r.job() else {
            self.say(format!("run {id} is of a kind this build cannot edit"));
            return;
        };
        match self.compose.load_run(&r, job, &self.lib.models) {
            Ok(content) => {
                if let Some(item) = content {
                    self.set_content(item);
                }
                self.compose.error = None;
                self.tab = Tab::Compose;
                self.say(format!(
                    "run {id} loaded into Compose: edit, then r to queue"
                ));
            }
            Err(e) => self.say(format!("run {id}: {e}")),
        }
    }
}
