//! The PostgreSQL store beyond the shared contract (tests/store_contract.rs):
//! its schema's versions, leases between hosts, and how a server that
//! cannot be used is reported. Each test has a database of its own on the
//! server `ATELIER_TEST_PG` names (`make test` starts one with
//! scripts/pg_test_server.sh).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use atelier::queue::store::postgres::{PostgresBackend, LATEST};
use atelier::queue::store::{Finish, HistoryStore, OnInterrupted, QueueStore, WorkerStore};
use atelier::queue::{Status, Store, StoreError};

/// A database of its own for one test, dropped with it.
pub struct TestDb {
    pub url: String,
    admin: String,
    name: String,
}

impl TestDb {
    /// A new empty database on the test server; `None`, after saying the
    /// test skipped, when no server is given. Under CI a missing server
    /// fails the test: CI must never skip these silently.
    pub fn new() -> Option<TestDb> {
        let Some(admin) = std::env::var("ATELIER_TEST_PG")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "ATELIER_TEST_PG not set: under CI the PostgreSQL tests must run \
                 (make test starts a server with scripts/pg_test_server.sh)"
            );
            eprintln!("skipped: ATELIER_TEST_PG not set");
            return None;
        };
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "atelier_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        admin_client(&admin)
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        Some(TestDb {
            url: with_database(&admin, &name),
            admin,
            name,
        })
    }

    /// A connection of the test's own, beside atelier's.
    pub fn client(&self) -> postgres::Client {
        admin_client(&self.url)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = admin_client(&self.admin).batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

fn admin_client(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("the test server {url}: {e}"))
}

/// `url` naming database `name` instead of its own.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let (scheme, rest) = base.split_once("://").expect("a postgres:// URL");
    let authority = rest.split('/').next().unwrap_or(rest);
    let mut out = format!("{scheme}://{authority}/{name}");
    if let Some(q) = query {
        out = format!("{out}?{q}");
    }
    out
}

/// `url` signing in as `user` with `password`.
fn as_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{user}:{password}@{host}")
}

#[test]
fn the_schema_is_made_once_and_a_newer_or_foreign_one_is_refused() {
    let Some(db) = TestDb::new() else { return };
    // Hosts starting at once: one migrates, the others find it done.
    let openers: Vec<_> = (0..4)
        .map(|_| {
            let url = db.url.clone();
            std::thread::spawn(move || PostgresBackend::open(&url).map(|_| ()))
        })
        .collect();
    for o in openers {
        o.join().unwrap().unwrap();
    }
    let backend = PostgresBackend::open(&db.url).unwrap();
    assert_eq!(backend.schema_version().unwrap(), LATEST);
    assert_eq!(backend.migrate().unwrap(), LATEST, "nothing left to do");
    drop(backend);

    db.client()
        .execute("UPDATE atelier_schema SET version = $1", &[&(LATEST + 1)])
        .unwrap();
    let newer = PostgresBackend::open(&db.url).err().expect("refused");
    assert!(matches!(newer, StoreError::TooNew { .. }), "{newer}");
    assert!(newer.to_string().contains(&db.url), "{newer}");

    let Some(other) = TestDb::new() else { return };
    other
        .client()
        .batch_execute("CREATE TABLE invoices (n int); INSERT INTO invoices VALUES (7)")
        .unwrap();
    let foreign = PostgresBackend::open(&other.url).err().expect("refused");
    assert!(matches!(foreign, StoreError::Foreign { .. }), "{foreign}");
    let tables: i64 = other
        .client()
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 1, "the foreign database is left as it was");
}

/// A worker on another host is alive while its lease is fresh (its PID
/// means nothing here); once its lease expired, its run goes to the next
/// claimer as a new attempt and the old worker's result is refused.
#[test]
fn a_worker_whose_lease_expired_loses_its_run_to_the_next_claimer() {
    let Some(db) = TestDb::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_at(dir.path(), Some(&db.url)).unwrap();
    let spec = crate::util::chelsea_spec(32, 2);
    let id = store.add(&spec, &[], 0).unwrap();
    let far = "elsewhere:999999";
    let run = store.claim(far, "cpu").unwrap().unwrap();
    assert_eq!((run.id, run.attempts), (id, 1));

    assert!(
        store.recover(60.0).unwrap().is_empty(),
        "its lease is fresh"
    );
    db.client()
        .execute(
            "UPDATE runs SET heartbeat = heartbeat - 120 WHERE id = $1",
            &[&id],
        )
        .unwrap();
    assert_eq!(store.recover(60.0).unwrap(), vec![id]);
    store.requeue_interrupted(OnInterrupted::Resume).unwrap();
    let here = "here:1";
    let again = store.claim(here, "cpu").unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (id, 2));
    assert!(!store.heartbeat(id, far).unwrap(), "the old lease is gone");
    let late = store.finish_failed(id, far, "late");
    assert!(matches!(late, Err(StoreError::NotOwner { .. })), "{late:?}");
    let out = Path::new("/out.png");
    let backend = PostgresBackend::open(&db.url).unwrap();
    backend
        .finish(
            id,
            here,
            Finish::Done {
                output: out,
                outcome: "{}",
            },
        )
        .unwrap();
    let r = backend.get(id).unwrap();
    assert_eq!((r.status, r.crashes), (Status::Done, 1));
    assert!(backend.running().unwrap().is_empty());
}

#[test]
fn an_unreachable_server_or_a_wrong_password_is_one_clear_line() {
    let refused = PostgresBackend::open("postgres://ann:s3cret@127.0.0.1:1/studio")
        .err()
        .expect("nothing listens on port 1");
    let line = refused.to_string();
    assert!(
        line.starts_with("database postgres://ann@127.0.0.1:1/studio: error connecting"),
        "{line}"
    );
    assert!(line.contains("refused"), "says why: {line}");
    assert!(!line.contains("s3cret") && !line.contains('\n'), "{line}");

    let Some(db) = TestDb::new() else { return };
    db.client()
        .batch_execute(
            "DO $$ BEGIN CREATE ROLE atelier_pw LOGIN PASSWORD 'right';
             EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        )
        .unwrap();
    let wrong = PostgresBackend::open(&as_user(&db.url, "atelier_pw", "wrong"))
        .err()
        .expect("a wrong password is refused");
    let line = wrong.to_string();
    assert!(
        line.contains("password authentication failed for user \"atelier_pw\""),
        "{line}"
    );
    assert!(!line.contains("wrong") && !line.contains('\n'), "{line}");
}

#[test]
fn a_store_url_opens_the_server_and_keeps_run_folders_in_the_data_folder() {
    let Some(db) = TestDb::new() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_at(dir.path(), Some(&db.url)).unwrap();
    assert_eq!(store.path(), Path::new(&db.url));
    let id = store
        .add(&crate::util::chelsea_spec(32, 2), &[], 0)
        .unwrap();
    assert_eq!(
        store.run_dir(id),
        dir.path().join("runs").join(id.to_string())
    );
    let backend = PostgresBackend::open(&db.url).unwrap();
    assert_eq!(backend.workers().unwrap().len(), 0);
    assert_eq!(backend.get(id).unwrap().status, Status::Queued);
}
