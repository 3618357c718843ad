//! The store's contract, written against its traits: every backend runs the
//! same tests. Each test takes a [`Fixture`], whose `open` gives another
//! handle on one store (another connection, as another process or host
//! would have); a backend adds one `contract!` line with its fixture
//! (`None`: the backend's server is not there, the test says it skipped).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use atelier::engine::gatys::spec::RunSpec;
use atelier::engine::infra::device::DeviceKind;
use atelier::jobs::Job;
use atelier::queue::store::history::Order;
use atelier::queue::store::postgres::PostgresBackend;
use atelier::queue::store::sqlite::{SqliteBackend, DB_FILE};
use atelier::queue::store::{Backend, Claim, Filter, Finish, LedgerRun, NewRun, OnInterrupted};
use atelier::queue::{Input, ItemState, Point, RollbackRecord, Status, StoreError};

/// One store for one test.
pub struct Fixture {
    open: Box<dyn Fn() -> Box<dyn Backend>>,
    /// What holds the store (a folder, a database), dropped with it.
    _holder: Box<dyn std::any::Any>,
}

fn sqlite() -> Option<Fixture> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DB_FILE);
    Some(Fixture {
        open: Box::new(move || Box::new(SqliteBackend::open(&path).unwrap())),
        _holder: Box::new(dir),
    })
}

/// A database of its own on the test server.
fn postgres() -> Option<Fixture> {
    let db = crate::store_pg::TestDb::new()?;
    let url = db.url.clone();
    Some(Fixture {
        open: Box::new(move || Box::new(PostgresBackend::open(&url).unwrap())),
        _holder: Box::new(db),
    })
}

/// Every contract test, instantiated for a backend's fixture.
macro_rules! contract {
    ($backend:ident, $fixture:expr) => {
        mod $backend {
            contract!(@tests $fixture;
                enqueue_allocates_ids_above_the_floor_and_every_run,
                claims_follow_priority_and_two_claimers_never_share_a_run,
                a_claim_takes_only_known_kinds_and_the_asked_device,
                a_heartbeat_counts_only_from_the_owning_worker,
                a_run_finishes_exactly_once,
                requeue_puts_the_run_first_and_only_its_worker_may,
                cancel_before_while_and_after_running,
                reorder_and_priority,
                a_stale_run_is_recovered_once_and_fails_at_the_crash_limit,
                history_filters_gets_and_deletes,
                history_searches_orders_and_pages,
                samples_checkpoints_and_rollbacks,
                ledger_items_outputs_and_failures,
                paused_rules,
                worker_registration);
        }
    };
    (@tests $fixture:expr; $($name:ident),*) => {
        $(#[test]
        fn $name() {
            if let Some(f) = $fixture {
                super::$name(&f);
            }
        })*
    };
}

contract!(sqlite_backend, super::sqlite());
contract!(postgres_backend, super::postgres());

const W1: &str = "host-a:1";
const W2: &str = "host-b:2";

fn run(priority: i64) -> NewRun {
    run_with(priority, &[])
}

fn run_with(priority: i64, inputs: &[Input]) -> NewRun {
    NewRun {
        kind: "stylize".into(),
        spec: Job::Stylize(RunSpec::default()).spec_json().unwrap(),
        inputs: serde_json::to_string(inputs).unwrap(),
        priority,
        device_kind: None,
        device_defaults: None,
    }
}

fn style(path: &str) -> Input {
    Input {
        role: atelier::jobs::Role::Style,
        name: None,
        path: PathBuf::from(path),
        sha256: "-".into(),
    }
}

fn claim<'a>(worker: &'a str) -> Claim<'a> {
    Claim {
        worker,
        device: "cpu",
        device_kind: DeviceKind::Cpu,
        kinds: &Job::KINDS,
    }
}

fn claimed(db: &dyn Backend, worker: &str) -> Option<i64> {
    db.claim(&claim(worker)).unwrap().map(|r| r.id)
}

fn status(db: &dyn Backend, id: i64) -> Status {
    db.get(id).unwrap().status
}

fn enqueue_allocates_ids_above_the_floor_and_every_run(f: &Fixture) {
    let db = (f.open)();
    let a = db.enqueue(&run(0), 1).unwrap();
    let b = db.enqueue(&run(0), 40).unwrap();
    let c = db.enqueue(&run(0), 1).unwrap();
    assert!(b >= 40 && b > a, "{a} {b}");
    assert!(c > b, "{b} {c}");
    let r = db.get(c).unwrap();
    assert_eq!((r.status, r.attempts, r.worker), (Status::Queued, 0, None));
    assert!(matches!(db.get(999), Err(StoreError::NoSuchRun(999))));
}

fn claims_follow_priority_and_two_claimers_never_share_a_run(f: &Fixture) {
    let db = (f.open)();
    let low = db.enqueue(&run(0), 1).unwrap();
    let high = db.enqueue(&run(5), 1).unwrap();
    assert_eq!(claimed(db.as_ref(), W1), Some(high));
    assert_eq!(claimed(db.as_ref(), W1), Some(low));
    assert_eq!(claimed(db.as_ref(), W1), None);
    let r = db.get(high).unwrap();
    assert_eq!((r.status, r.worker.as_deref()), (Status::Running, Some(W1)));
    assert_eq!((r.attempts, r.device.as_deref()), (1, Some("cpu")));

    // Two handles claim concurrently until the queue is empty: every run
    // is taken, none twice.
    let ids: HashSet<i64> = (0..12).map(|_| db.enqueue(&run(0), 1).unwrap()).collect();
    let claimers: Vec<_> = [W1, W2]
        .into_iter()
        .map(|w| {
            let db = (f.open)();
            std::thread::spawn(move || {
                std::iter::from_fn(|| claimed(db.as_ref(), w)).collect::<Vec<_>>()
            })
        })
        .collect();
    let got: Vec<i64> = claimers
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(got.len(), ids.len(), "a run was claimed twice: {got:?}");
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), ids);
}

fn a_claim_takes_only_known_kinds_and_the_asked_device(f: &Fixture) {
    let db = (f.open)();
    let future = db
        .enqueue(
            &NewRun {
                kind: "hologram".into(),
                ..run(9)
            },
            1,
        )
        .unwrap();
    let gpu = db
        .enqueue(
            &NewRun {
                device_kind: Some(DeviceKind::Cuda),
                device_defaults: Some("size".into()),
                ..run(5)
            },
            1,
        )
        .unwrap();
    let any = db.enqueue(&run(0), 1).unwrap();
    assert_eq!(claimed(db.as_ref(), W1), Some(any));
    assert_eq!(claimed(db.as_ref(), W1), None);
    let cuda = Claim {
        device: "cuda:0",
        device_kind: DeviceKind::Cuda,
        ..claim(W2)
    };
    let r = db.claim(&cuda).unwrap().unwrap();
    assert_eq!(r.id, gpu);
    assert_eq!(r.device_kind.as_deref(), Some("cuda"));
    assert!(r.device_defaults.size && !r.device_defaults.steps);
    assert_eq!(status(db.as_ref(), future), Status::Queued);
    assert_eq!(db.get(future).unwrap().job.kind(), "hologram");
}

fn a_heartbeat_counts_only_from_the_owning_worker(f: &Fixture) {
    let db = (f.open)();
    let id = db.enqueue(&run(0), 1).unwrap();
    assert!(!db.heartbeat(id, W1).unwrap(), "not running yet");
    claimed(db.as_ref(), W1);
    assert!(db.heartbeat(id, W1).unwrap());
    assert!(!db.heartbeat(id, W2).unwrap());
    assert!(db.get(id).unwrap().heartbeat.is_some());
}

fn a_run_finishes_exactly_once(f: &Fixture) {
    let db = (f.open)();
    let id = db.enqueue(&run(0), 1).unwrap();
    claimed(db.as_ref(), W1);
    let stranger = db.finish(id, W2, Finish::Failed { error: "no" });
    assert!(
        matches!(stranger, Err(StoreError::NotOwner { .. })),
        "{stranger:?}"
    );
    let done = Finish::Done {
        output: Path::new("/out.png"),
        outcome: "{}",
    };
    db.finish(id, W1, done).unwrap();
    let again = db.finish(id, W1, Finish::Failed { error: "late" });
    assert!(
        matches!(again, Err(StoreError::NotOwner { .. })),
        "{again:?}"
    );
    let r = db.get(id).unwrap();
    assert_eq!(r.status, Status::Done);
    assert_eq!(r.output.as_deref(), Some(Path::new("/out.png")));
    assert_eq!((r.error, r.finished.is_some()), (None, true));
    assert!(db.finish(77, W1, Finish::Cancelled).is_err());

    let failed = db.enqueue(&run(0), 1).unwrap();
    claimed(db.as_ref(), W1);
    db.finish(failed, W1, Finish::Failed { error: "boom" })
        .unwrap();
    assert_eq!(db.get(failed).unwrap().error.as_deref(), Some("boom"));
    let cancelled = db.enqueue(&run(0), 1).unwrap();
    claimed(db.as_ref(), W1);
    db.finish(cancelled, W1, Finish::Cancelled).unwrap();
    assert_eq!(status(db.as_ref(), cancelled), Status::Cancelled);
}

fn requeue_puts_the_run_first_and_only_its_worker_may(f: &Fixture) {
    let db = (f.open)();
    let a = db.enqueue(&run(0), 1).unwrap();
    let b = db.enqueue(&run(0), 1).unwrap();
    assert_eq!(claimed(db.as_ref(), W1), Some(a));
    db.set_resume_point(a, W1, Path::new("/snap.png"), 7)
        .unwrap();
    assert!(db.requeue(a, W2).is_err());
    db.requeue(a, W1).unwrap();
    let order: Vec<i64> = db.queue().unwrap().iter().map(|r| r.id).collect();
    assert_eq!(order, vec![a, b]);
    let r = db.get(a).unwrap();
    assert_eq!((r.status, r.worker), (Status::Queued, None));
    assert_eq!(r.resume_step, Some(7), "it resumes from its snapshot");
    assert!(
        db.finish(a, W1, Finish::Cancelled).is_err(),
        "no longer W1's"
    );
    assert_eq!(claimed(db.as_ref(), W2), Some(a));
    assert_eq!(db.get(a).unwrap().attempts, 2);
}

fn cancel_before_while_and_after_running(f: &Fixture) {
    let db = (f.open)();
    let queued = db.enqueue(&run(0), 1).unwrap();
    assert_eq!(db.cancel(queued).unwrap(), Status::Cancelled);
    assert!(db.cancel_requested(queued).is_ok());
    let running = db.enqueue(&run(0), 1).unwrap();
    claimed(db.as_ref(), W1);
    assert!(!db.cancel_requested(running).unwrap());
    assert_eq!(db.cancel(running).unwrap(), Status::Running);
    assert!(db.cancel_requested(running).unwrap());
    db.finish(running, W1, Finish::Cancelled).unwrap();
    let after = db.cancel(running);
    assert!(
        matches!(after, Err(StoreError::WrongStatus { .. })),
        "{after:?}"
    );
    assert!(matches!(db.cancel(99), Err(StoreError::NoSuchRun(99))));
    assert!(db.cancel_requested(99).unwrap(), "a run that is gone stops");
}

fn reorder_and_priority(f: &Fixture) {
    let db = (f.open)();
    let ids: Vec<i64> = (0..3).map(|_| db.enqueue(&run(0), 1).unwrap()).collect();
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    db.move_to(c, 1).unwrap();
    let order =
        |db: &dyn Backend| -> Vec<i64> { db.queue().unwrap().iter().map(|r| r.id).collect() };
    assert_eq!(order(db.as_ref()), vec![c, a, b]);
    db.set_priority(b, 3).unwrap();
    assert_eq!(order(db.as_ref()), vec![b, c, a]);
    db.move_to(b, 3).unwrap();
    assert_eq!(order(db.as_ref()), vec![c, a, b]);
    assert_eq!(db.get(b).unwrap().priority, 0, "it takes its neighbour's");
    assert!(matches!(
        db.set_priority(99, 1),
        Err(StoreError::NoSuchRun(99))
    ));
    claimed(db.as_ref(), W1);
    let moved = db.move_to(c, 2);
    assert!(
        matches!(moved, Err(StoreError::WrongStatus { .. })),
        "{moved:?}"
    );
    // Running runs come first, queued ones in the order they will be taken.
    assert_eq!(order(db.as_ref()), vec![c, a, b]);
}

fn a_stale_run_is_recovered_once_and_fails_at_the_crash_limit(f: &Fixture) {
    let db = (f.open)();
    let id = db.enqueue(&run(0), 1).unwrap();
    claimed(db.as_ref(), W1);
    let stale = db.running().unwrap();
    assert_eq!(stale.len(), 1);
    assert_eq!((stale[0].id, stale[0].worker.as_deref()), (id, Some(W1)));
    assert!(stale[0].heartbeat_age.is_some_and(|a| a >= 0.0));
    assert!(db
        .interrupt(&stale[0], Status::Interrupted, "gone")
        .unwrap());
    assert!(
        !db.interrupt(&stale[0], Status::Interrupted, "gone")
            .unwrap(),
        "a second recoverer finds it moved on"
    );
    let r = db.get(id).unwrap();
    assert_eq!((r.status, r.crashes), (Status::Interrupted, 1));
    assert!(
        db.finish(id, W1, Finish::Cancelled).is_err(),
        "the stale worker's result is dropped"
    );
    assert_eq!(db.requeue_interrupted(OnInterrupted::Leave).unwrap(), 0);
    assert_eq!(db.requeue_interrupted(OnInterrupted::Resume).unwrap(), 1);
    assert_eq!(claimed(db.as_ref(), W2), Some(id));
    let again = db.running().unwrap().remove(0);
    assert_eq!(again.crashes, 1);
    assert!(db
        .interrupt(&again, Status::Failed, "crashed twice")
        .unwrap());
    let r = db.get(id).unwrap();
    assert_eq!((r.status, r.crashes), (Status::Failed, 2));
    assert_eq!(r.error.as_deref(), Some("crashed twice"));
    assert!(r.finished.is_some());

    // Restart forgets the resume point.
    let other = db.enqueue(&run(0), 1).unwrap();
    claimed(db.as_ref(), W1);
    db.set_resume_point(other, W1, Path::new("/s.png"), 3)
        .unwrap();
    let r = db.running().unwrap().remove(0);
    db.interrupt(&r, Status::Interrupted, "gone").unwrap();
    assert_eq!(db.requeue_interrupted(OnInterrupted::Restart).unwrap(), 1);
    let r = db.get(other).unwrap();
    assert_eq!((r.status, r.resume_step), (Status::Queued, None));
    assert!(db.checkpoints(other).unwrap().is_empty());
}

fn history_filters_gets_and_deletes(f: &Fixture) {
    let db = (f.open)();
    let irises = db
        .enqueue(&run_with(0, &[style("/art/Irises.jpg")]), 1)
        .unwrap();
    let wheat = db
        .enqueue(&run_with(0, &[style("/art/wheat.jpg")]), 1)
        .unwrap();
    let third = db.enqueue(&run(0), 1).unwrap();
    db.cancel(third).unwrap();
    let ids =
        |filter: Filter| -> Vec<i64> { db.list(&filter).unwrap().iter().map(|r| r.id).collect() };
    assert_eq!(
        ids(Filter::default()),
        vec![third, wheat, irises],
        "newest first"
    );
    let queued = Filter {
        statuses: vec![Status::Queued],
        ..Filter::default()
    };
    assert_eq!(ids(queued.clone()), vec![wheat, irises]);
    let one = Filter {
        limit: Some(1),
        ..queued
    };
    assert_eq!(ids(one), vec![wheat]);
    let iris = Filter {
        style: Some("iris".into()),
        ..Filter::default()
    };
    assert_eq!(ids(iris), vec![irises]);
    assert_eq!(
        db.get(irises).unwrap().inputs,
        vec![style("/art/Irises.jpg")]
    );

    claimed(db.as_ref(), W1);
    let refused = db.delete(irises);
    assert!(
        matches!(refused, Err(StoreError::WrongStatus { .. })),
        "{refused:?}"
    );
    db.delete(third).unwrap();
    assert!(matches!(db.get(third), Err(StoreError::NoSuchRun(_))));
    assert!(matches!(db.delete(third), Err(StoreError::NoSuchRun(_))));
}

/// History's search (any input's name, else its file name; kind, status,
/// `#id`), order and pages, as the TUI asks for them.
fn history_searches_orders_and_pages(f: &Fixture) {
    let db = (f.open)();
    let photo = |name: Option<&str>, path: &str| Input {
        name: name.map(str::to_string),
        ..style(path)
    };
    let inputs = [
        photo(Some("chelsea"), "/p/chelsea.png"),
        photo(Some("coffee"), "/p/a.png"),
        photo(Some("astronaut"), "/p/b.png"),
        photo(Some("coffee"), "/p/c.png"),
        photo(None, "/photos/rocket.png"),
    ];
    let ids: Vec<i64> = inputs
        .iter()
        .map(|i| {
            db.enqueue(&run_with(0, std::slice::from_ref(i)), 1)
                .unwrap()
        })
        .collect();
    let list = |f: Filter| -> Vec<i64> { db.list(&f).unwrap().iter().map(|r| r.id).collect() };
    let text = |t: &str| Filter {
        text: Some(t.into()),
        ..Filter::default()
    };
    assert_eq!(list(text("CHELSEA")), vec![ids[0]], "the oldest, by name");
    assert_eq!(list(text("coffee")), vec![ids[3], ids[1]]);
    assert_eq!(db.count(&text("coffee")).unwrap(), 2);
    assert_eq!(list(text("rocket")), vec![ids[4]], "unnamed: its file name");
    assert!(list(text("photos")).is_empty(), "not its folder");
    assert_eq!(list(text(&format!("#{}", ids[2]))), vec![ids[2]]);
    assert_eq!(list(text("stylize")).len(), 5);
    let page = |offset, limit| Filter {
        offset,
        limit: Some(limit),
        ..Filter::default()
    };
    assert_eq!(list(page(1, 2)), vec![ids[3], ids[2]]);
    assert_eq!(list(page(4, 10)), vec![ids[0]]);
    assert_eq!(
        db.count(&page(4, 1)).unwrap(),
        5,
        "the count ignores the page"
    );
    db.cancel(ids[1]).unwrap();
    let by_status = Filter {
        order: Order::Status,
        ..page(0, 2)
    };
    assert_eq!(
        list(by_status),
        vec![ids[1], ids[4]],
        "cancelled before queued"
    );
    assert_eq!(list(text("cancel")), vec![ids[1]]);
}

fn samples_checkpoints_and_rollbacks(f: &Fixture) {
    let db = (f.open)();
    let id = db.enqueue(&run(0), 1).unwrap();
    let point = |step: i64, series: &str, value: f64| Point {
        step,
        series: series.into(),
        value,
        seconds: step as f64,
    };
    db.add_points(
        id,
        &[
            point(1, "total", 9.0),
            point(1, "style", 5.0),
            point(2, "total", 8.0),
        ],
    )
    .unwrap();
    db.add_points(id, &[point(2, "total", 7.5)]).unwrap();
    let all = db.points_since(id, i64::MIN).unwrap();
    assert_eq!(
        all,
        vec![
            point(1, "style", 5.0),
            point(1, "total", 9.0),
            point(2, "total", 7.5)
        ]
    );
    assert_eq!(
        db.points_since(id, 1).unwrap(),
        vec![point(2, "total", 7.5)]
    );

    claimed(db.as_ref(), W1);
    db.set_resume_point(id, W1, Path::new("/snap.png"), 10)
        .unwrap();
    db.set_resume_point(id, W1, Path::new("/ckpt-20.pt"), 20)
        .unwrap();
    db.set_resume_point(id, W1, Path::new("/snap.png"), 30)
        .unwrap();
    let steps: Vec<(i64, PathBuf)> = db
        .checkpoints(id)
        .unwrap()
        .into_iter()
        .map(|c| (c.step, c.path))
        .collect();
    assert_eq!(
        steps,
        vec![(20, "/ckpt-20.pt".into()), (30, "/snap.png".into())]
    );
    assert!(db.set_resume_point(id, W2, Path::new("/x"), 1).is_err());

    let rollback = |eval: i64, loss: f64| RollbackRecord {
        eval,
        to_eval: eval - 2,
        loss: Some(loss),
        reason: "jump".into(),
        remedy: "halved".into(),
    };
    db.add_rollbacks(id, &[rollback(9, 1e9), rollback(4, f64::INFINITY)])
        .unwrap();
    db.add_rollbacks(id, &[rollback(9, 2e9)]).unwrap();
    let got = db.rollbacks(id).unwrap();
    assert_eq!(got.iter().map(|r| r.eval).collect::<Vec<_>>(), vec![4, 9]);
    assert_eq!((got[0].loss, got[1].loss), (None, Some(2e9)));

    db.finish(id, W1, Finish::Cancelled).unwrap();
    db.delete(id).unwrap();
    assert!(db.points_since(id, i64::MIN).unwrap().is_empty());
    assert!(db.checkpoints(id).unwrap().is_empty());
    assert!(db.rollbacks(id).unwrap().is_empty());
}

fn ledger_run(style: &str) -> LedgerRun {
    LedgerRun {
        run: run(0),
        style: style.into(),
        output_dir: "/out".into(),
    }
}

fn ledger_items_outputs_and_failures(f: &Fixture) {
    let db = (f.open)();
    let photo = Path::new("/in/cat.png");
    let runs = [ledger_run("irises"), ledger_run("wheat")];
    let ids = db
        .queue_watched("cam", "abc", photo, &runs, 50)
        .unwrap()
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] >= 50 && ids[1] > ids[0], "{ids:?}");
    assert!(
        (f.open)()
            .queue_watched("cam", "abc", photo, &runs, 1)
            .unwrap()
            .is_none(),
        "the same content is queued once"
    );
    assert_eq!(db.queue().unwrap().len(), 2);
    let item = db.watch_item("cam", "abc").unwrap().unwrap();
    assert_eq!(
        (item.state, item.path.as_path()),
        (ItemState::Queued, photo)
    );
    assert!(db.watch_item("other", "abc").unwrap().is_none());

    let pending = db.pending_outputs("cam").unwrap();
    assert_eq!(pending.iter().map(|p| p.run_id).collect::<Vec<_>>(), ids);
    assert_eq!(pending[0].status, Some(Status::Queued));
    db.set_output_target(ids[0], Path::new("/out/cat-irises.png"))
        .unwrap();
    assert_eq!(
        db.pending_outputs("cam").unwrap()[0].target.as_deref(),
        Some(Path::new("/out/cat-irises.png"))
    );
    db.finish_output(ids[0], Ok(Path::new("/out/cat-irises.png")))
        .unwrap();
    assert!(
        db.settle_items("cam").unwrap().is_empty(),
        "one output still pending"
    );

    // The second run fails because its input changed; the item is failed
    // and can be queued again in place of that output.
    claimed(db.as_ref(), W1);
    claimed(db.as_ref(), W1);
    db.finish(
        ids[1],
        W1,
        Finish::Failed {
            error: "input changed since queued",
        },
    )
    .unwrap();
    db.finish_output(ids[1], Err("its run failed")).unwrap();
    let settled = db.settle_items("cam").unwrap();
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].state, ItemState::Failed);
    assert_eq!(settled[0].error.as_deref(), Some("wheat: its run failed"));
    assert!(db.settle_items("cam").unwrap().is_empty(), "settled once");
    let counts = db.watch_counts("cam").unwrap();
    assert_eq!(
        (counts.queued, counts.done, counts.failed, counts.delivered),
        (0, 0, 1, 1)
    );
    assert_eq!(db.unmoved_items("cam").unwrap().len(), 1);
    db.set_item_moved(item.id, Path::new("/done/cat.png"))
        .unwrap();
    assert!(db.unmoved_items("cam").unwrap().is_empty());

    let changed = db.failures_containing("cam", "changed since").unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!((changed[0].1, changed[0].2.as_str()), (ids[1], "wheat"));
    let retry = db
        .requeue_watched(item.id, &[ids[1]], &[ledger_run("wheat")], 1)
        .unwrap();
    let retry = retry.unwrap();
    assert!(retry[0] > ids[1]);
    assert!(
        db.requeue_watched(item.id, &[ids[1]], &[ledger_run("wheat")], 1)
            .unwrap()
            .is_none(),
        "another watcher retried it first"
    );
    assert_eq!(
        db.watch_item("cam", "abc").unwrap().unwrap().state,
        ItemState::Queued
    );
    assert!(matches!(
        db.finish_output(999, Ok(photo)),
        Err(StoreError::NoSuchRun(999))
    ));

    // An input that could not be queued: recorded once, refreshed, cleared.
    db.record_watch_failure(
        "cam",
        "path:/in/bad.png",
        None,
        Path::new("/in/bad.png"),
        "not an image",
    )
    .unwrap();
    db.record_watch_failure(
        "cam",
        "path:/in/bad.png",
        None,
        Path::new("/in/bad.png"),
        "still not",
    )
    .unwrap();
    let failures = db.watch_failures("cam", 10).unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].reason, "still not");
    assert_eq!(db.watch_items("cam").unwrap().len(), 2);
    db.clear_watch_failure("cam", "path:/in/bad.png").unwrap();
    assert_eq!(db.watch_items("cam").unwrap().len(), 1);
}

fn paused_rules(f: &Fixture) {
    let (a, b) = ((f.open)(), (f.open)());
    a.set_rule_paused("camera", true).unwrap();
    a.set_rule_paused("camera", true).unwrap();
    assert_eq!(
        b.paused_rules().unwrap(),
        HashSet::from(["camera".to_string()])
    );
    b.set_rule_paused("camera", false).unwrap();
    assert!(a.paused_rules().unwrap().is_empty());
}

fn worker_registration(f: &Fixture) {
    let db = (f.open)();
    db.register_worker(W1, 1, "host-a", "cuda:0").unwrap();
    let mut seen = Vec::new();
    let device = db
        .register_worker_choosing(W2, 2, "host-a", &mut |workers| {
            seen = workers.iter().map(|w| w.device.clone()).collect();
            "cuda:1".into()
        })
        .unwrap();
    assert_eq!(
        (device.as_str(), seen),
        ("cuda:1", vec!["cuda:0".to_string()])
    );
    let workers = db.workers().unwrap();
    assert_eq!(
        workers.iter().map(|w| w.id.as_str()).collect::<Vec<_>>(),
        vec![W1, W2]
    );
    assert_eq!((workers[1].pid, workers[1].host.as_str()), (2, "host-a"));

    let id = db.enqueue(&run(0), 1).unwrap();
    claimed(db.as_ref(), W1);
    db.heartbeat(id, W1).unwrap();
    assert_eq!(db.workers().unwrap()[0].current_run, Some(id));
    db.worker_idle(W1).unwrap();
    assert_eq!(db.workers().unwrap()[0].current_run, None);
    // Recovering its run unregisters the dead worker.
    let stale = db.running().unwrap().remove(0);
    db.interrupt(&stale, Status::Interrupted, "gone").unwrap();
    assert_eq!(db.workers().unwrap().len(), 1);
    db.unregister_worker(W2).unwrap();
    assert!(db.workers().unwrap().is_empty());
}
