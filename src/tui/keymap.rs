//! Keys become actions here, and only here. The help overlay is generated
//! from the same table, so it cannot drift from what the keys do. Bindings can
//! be overridden in the config's `[tui.keys]` table (action = ["key", …]).

use std::collections::HashMap;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::tab::Tab;

/// Everything a key can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Quit,
    Help,
    NextTab,
    PrevTab,
    GoTab(Tab),
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Select,
    Filter,
    Back,
    // Library
    UseAsContent,
    ToggleStyle,
    AddPath,
    // Compose
    Increase,
    Decrease,
    Enqueue,
    // Queue
    MoveUp,
    MoveDown,
    PriorityUp,
    PriorityDown,
    Cancel,
    // Live
    NextRun,
    PrevRun,
    // History
    Sort,
    Mark,
    Compare,
    Rerun,
    EditRerun,
    CopyPath,
    Delete,
    // Watch
    PauseRule,
}

/// Where a binding applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Context {
    Global,
    Library,
    Compose,
    Queue,
    Live,
    History,
    Watch,
}

impl Context {
    pub fn title(self) -> &'static str {
        match self {
            Context::Global => "Everywhere",
            Context::Library => "Library",
            Context::Compose => "Compose",
            Context::Queue => "Queue",
            Context::Live => "Live",
            Context::History => "History",
            Context::Watch => "Watch",
        }
    }
}

/// (context, action, config name, default keys, help text)
type Binding = (
    Context,
    Action,
    &'static str,
    &'static [&'static str],
    &'static str,
);

const DEFAULTS: &[Binding] = &[
    (
        Context::Global,
        Action::Quit,
        "quit",
        &["q", "ctrl-c"],
        "quit",
    ),
    (
        Context::Global,
        Action::Help,
        "help",
        &["?"],
        "show or hide this help",
    ),
    (
        Context::Global,
        Action::NextTab,
        "next_tab",
        &["tab"],
        "next pane",
    ),
    (
        Context::Global,
        Action::PrevTab,
        "prev_tab",
        &["backtab"],
        "previous pane",
    ),
    (
        Context::Global,
        Action::GoTab(Tab::Library),
        "tab_library",
        &["1"],
        "Library pane",
    ),
    (
        Context::Global,
        Action::GoTab(Tab::Compose),
        "tab_compose",
        &["2"],
        "Compose pane",
    ),
    (
        Context::Global,
        Action::GoTab(Tab::Queue),
        "tab_queue",
        &["3"],
        "Queue pane",
    ),
    (
        Context::Global,
        Action::GoTab(Tab::Live),
        "tab_live",
        &["4"],
        "Live pane",
    ),
    (
        Context::Global,
        Action::GoTab(Tab::History),
        "tab_history",
        &["5"],
        "History pane",
    ),
    (
        Context::Global,
        Action::GoTab(Tab::Watch),
        "tab_watch",
        &["6"],
        "Watch pane",
    ),
    (Context::Global, Action::Up, "up", &["up", "k"], "move up"),
    (
        Context::Global,
        Action::Down,
        "down",
        &["down", "j"],
        "move down",
    ),
    (
        Context::Global,
        Action::Left,
        "left",
        &["left", "h"],
        "move left",
    ),
    (
        Context::Global,
        Action::Right,
        "right",
        &["right", "l"],
        "move right",
    ),
    (
        Context::Global,
        Action::PageUp,
        "page_up",
        &["pageup"],
        "page up",
    ),
    (
        Context::Global,
        Action::PageDown,
        "page_down",
        &["pagedown"],
        "page down",
    ),
    (
        Context::Global,
        Action::Top,
        "top",
        &["home", "g"],
        "first item",
    ),
    (
        Context::Global,
        Action::Bottom,
        "bottom",
        &["end", "G"],
        "last item",
    ),
    (
        Context::Global,
        Action::Back,
        "back",
        &["esc"],
        "close, clear the filter",
    ),
    (
        Context::Library,
        Action::Filter,
        "filter",
        &["/"],
        "filter by typing",
    ),
    (
        Context::Library,
        Action::UseAsContent,
        "use_as_content",
        &["enter", "c"],
        "use the photo / mark the painting / pick the model",
    ),
    (
        Context::Library,
        Action::ToggleStyle,
        "toggle_style",
        &["space"],
        "mark or unmark a style",
    ),
    (
        Context::Library,
        Action::AddPath,
        "add_path",
        &["a"],
        "add an image or folder by path",
    ),
    (
        Context::Compose,
        Action::Increase,
        "increase",
        &["+", "="],
        "increase the field",
    ),
    (
        Context::Compose,
        Action::Decrease,
        "decrease",
        &["-"],
        "decrease the field",
    ),
    (
        Context::Compose,
        Action::Select,
        "edit",
        &["enter"],
        "type a value for the field",
    ),
    (
        Context::Compose,
        Action::Enqueue,
        "enqueue",
        &["r"],
        "queue the runs: each style, or one blend",
    ),
    (
        Context::Queue,
        Action::MoveUp,
        "move_up",
        &["K"],
        "move the run earlier",
    ),
    (
        Context::Queue,
        Action::MoveDown,
        "move_down",
        &["J"],
        "move the run later",
    ),
    (
        Context::Queue,
        Action::PriorityUp,
        "priority_up",
        &["+", "="],
        "raise priority",
    ),
    (
        Context::Queue,
        Action::PriorityDown,
        "priority_down",
        &["-"],
        "lower priority",
    ),
    (
        Context::Queue,
        Action::Cancel,
        "cancel",
        &["x", "delete"],
        "cancel the run",
    ),
    (
        Context::Queue,
        Action::Select,
        "watch",
        &["enter"],
        "watch the run live",
    ),
    (
        Context::Live,
        Action::NextRun,
        "next_run",
        &["]", "n"],
        "next running run",
    ),
    (
        Context::Live,
        Action::PrevRun,
        "prev_run",
        &["[", "p"],
        "previous running run",
    ),
    (
        Context::History,
        Action::Filter,
        "history_filter",
        &["/"],
        "filter by typing",
    ),
    (
        Context::History,
        Action::Sort,
        "sort",
        &["s"],
        "sort: newest, loss, status",
    ),
    (
        Context::History,
        Action::Select,
        "open",
        &["enter"],
        "open the run (details, chart, image)",
    ),
    (
        Context::History,
        Action::Mark,
        "mark",
        &["m"],
        "mark for comparison",
    ),
    (
        Context::History,
        Action::Compare,
        "compare",
        &["C"],
        "compare the marked run with this one",
    ),
    (
        Context::History,
        Action::Rerun,
        "rerun",
        &["R"],
        "queue the run again",
    ),
    (
        Context::History,
        Action::EditRerun,
        "edit_rerun",
        &["e"],
        "edit in Compose, then queue",
    ),
    (
        Context::History,
        Action::CopyPath,
        "copy_path",
        &["y"],
        "copy the output path",
    ),
    (
        Context::History,
        Action::Delete,
        "delete",
        &["D"],
        "delete the run (asks)",
    ),
    (
        Context::Watch,
        Action::PauseRule,
        "pause_rule",
        &["space", "p"],
        "pause or resume the drop-folder rule",
    ),
];

/// Actions the TUI cannot be used (or left) without: an empty binding is an error.
const ESSENTIAL: &[&str] = &["quit", "help", "back", "next_tab", "prev_tab"];

/// A key with modifiers, comparable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    pub fn from_event(e: &KeyEvent) -> Self {
        // Shift+letter arrives as the upper-case char, which is how bindings
        // name it ("K", "G"), so the shift modifier itself is ignored.
        Self {
            code: e.code,
            ctrl: e.modifiers.contains(KeyModifiers::CONTROL),
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let (ctrl, rest) = match s.strip_prefix("ctrl-") {
            Some(r) => (true, r),
            None => (false, s),
        };
        let code = match rest {
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "space" => KeyCode::Char(' '),
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pageup" => KeyCode::PageUp,
            "pagedown" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "delete" => KeyCode::Delete,
            "backspace" => KeyCode::Backspace,
            one if one.chars().count() == 1 => KeyCode::Char(one.chars().next()?),
            _ => return None,
        };
        Some(Self { code, ctrl })
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "Shift-Tab".into(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Char(' ') => "Space".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::Delete => "Del".into(),
            KeyCode::Char(c) => c.to_string(),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("Ctrl-{base}")
        } else {
            base
        }
    }
}

/// One row of the help overlay.
pub struct HelpRow {
    pub context: Context,
    pub keys: String,
    pub help: &'static str,
}

pub struct Keymap {
    bindings: Vec<(Context, Action, &'static str, Vec<Key>, &'static str)>,
}

#[derive(Debug, thiserror::Error)]
#[error("[tui.keys] {0}")]
pub struct KeymapError(String);

impl Keymap {
    /// The default bindings with `overrides` (config name → key names) applied.
    pub fn new(overrides: &HashMap<String, Vec<String>>) -> Result<Self, KeymapError> {
        for name in overrides.keys() {
            if !DEFAULTS.iter().any(|b| b.2 == name) {
                let known: Vec<&str> = DEFAULTS.iter().map(|b| b.2).collect();
                return Err(KeymapError(format!(
                    "unknown action '{name}' (known: {})",
                    known.join(", ")
                )));
            }
        }
        let mut bindings = Vec::new();
        for &(ctx, action, name, keys, help) in DEFAULTS {
            let names: Vec<String> = match overrides.get(name) {
                Some(v) => v.clone(),
                None => keys.iter().map(|s| s.to_string()).collect(),
            };
            let mut parsed = Vec::new();
            for k in &names {
                parsed.push(
                    Key::parse(k)
                        .ok_or_else(|| KeymapError(format!("{name}: unknown key '{k}'")))?,
                );
            }
            if parsed.is_empty() && ESSENTIAL.contains(&name) {
                return Err(KeymapError(format!(
                    "{name}: no key left (quit, help, back and tab switching need at least one)"
                )));
            }
            bindings.push((ctx, action, name, parsed, help));
        }
        let km = Self { bindings };
        km.check_conflicts()?;
        Ok(km)
    }

    /// A key may do one thing per pane: the pane's own bindings and the
    /// global ones together. (A pane binding would silently shadow a global
    /// one, e.g. `filter = ["q"]` would make Library impossible to quit.)
    fn check_conflicts(&self) -> Result<(), KeymapError> {
        let panes = [
            Context::Library,
            Context::Compose,
            Context::Queue,
            Context::Live,
            Context::History,
            Context::Watch,
        ];
        for pane in panes {
            let mut seen: HashMap<Key, (&'static str, Context)> = HashMap::new();
            for b in self
                .bindings
                .iter()
                .filter(|b| b.0 == Context::Global || b.0 == pane)
            {
                for k in &b.3 {
                    if let Some((other, ctx)) = seen.insert(*k, (b.2, b.0)) {
                        if other != b.2 {
                            let both_global = ctx == Context::Global && b.0 == Context::Global;
                            let place = if both_global {
                                "everywhere".to_string()
                            } else {
                                format!("in {}", pane.title())
                            };
                            return Err(KeymapError(format!(
                                "{}: key '{}' is also bound to {other} {place}",
                                b.2,
                                k.label()
                            )));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The action for `key` in `ctx`: pane bindings win over global ones.
    pub fn action(&self, ctx: Context, key: &KeyEvent) -> Option<Action> {
        let k = Key::from_event(key);
        let find = |c: Context| {
            self.bindings
                .iter()
                .find(|b| b.0 == c && b.3.contains(&k))
                .map(|b| b.1)
        };
        find(ctx).or_else(|| find(Context::Global))
    }

    /// Rows for the help overlay, global first, then `ctx`'s (all contexts
    /// when `ctx` is None).
    pub fn help(&self, ctx: Option<Context>) -> Vec<HelpRow> {
        self.bindings
            .iter()
            .filter(|b| ctx.is_none_or(|c| b.0 == Context::Global || b.0 == c))
            .map(|b| HelpRow {
                context: b.0,
                keys: b.3.iter().map(Key::label).collect::<Vec<_>>().join(" "),
                help: b.4,
            })
            .collect()
    }

    /// A short hint line for a pane: its keys and what they do.
    pub fn hints(&self, ctx: Context) -> Vec<(String, &'static str)> {
        self.bindings
            .iter()
            .filter(|b| b.0 == ctx)
            .map(|b| (b.3.first().map(Key::label).unwrap_or_default(), b.4))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::KeyEventKind;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new_with_kind(c, KeyModifiers::NONE, KeyEventKind::Press)
    }

    #[test]
    fn pane_bindings_win_and_globals_apply() {
        let km = Keymap::new(&HashMap::new()).unwrap();
        assert_eq!(
            km.action(Context::Queue, &key(KeyCode::Char('+'))),
            Some(Action::PriorityUp)
        );
        assert_eq!(
            km.action(Context::Compose, &key(KeyCode::Char('+'))),
            Some(Action::Increase)
        );
        assert_eq!(
            km.action(Context::Live, &key(KeyCode::Char('j'))),
            Some(Action::Down)
        );
        assert_eq!(
            km.action(Context::Live, &key(KeyCode::Char('?'))),
            Some(Action::Help)
        );
        assert_eq!(km.action(Context::Live, &key(KeyCode::Char('Z'))), None);
    }

    #[test]
    fn overrides_replace_keys_and_typos_fail() {
        let mut o = HashMap::new();
        o.insert("quit".to_string(), vec!["ctrl-q".to_string()]);
        let km = Keymap::new(&o).unwrap();
        assert_eq!(km.action(Context::Library, &key(KeyCode::Char('q'))), None);
        let ctrl_q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL);
        assert_eq!(km.action(Context::Library, &ctrl_q), Some(Action::Quit));
        o.insert("qiut".to_string(), vec!["x".to_string()]);
        assert!(Keymap::new(&o).is_err());
        let mut bad = HashMap::new();
        bad.insert("quit".to_string(), vec!["hyper-x".to_string()]);
        assert!(Keymap::new(&bad).is_err());
    }

    fn keys(pairs: &[(&str, &[&str])]) -> HashMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(a, k)| (a.to_string(), k.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    /// Issue 20: `quit = []` or `quit = ["j"]` left a TUI that cannot be quit.
    #[test]
    fn essential_actions_need_a_key_and_a_key_does_one_thing_per_pane() {
        for essential in ESSENTIAL {
            let e = Keymap::new(&keys(&[(essential, &[])])).err().unwrap();
            let e = e.to_string();
            assert!(
                e.contains(&format!("[tui.keys] {essential}: no key")),
                "{e}"
            );
        }
        // A non-essential action may be unbound.
        assert!(Keymap::new(&keys(&[("sort", &[])])).is_ok());
        let e = Keymap::new(&keys(&[("quit", &["j"])]))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("'j'") && e.contains("down") && e.contains("quit"),
            "{e}"
        );
        // A pane key over a global one is a conflict in that pane only.
        let e = Keymap::new(&keys(&[("filter", &["q"])]))
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("filter") && e.contains("quit") && e.contains("Library"),
            "{e}"
        );
        // The same key in two different panes is fine.
        assert!(
            Keymap::new(&keys(&[("sort", &["x"])])).is_ok(),
            "x cancels only in Queue"
        );
        // Swapping two keys is fine when both are rebound.
        assert!(Keymap::new(&keys(&[("up", &["j"]), ("down", &["k"])])).is_ok());
    }

    #[test]
    fn help_lists_every_binding_of_the_context() {
        let km = Keymap::new(&HashMap::new()).unwrap();
        let rows = km.help(Some(Context::History));
        assert!(rows
            .iter()
            .any(|r| r.help.contains("compare") && r.keys == "C"));
        assert!(rows
            .iter()
            .all(|r| r.context == Context::Global || r.context == Context::History));
        assert_eq!(km.help(None).len(), DEFAULTS.len());
        let watch = km.help(Some(Context::Watch));
        assert!(watch
            .iter()
            .any(|r| r.context == Context::Watch && r.help.contains("pause")));
    }

    /// The manual's key table (docs/tui.md) names every action by its config
    /// name, with its default keys, so it stays true as bindings are added.
    #[test]
    fn key_page_lists_every_binding() {
        let readme = include_str!("../../docs/tui.md");
        for &(_, _, name, keys, _) in DEFAULTS {
            let row = readme
                .lines()
                .find(|l| l.starts_with('|') && l.trim_end().ends_with(&format!("| `{name}` |")))
                .unwrap_or_else(|| panic!("docs/tui.md key table has no row for `{name}`"));
            for k in keys {
                assert!(
                    row.contains(&format!("`{k}`")),
                    "docs/tui.md row for {name} lacks `{k}`: {row}"
                );
            }
        }
    }
}
