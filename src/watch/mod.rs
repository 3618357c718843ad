//! Drop folders: every image that arrives in a rule's inbox is stylized with
//! the rule's styles and preset, exactly once per content (a ledger in the run
//! database), and the results are delivered to the rule's output folder.
//! Uses the engine and the queue; news goes out as events and through a
//! shared handle, never to a terminal directly.

pub mod arrival;
pub mod complete;
pub mod deliver;
pub mod error;
pub mod intake;
pub mod presence;
pub mod rules;
pub mod source;
pub mod status;
pub mod watcher;

pub use error::WatchError;
pub use rules::{After, Backend, Rule, RuleConfig, WatcherSettings};
pub use status::{RuleState, WatchEvent, WatchHandle};
pub use watcher::{rule_states, Watcher};
