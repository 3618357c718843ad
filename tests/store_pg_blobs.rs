//! Files that travel between hosts on the PostgreSQL store: blobs kept by
//! sha256 in chunks, a run queued in one data folder run from another
//! whose worker never saw its files, and exported back from the store.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use atelier::engine::gatys::spec::RunSpec;
use atelier::queue::store::postgres::PostgresBackend;
use atelier::queue::store::{BlobStore, QueueStore, BLOBS_DIR};
use atelier::queue::worker::Worker;
use atelier::queue::{Status, Store};
use sha2::{Digest, Sha256};

use crate::store_pg::TestDb;
use crate::util::{chelsea_spec, worker_config};

fn sha256(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

fn count(db: &TestDb, table: &str) -> i64 {
    db.client()
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .unwrap()
        .get(0)
}

#[test]
fn a_blob_is_stored_once_in_chunks_and_comes_back_whole() {
    let Some(db) = TestDb::new() else { return };
    let backend = PostgresBackend::open(&db.url).unwrap();
    assert!(backend.keeps_blobs());
    // Two and a half chunks.
    let data: Vec<u8> = (0..(5u32 << 19)).map(|i| (i * 7 % 251) as u8).collect();
    let hash = sha256(&data);
    let file = Path::new("/q/clip.mp4");
    for _ in 0..2 {
        backend
            .put_blob(&hash, &mut Cursor::new(&data), file)
            .unwrap();
    }
    assert_eq!((count(&db, "blobs"), count(&db, "blob_chunks")), (1, 3));
    let mut back = Vec::new();
    assert!(backend.get_blob(&hash, &mut back).unwrap());
    assert!(back == data, "the same bytes back");

    // Contents that are not what was hashed: refused, nothing kept.
    let other = sha256(b"what was checked");
    let e = backend
        .put_blob(&other, &mut Cursor::new(b"what is there now"), file)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("/q/clip.mp4: changed since it was checked"),
        "{e}"
    );
    assert_eq!((count(&db, "blobs"), count(&db, "blob_chunks")), (1, 3));
    assert!(!backend.get_blob(&other, &mut Vec::new()).unwrap());
}

#[test]
fn a_server_that_is_away_is_worth_retrying_and_a_wrong_query_is_not() {
    let refused = PostgresBackend::open("postgres://ann@127.0.0.1:1/studio")
        .err()
        .expect("nothing listens on port 1");
    assert!(refused.is_transient(), "{refused}");
    let Some(db) = TestDb::new() else { return };
    let store = Store::open_at(tempfile::tempdir().unwrap().path(), Some(&db.url)).unwrap();
    let missing = store.get(12345).unwrap_err();
    assert!(!missing.is_transient(), "{missing}");
}

/// Copies of the chelsea fixtures in `dir`, and a spec on them.
pub fn spec_on_copies(dir: &Path, size: u32, steps: usize) -> (RunSpec, Vec<PathBuf>) {
    let mut spec = chelsea_spec(size, steps);
    std::fs::create_dir_all(dir).unwrap();
    let content = dir.join("photo.png");
    let style = dir.join("painting.jpg");
    std::fs::copy(&spec.content, &content).unwrap();
    std::fs::copy(&spec.styles[0].path, &style).unwrap();
    spec.content = content.clone();
    spec.styles[0].path = style.clone();
    (spec, vec![content, style])
}

#[test]
fn a_run_queued_on_one_host_runs_on_another_and_is_exported_from_the_store() {
    let Some(db) = TestDb::new() else { return };
    let dirs = tempfile::tempdir().unwrap();
    let (queuer, worker_dir) = (dirs.path().join("queuer"), dirs.path().join("worker"));
    let store = Store::open_at(&queuer, Some(&db.url)).unwrap();
    let (mut spec, files) = spec_on_copies(&dirs.path().join("files"), 32, 2);
    let inputs = atelier::jobs::stylize::inputs(&mut spec, None, &[]).unwrap();
    let id = store.add(&spec, &inputs, 0).unwrap();
    for f in &files {
        std::fs::remove_file(f).unwrap();
    }

    let there = Store::open_at(&worker_dir, Some(&db.url)).unwrap();
    let mut worker = Worker::new(there, worker_config());
    worker.run(&AtomicBool::new(false), &mut |_| {}).unwrap();
    let r = store.get(id).unwrap();
    assert_eq!(r.status, Status::Done, "{:?}", r.error);
    // The worker ran on its own copies, named by hash with their extension.
    let mut cached: Vec<String> = std::fs::read_dir(worker_dir.join(BLOBS_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    cached.sort();
    let mut want: Vec<String> = inputs
        .iter()
        .map(|i| {
            let ext = i.path.extension().unwrap().to_string_lossy();
            format!("{}.{ext}", i.sha256)
        })
        .collect();
    want.sort();
    assert_eq!(cached, want);

    // Its output, written in the worker's folder, comes back from the store.
    let out = dirs.path().join("export.png");
    std::fs::remove_dir_all(&worker_dir).unwrap();
    assert!(store.export_output(&r, &out).unwrap());
    let img = image::open(&out).unwrap();
    assert_eq!(img.width().max(img.height()), 32);
}

#[test]
fn a_run_whose_input_is_nowhere_fails_naming_the_file() {
    let Some(db) = TestDb::new() else { return };
    let dirs = tempfile::tempdir().unwrap();
    let store = Store::open_at(&dirs.path().join("q"), Some(&db.url)).unwrap();
    let (mut spec, files) = spec_on_copies(&dirs.path().join("files"), 32, 2);
    let inputs = atelier::jobs::stylize::inputs(&mut spec, None, &[]).unwrap();
    let id = store.add(&spec, &inputs, 0).unwrap();
    std::fs::remove_file(&files[0]).unwrap();
    // As if the store had lost it: only the row listing it makes it whole.
    db.client()
        .execute("DELETE FROM blobs WHERE sha256 = $1", &[&inputs[0].sha256])
        .unwrap();

    let there = Store::open_at(&dirs.path().join("w"), Some(&db.url)).unwrap();
    Worker::new(there, worker_config())
        .run(&AtomicBool::new(false), &mut |_| {})
        .unwrap();
    let r = store.get(id).unwrap();
    assert_eq!(r.status, Status::Failed);
    let error = r.error.unwrap_or_default();
    assert_eq!(
        error,
        format!(
            "{}: the content is not on this host, and the store has no copy of it",
            inputs[0].path.display()
        )
    );
}

fn blob_rows(db: &TestDb, sha256: &str) -> (i64, i64) {
    let n = |table: &str| -> i64 {
        db.client()
            .query_one(
                &format!("SELECT count(*) FROM {table} WHERE sha256 = $1"),
                &[&sha256],
            )
            .unwrap()
            .get(0)
    };
    (n("blobs"), n("blob_chunks"))
}

/// The worker of a fresh data folder (another host) runs the queue dry.
fn work_elsewhere(db: &TestDb, dir: &Path) {
    let there = Store::open_at(dir, Some(&db.url)).unwrap();
    Worker::new(there, worker_config())
        .run(&AtomicBool::new(false), &mut |_| {})
        .unwrap();
}

#[test]
fn deleting_a_run_drops_the_blobs_no_other_run_needs() {
    let Some(db) = TestDb::new() else { return };
    let dirs = tempfile::tempdir().unwrap();
    let store = Store::open_at(&dirs.path().join("q"), Some(&db.url)).unwrap();
    // Two runs sharing one painting, each on its own photo.
    let (mut gone_spec, files) = spec_on_copies(&dirs.path().join("files"), 32, 2);
    let mut kept_spec = gone_spec.clone();
    kept_spec.content = dirs.path().join("files/other.png");
    image::open(&gone_spec.content)
        .unwrap()
        .fliph()
        .save(&kept_spec.content)
        .unwrap();
    let gone_inputs = atelier::jobs::stylize::inputs(&mut gone_spec, None, &[]).unwrap();
    let kept_inputs = atelier::jobs::stylize::inputs(&mut kept_spec, None, &[]).unwrap();
    let gone = store.add(&gone_spec, &gone_inputs, 0).unwrap();
    work_elsewhere(&db, &dirs.path().join("w1"));
    assert_eq!(store.get(gone).unwrap().status, Status::Done);
    let kept = store.add(&kept_spec, &kept_inputs, 0).unwrap();
    let sha = |inputs: &[atelier::queue::Input], role| {
        inputs
            .iter()
            .find(|i| i.role == role)
            .unwrap()
            .sha256
            .clone()
    };
    let photo = sha(&gone_inputs, atelier::jobs::Role::Content);
    let painting = sha(&gone_inputs, atelier::jobs::Role::Style);
    assert_eq!(painting, sha(&kept_inputs, atelier::jobs::Role::Style));
    let output: String = db
        .client()
        .query_one(
            "SELECT sha256 FROM run_files WHERE run_id = $1 AND name = 'output.png'",
            &[&gone],
        )
        .unwrap()
        .get(0);
    assert_eq!(blob_rows(&db, &photo), (1, 1));
    assert_eq!(blob_rows(&db, &output), (1, 1));

    store.delete(gone).unwrap();
    assert_eq!(blob_rows(&db, &photo), (0, 0), "its own photo goes");
    assert_eq!(blob_rows(&db, &output), (0, 0), "its own output goes");
    assert_eq!(
        blob_rows(&db, &painting),
        (1, 1),
        "the shared painting stays"
    );

    // The other run still runs on a host that never saw its files, and
    // exports from yet another.
    for f in files.iter().chain([&kept_spec.content]) {
        std::fs::remove_file(f).unwrap();
    }
    work_elsewhere(&db, &dirs.path().join("w2"));
    let r = store.get(kept).unwrap();
    assert_eq!(r.status, Status::Done, "{:?}", r.error);
    let elsewhere = Store::open_at(&dirs.path().join("e"), Some(&db.url)).unwrap();
    let out = dirs.path().join("export.png");
    assert!(elsewhere.export_output(&r, &out).unwrap());
    assert!(image::open(&out).is_ok());
}

/// A run is never queued naming a blob the store does not have (one a
/// delete dropped between storing the file and queuing its run).
#[test]
fn a_run_whose_input_blob_is_gone_is_refused_naming_the_file() {
    let Some(db) = TestDb::new() else { return };
    let backend = PostgresBackend::open(&db.url).unwrap();
    let input = atelier::queue::Input {
        role: atelier::jobs::Role::Style,
        name: None,
        path: PathBuf::from("/art/irises.jpg"),
        sha256: sha256(b"irises"),
    };
    let run = atelier::queue::store::NewRun {
        kind: "stylize".into(),
        spec: "{}".into(),
        inputs: serde_json::to_string(&[&input]).unwrap(),
        priority: 0,
        device_kind: None,
        device_defaults: None,
    };
    let e = backend.enqueue(&run, 1).unwrap_err().to_string();
    assert!(
        e.starts_with("/art/irises.jpg: the store's copy was deleted"),
        "{e}"
    );
    assert_eq!(count(&db, "runs"), 0);
    backend
        .put_blob(&input.sha256, &mut Cursor::new(b"irises"), &input.path)
        .unwrap();
    assert!(backend.enqueue(&run, 1).is_ok());
}
