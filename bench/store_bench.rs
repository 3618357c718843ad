//! The run store under load, SQLite against PostgreSQL (`make bench-store`,
//! docs/studio.md): claims per second with 1, 4 and 16 workers (threads, each
//! with its own connection, as processes would have), and the latency from
//! queuing a run to a worker taking it while workers poll an empty queue.
//!
//! PostgreSQL is the server `ATELIER_TEST_PG` names (the bench makes a
//! database of its own there); without it only SQLite is measured.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atelier::engine::infra::device::DeviceKind;
use atelier::jobs::Job;
use atelier::queue::store::postgres::PostgresBackend;
use atelier::queue::store::sqlite::{SqliteBackend, DB_FILE};
use atelier::queue::store::{Backend, Claim, Finish, NewRun};

/// Runs queued for the throughput measure, and for the latency one.
const CLAIMS: usize = 400;
const LATENCY_RUNS: usize = 40;
/// How often an idle worker looks at the queue in the latency measure.
const POLL: Duration = Duration::from_millis(100);

type Open = Arc<dyn Fn() -> Box<dyn Backend> + Send + Sync>;

fn new_run() -> NewRun {
    NewRun {
        kind: "stylize".into(),
        spec: Job::Stylize(Default::default())
            .spec_json()
            .expect("the default spec serialises"),
        inputs: "[]".into(),
        priority: 0,
        device_kind: None,
        device_defaults: None,
    }
}

fn claim(worker: &str) -> Claim<'_> {
    Claim {
        worker,
        device: "cpu",
        device_kind: DeviceKind::Cpu,
        kinds: &Job::KINDS,
    }
}

/// Claims and finishes every queued run with `workers` threads; claims/s.
fn throughput(open: &Open, workers: usize) -> f64 {
    let db = open();
    for _ in 0..CLAIMS {
        db.enqueue(&new_run(), 1).expect("enqueue");
    }
    let start = Instant::now();
    let threads: Vec<_> = (0..workers)
        .map(|i| {
            let open = open.clone();
            std::thread::spawn(move || {
                let db = open();
                let me = format!("bench:{i}");
                while let Some(run) = db.claim(&claim(&me)).expect("claim") {
                    let done = Finish::Done {
                        output: std::path::Path::new("/dev/null"),
                        outcome: "{}",
                    };
                    db.finish(run.id, &me, done).expect("finish");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a worker thread panicked");
    }
    CLAIMS as f64 / start.elapsed().as_secs_f64()
}

/// Median and 95th percentile (ms) from queuing a run to its claim, with
/// `workers` threads polling every [`POLL`].
fn latency(open: &Open, workers: usize) -> (f64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let queued: Arc<Mutex<std::collections::HashMap<i64, Instant>>> = Arc::default();
    let waits: Arc<Mutex<Vec<f64>>> = Arc::default();
    let threads: Vec<_> = (0..workers)
        .map(|i| {
            let (open, stop) = (open.clone(), stop.clone());
            let (queued, waits) = (queued.clone(), waits.clone());
            std::thread::spawn(move || {
                let db = open();
                let me = format!("bench:{i}");
                while !stop.load(Ordering::SeqCst) {
                    match db.claim(&claim(&me)).expect("claim") {
                        Some(run) => {
                            let took = Instant::now();
                            // The queuer records its time just after enqueue returns.
                            let at = loop {
                                if let Some(t) = queued.lock().expect("lock").get(&run.id) {
                                    break *t;
                                }
                                std::thread::yield_now();
                            };
                            let ms = took.saturating_duration_since(at).as_secs_f64() * 1e3;
                            waits.lock().expect("lock").push(ms);
                        }
                        None => std::thread::sleep(POLL),
                    }
                }
            })
        })
        .collect();
    let db = open();
    for i in 0..LATENCY_RUNS {
        let id = db.enqueue(&new_run(), 1).expect("enqueue");
        queued.lock().expect("lock").insert(id, Instant::now());
        // Spread over the poll phase so the figure is not one phase's.
        std::thread::sleep(POLL * 3 / 2 + Duration::from_millis((i % 7) as u64 * 11));
    }
    while waits.lock().expect("lock").len() < LATENCY_RUNS {
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().expect("a worker thread panicked");
    }
    let mut w = waits.lock().expect("lock").clone();
    w.sort_by(f64::total_cmp);
    (w[w.len() / 2], w[w.len() * 95 / 100])
}

/// A fresh SQLite store in a temporary folder.
fn sqlite() -> (Open, Box<dyn std::any::Any>) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let path = dir.path().join(DB_FILE);
    let open: Open = Arc::new(move || Box::new(SqliteBackend::open(&path).expect("SQLite")));
    (open, Box::new(dir))
}

/// A fresh database on the server at `admin`.
fn postgres(admin: &str, n: usize) -> (Open, Box<dyn std::any::Any>) {
    let name = format!("atelier_bench_{}_{n}", std::process::id());
    let mut c = postgres::Client::connect(admin, postgres::NoTls).expect("the server");
    c.batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("a database");
    let base = admin.split('?').next().unwrap_or(admin);
    let url = format!("{}/{name}", base.rsplit_once('/').map_or(base, |(b, _)| b));
    let open: Open = Arc::new(move || Box::new(PostgresBackend::open(&url).expect("PostgreSQL")));
    (open, Box::new(c))
}

fn main() {
    let admin = std::env::var("ATELIER_TEST_PG")
        .ok()
        .filter(|u| !u.is_empty());
    println!("| store | workers | claims/s | queue → claim, median | 95th percentile |");
    println!("|---|---|---|---|---|");
    let mut n = 0;
    for store in ["SQLite", "PostgreSQL"] {
        for workers in [1, 4, 16] {
            n += 1;
            let fresh = || match (store, &admin) {
                ("SQLite", _) => Some(sqlite()),
                (_, Some(admin)) => Some(postgres(admin, n)),
                _ => None,
            };
            let Some((open, _keep)) = fresh() else {
                eprintln!("PostgreSQL skipped: ATELIER_TEST_PG not set");
                break;
            };
            let rate = throughput(&open, workers);
            let (median, p95) = latency(&open, workers);
            println!("| {store} | {workers} | {rate:.0} | {median:.0} ms | {p95:.0} ms |");
        }
    }
}
