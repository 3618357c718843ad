//! One event type for everything that reaches the UI loop: keys, ticks, and
//! news from the background threads (store, worker, image loader).

use std::sync::mpsc::Sender;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event as TermEvent, KeyEvent, KeyEventKind};

use super::data::Snapshot;
use super::images::Loaded;
use crate::queue::worker::WorkerEvent;

pub enum Event {
    Key(KeyEvent),
    Resize,
    Tick,
    Data(Box<Snapshot>),
    Worker(Box<WorkerEvent>),
    Image(Box<Loaded>),
    /// A Library preview in a painting's style is made (or failed).
    Browse(Box<super::browse::BrowseDone>),
    Notice(String),
    /// The TUI's worker thread ended on an error or a panic: why.
    WorkerStopped(String),
}

/// Reads the terminal in its own thread.
pub fn spawn_input(tx: Sender<Event>) {
    std::thread::Builder::new()
        .name("input".into())
        .spawn(move || loop {
            let ev = match event::read() {
                Ok(TermEvent::Key(k)) if k.kind != KeyEventKind::Release => Event::Key(k),
                Ok(TermEvent::Resize(..)) => Event::Resize,
                Ok(_) => continue,
                Err(_) => return,
            };
            if tx.send(ev).is_err() {
                return;
            }
        })
        .expect("spawning a thread only fails when the OS is out of resources");
}

/// Redraw ticks, so rates and ages stay current.
pub fn spawn_ticker(tx: Sender<Event>, every: Duration) {
    std::thread::Builder::new()
        .name("ticker".into())
        .spawn(move || loop {
            std::thread::sleep(every);
            if tx.send(Event::Tick).is_err() {
                return;
            }
        })
        .expect("spawning a thread only fails when the OS is out of resources");
}
