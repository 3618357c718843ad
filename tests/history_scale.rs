//! History at scale, against a real store: 20,000 runs in a generated SQLite
//! store behind the TUI's store thread, the oldest found by a filter and by
//! scrolling to the end, and opened.

use std::path::Path;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::{Duration, Instant};

use atelier::queue::{Input, Store};
use atelier::tui::app::App;
use atelier::tui::data::{spawn, Command};
use atelier::tui::event::Event;

use crate::tui::{app, press, render};
use crate::util::chelsea_spec;

const TOTAL: usize = 20_000;

/// A store whose oldest run (id 1) painted "lighthouse" and whose 19,999
/// others are copies of one cancelled chelsea run.
fn generated_store(dir: &Path) {
    let store = Store::open(dir).unwrap();
    let s = chelsea_spec(32, 1);
    let named = |content: &str| {
        vec![
            Input {
                role: atelier::jobs::Role::Content,
                name: Some(content.into()),
                path: s.content.clone(),
                sha256: "-".into(),
            },
            Input {
                role: atelier::jobs::Role::Style,
                name: Some("irises".into()),
                path: s.styles[0].path.clone(),
                sha256: "-".into(),
            },
        ]
    };
    let oldest = store.add(&s, &named("lighthouse"), 0).unwrap();
    let other = store.add(&s, &named("chelsea"), 0).unwrap();
    assert_eq!(oldest, 1);
    store.cancel(oldest).unwrap();
    store.cancel(other).unwrap();
    drop(store);
    let db = rusqlite::Connection::open(dir.join("atelier.db")).unwrap();
    let columns: Vec<String> = db
        .prepare("SELECT name FROM pragma_table_info('runs') WHERE name != 'id'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let columns = columns.join(", ");
    let copies = db
        .execute(
            &format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
                 INSERT INTO runs ({columns}) SELECT {columns} FROM runs, n WHERE runs.id = ?2"
            ),
            rusqlite::params![(TOTAL - 2) as i64, other],
        )
        .unwrap();
    assert_eq!(copies, TOTAL - 2);
}

/// The UI end of the store thread: what the app asks goes to the thread,
/// what the thread reads comes back to the app.
struct Wire {
    commands: Sender<Command>,
    events: Receiver<Event>,
}

impl Wire {
    fn new(dir: &Path) -> Wire {
        let (commands, rx) = channel();
        let (tx, events) = channel();
        spawn(
            dir.to_path_buf(),
            60.0,
            Vec::new(),
            tch::Device::Cpu,
            rx,
            tx,
        );
        Wire { commands, events }
    }

    /// Draws, sends what the app asked, and feeds it snapshots until `done`
    /// holds (or a minute passes: the assertion after says what was seen).
    fn settle(&self, a: &mut App, done: impl Fn(&App) -> bool) {
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until {
            render(a, 80, 24);
            for cmd in a.outbox.drain(..) {
                self.commands.send(cmd).unwrap();
            }
            match self.events.recv_timeout(Duration::from_millis(200)) {
                Ok(Event::Data(snap)) => a.on_data(*snap),
                Ok(Event::Notice(n)) => a.say(n),
                Ok(_) | Err(_) => {}
            }
            if done(a) {
                return;
            }
        }
    }
}

#[test]
fn the_oldest_of_20000_runs_is_found_by_a_filter_and_by_scrolling_and_opened() {
    let dir = tempfile::tempdir().unwrap();
    generated_store(dir.path());
    let wire = Wire::new(dir.path());
    let mut a = app(true);
    press(&mut a, "5");
    wire.settle(&mut a, |a| a.snap.history_total == TOTAL);
    let screen = render(&mut a, 80, 24).backend().to_string();
    assert!(screen.contains("History (20000)"), "{screen}");

    // By a filter: the only run with that photo, typed as a newcomer would.
    press(&mut a, "/lighthouse\n");
    wire.settle(&mut a, |a| a.snap.history_total == 1);
    assert_eq!(a.snap.history.iter().map(|r| r.id).collect::<Vec<_>>(), [1]);
    press(&mut a, "\n");
    assert_eq!(a.history.open, Some(1), "the oldest run opened");
    let screen = render(&mut a, 80, 24).backend().to_string();
    assert!(screen.contains(" run 1 "), "{screen}");
    assert!(screen.contains("lighthouse"), "{screen}");

    // By scrolling: the filter cleared, `G` goes to the last page.
    press(&mut a, "\x1b\x1b");
    wire.settle(&mut a, |a| a.snap.history_total == TOTAL);
    press(&mut a, "G");
    wire.settle(&mut a, |a| a.snap.history.iter().any(|r| r.id == 1));
    press(&mut a, "\n");
    assert_eq!(a.history.open, Some(1), "the oldest run opened");
    assert!(a.run(1).is_some());
}
