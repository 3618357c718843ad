//! The panes, in the order of their tabs.

use super::keymap::Context;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Tab {
    #[default]
    Library,
    Compose,
    Queue,
    Live,
    History,
    Watch,
}

impl Tab {
    pub const ALL: [Tab; 6] = [
        Tab::Library,
        Tab::Compose,
        Tab::Queue,
        Tab::Live,
        Tab::History,
        Tab::Watch,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Library => "Library",
            Tab::Compose => "Compose",
            Tab::Queue => "Queue",
            Tab::Live => "Live",
            Tab::History => "History",
            Tab::Watch => "Watch",
        }
    }

    /// Place in the tab bar, from 0.
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    pub fn next(self) -> Self {
        Self::ALL[(self.index() + 1) % Self::ALL.len()]
    }

    pub fn prev(self) -> Self {
        Self::ALL[(self.index() + Self::ALL.len() - 1) % Self::ALL.len()]
    }

    /// Where the pane's key bindings live.
    pub fn context(self) -> Context {
        match self {
            Tab::Library => Context::Library,
            Tab::Compose => Context::Compose,
            Tab::Queue => Context::Queue,
            Tab::Live => Context::Live,
            Tab::History => Context::History,
            Tab::Watch => Context::Watch,
        }
    }
}
