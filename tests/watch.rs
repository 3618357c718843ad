//! Drop folders through the binary, with real files on disk: bursts, slow and
//! renamed writes, bad inputs, a killed watcher, the poll backend, and one
//! small end-to-end run with a worker. Each test has its own folders and
//! `--data-dir`; timings are short (quiet 0.3 s).

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use atelier::queue::{Filter, Run, Store};

use crate::util::{json_output, root, write_pattern};

struct Env {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    inbox: PathBuf,
    out: PathBuf,
    data: PathBuf,
    config: PathBuf,
}

/// A folder set and a config with one rule `t` (tiny preset) plus `extra`
/// lines in its [[watch]] table.
fn env(extra: &str, quiet: f64) -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let (inbox, out, data) = (dir.join("inbox"), dir.join("out"), dir.join("data"));
    for d in [&inbox, &out, &data] {
        std::fs::create_dir_all(d).unwrap();
    }
    let style = dir.join("style.png");
    write_pattern(&style, 64, 64);
    let config = dir.join("config.toml");
    let styles = if extra.contains("styles") {
        String::new()
    } else {
        format!("styles = [{:?}]\n", style.display().to_string())
    };
    std::fs::write(
        &config,
        format!(
            "[presets.tiny]\nsize = 32\nsteps = 1\npixel_limit = 300000\n\
             [watcher]\nquiet = {quiet}\nopen_grace = 3.0\nreconcile_every = 1.0\n\
             poll_interval = 0.1\ndebounce = 0.05\n\
             [[watch]]\nname = \"t\"\ninbox = {:?}\noutput = {:?}\npreset = \"tiny\"\n{styles}{extra}\n",
            inbox.display().to_string(),
            out.display().to_string(),
        ),
    )
    .unwrap();
    Env {
        _tmp: tmp,
        dir,
        inbox,
        out,
        data,
        config,
    }
}

fn atelier(e: &Env) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_atelier"));
    c.env("XDG_CONFIG_HOME", "/nonexistent-atelier-test-config")
        .env("ATELIER_HOME", root())
        .env("RUST_BACKTRACE", "0")
        .arg("--config")
        .arg(&e.config)
        .arg("--data-dir")
        .arg(&e.data);
    c
}

/// A watcher process, killed when dropped.
struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn log(e: &Env) -> String {
    std::fs::read_to_string(e.dir.join("watch.log")).unwrap_or_default()
}

/// Starts `atelier watch` with its output appended to `<dir>/watch.log`, and
/// waits until it says it is watching (loading libtorch can take a while on a
/// busy machine; files written before that would only be found by the scan).
fn watch(e: &Env, args: &[&str]) -> Watch {
    watch_as(e, args, false)
}

/// `setpriv`, to run the watcher as `nobody` when the tests run as root (where
/// permissions do not stop reads), if it is installed.
fn setpriv() -> Option<PathBuf> {
    let root_user = unsafe { libc::geteuid() } == 0;
    ["/usr/bin/setpriv", "/bin/setpriv"]
        .iter()
        .map(PathBuf::from)
        .find(|p| root_user && p.exists())
}

fn watch_as(e: &Env, args: &[&str], nobody: bool) -> Watch {
    watch_until(e, args, nobody, "] watching ")
}

/// Starts `atelier watch` and waits until its log says `ready` once more.
fn watch_until(e: &Env, args: &[&str], nobody: bool, ready: &str) -> Watch {
    let before = log(e).matches(ready).count();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(e.dir.join("watch.log"))
        .unwrap();
    let mut cmd = atelier(e);
    if nobody {
        let bin = cmd.get_program().to_owned();
        let mut c = Command::new(setpriv().expect("setpriv"));
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(bin)
            .args(cmd.get_args())
            .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))));
        cmd = c;
    }
    let w = Watch(
        cmd.arg("watch")
            .args(args)
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap(),
    );
    wait_until(e, "the watcher to start", Duration::from_secs(60), || {
        log(e).matches(ready).count() > before
    });
    w
}

fn wait_until(e: &Env, what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        if start.elapsed() > limit {
            panic!("timed out waiting for {what}; watcher said:\n{}", log(e));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn runs(e: &Env) -> Vec<Run> {
    if !e.data.join("atelier.db").exists() {
        return Vec::new();
    }
    Store::open(&e.data)
        .unwrap()
        .list(&Filter::default())
        .unwrap()
}

fn content_sha(r: &Run) -> String {
    r.inputs
        .iter()
        .find(|i| i.role == atelier::jobs::Role::Content)
        .unwrap()
        .sha256
        .clone()
}

fn sha(p: &Path) -> String {
    atelier::engine::nets::weights::sha256_file(p).unwrap()
}

/// A small PNG that differs from every other `i`.
fn image(path: &Path, i: u32) {
    let img = image::RgbImage::from_fn(40, 36, |x, y| {
        if (x, y) == (0, 0) {
            image::Rgb([(i % 256) as u8, (i / 256 % 256) as u8, 77])
        } else {
            image::Rgb([(x * 6) as u8, (y * 7) as u8, 128])
        }
    });
    img.save(path).unwrap();
}

/// Settled: the watcher has made two more passes over the inbox, so what it
/// would queue is queued (waits on its reported pass count, not a clock).
fn settle(e: &Env) {
    let passes = || atelier::watch::presence::state(&e.data).map_or(0, |s| s.reconciles);
    let before = passes();
    wait_until(
        e,
        "two more reconcile passes",
        Duration::from_secs(60),
        || passes() >= before + 2,
    );
}

#[test]
fn a_hundred_images_at_once_are_queued_once_each() {
    let e = env("", 0.3);
    let staging = e.dir.join("staging");
    std::fs::create_dir(&staging).unwrap();
    for i in 0..100 {
        image(&staging.join(format!("img{i:03}.png")), i);
    }
    let _w = watch(&e, &["--no-worker"]);
    for i in 0..100 {
        let name = format!("img{i:03}.png");
        std::fs::copy(staging.join(&name), e.inbox.join(&name)).unwrap();
    }
    wait_until(&e, "100 runs", Duration::from_secs(60), || {
        runs(&e).len() >= 100
    });
    settle(&e);
    let all = runs(&e);
    assert_eq!(all.len(), 100);
    let shas: HashSet<String> = all.iter().map(content_sha).collect();
    assert_eq!(shas.len(), 100, "a content was queued twice");
    for i in 0..100 {
        let p = e.inbox.join(format!("img{i:03}.png"));
        assert!(shas.contains(&sha(&p)), "{} missing", p.display());
    }
    assert!(all
        .iter()
        .all(|r| r.params().size == 32 && r.params().steps == 1));
}

#[test]
fn a_slow_chunked_write_is_queued_once_when_complete() {
    let e = env("backend = \"native\"", 0.3);
    let src = e.dir.join("big.png");
    let img = image::RgbImage::from_fn(480, 400, |x, y| {
        image::Rgb([(x * y % 256) as u8, (x ^ y) as u8, (x + 3 * y) as u8])
    });
    img.save(&src).unwrap();
    let bytes = std::fs::read(&src).unwrap();
    let _w = watch(&e, &["--no-worker"]);
    // As scp does: one open file, written in pieces with pauses longer than
    // the quiet period.
    let dest = e.inbox.join("big.png");
    let mut f = std::fs::File::create(&dest).unwrap();
    for chunk in bytes.chunks(bytes.len() / 6 + 1) {
        f.write_all(chunk).unwrap();
        f.flush().unwrap();
        // The writer's pace (scp's): pauses longer than the quiet period
        // (0.3 s), well within the open grace (3 s); the end asserts one run
        // with the whole file's hash.
        std::thread::sleep(Duration::from_millis(600));
        assert!(runs(&e).is_empty(), "queued before the file was complete");
    }
    drop(f);
    wait_until(&e, "the run", Duration::from_secs(20), || {
        !runs(&e).is_empty()
    });
    settle(&e);
    let all = runs(&e);
    assert_eq!(all.len(), 1);
    assert_eq!(content_sha(&all[0]), sha(&src));
    assert_eq!(all[0].params().content, dest);
}

#[test]
fn a_temp_name_renamed_into_place_is_queued_once_under_its_final_name() {
    let e = env("", 0.3);
    let _w = watch(&e, &["--no-worker"]);
    // rsync: .name.XXXXXX, then rename; browsers and others: *.part, *.tmp.
    let mut finals = Vec::new();
    for (i, tmp, fin) in [
        (1, ".photo.png.Xa81b2", "photo.png"),
        (2, "download.png.part", "download.png"),
        (3, "scan.tmp", "scan.png"),
    ] {
        let t = e.inbox.join(tmp);
        let staging = e.dir.join(format!("s{i}.png"));
        image(&staging, i);
        let bytes = std::fs::read(&staging).unwrap();
        let mut f = std::fs::File::create(&t).unwrap();
        for c in bytes.chunks(bytes.len() / 3 + 1) {
            f.write_all(c).unwrap();
            std::thread::sleep(Duration::from_millis(400));
        }
        drop(f);
        settle(&e);
        assert!(
            runs(&e).iter().all(|r| !r.params().content.ends_with(tmp)),
            "a temporary name was taken"
        );
        std::fs::rename(&t, e.inbox.join(fin)).unwrap();
        finals.push((e.inbox.join(fin), sha(&staging)));
    }
    wait_until(&e, "3 runs", Duration::from_secs(20), || {
        runs(&e).len() >= 3
    });
    settle(&e);
    let all = runs(&e);
    assert_eq!(all.len(), 3);
    for (path, s) in finals {
        let r: Vec<&Run> = all.iter().filter(|r| r.params().content == path).collect();
        assert_eq!(r.len(), 1, "{}", path.display());
        assert_eq!(content_sha(r[0]), s);
    }
}

fn status_json(e: &Env) -> serde_json::Value {
    json_output(atelier(e).args(["watch", "status", "--json"]))
}

#[test]
fn bad_inputs_are_reported_with_their_reason_and_the_rest_continue() {
    let e = env("", 1.0);
    let outside = e.dir.join("outside.png");
    image(&outside, 7);
    // As root, permissions do not stop reads: run the watcher as nobody (the
    // folders opened up for it) so an unreadable file really is unreadable.
    let nobody = setpriv().is_some();
    if nobody {
        use std::os::unix::fs::PermissionsExt;
        let open = |p: &Path, mode| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        open(&e.dir, 0o755);
        for d in [&e.inbox, &e.out, &e.data] {
            open(d, 0o777);
        }
    }
    let unreadable_is_testable = nobody || unsafe { libc::geteuid() } != 0;
    let _w = watch_as(&e, &["--no-worker"], nobody);
    let inbox = &e.inbox;
    std::fs::write(inbox.join("empty.png"), b"").unwrap();
    let jpeg = std::fs::read(root().join("contents/rocket.jpg")).unwrap();
    std::fs::write(inbox.join("truncated.jpg"), &jpeg[..jpeg.len() / 2]).unwrap();
    std::fs::write(inbox.join("notes.png"), b"these are notes, not a picture\n").unwrap();
    write_pattern(&inbox.join("huge.png"), 600, 600);
    std::os::unix::fs::symlink(&outside, inbox.join("link.png")).unwrap();
    image(&inbox.join("good.png"), 1);
    image(&inbox.join("gone.png"), 2);
    std::thread::sleep(Duration::from_millis(300));
    std::fs::remove_file(inbox.join("gone.png")).unwrap();
    // Unreadable. If neither we nor the watcher can be an ordinary user, the
    // file is simply read; the reason's wording then rests on a unit test of
    // the error mapping (watch::intake).
    let secret = inbox.join("secret.png");
    image(&secret, 3);
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let want_failed = if unreadable_is_testable { 7 } else { 6 };
    wait_until(&e, "failures and runs", Duration::from_secs(30), || {
        let s = status_json(&e);
        s[0]["counts"]["failed"].as_u64() == Some(want_failed)
            && runs(&e).len() == if unreadable_is_testable { 1 } else { 2 }
    });
    settle(&e);
    let s = status_json(&e);
    let failures: HashMap<String, String> = s[0]["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = PathBuf::from(f["path"].as_str().unwrap());
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                f["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = [
        ("empty.png", "empty file"),
        ("truncated.jpg", "truncated JPEG"),
        ("notes.png", "not a readable image"),
        ("huge.png", "over the limit"),
        ("link.png", "outside the inbox"),
        ("gone.png", "deleted before it was processed"),
    ];
    for (name, why) in expect {
        let got = failures
            .get(name)
            .unwrap_or_else(|| panic!("{name} not reported: {failures:?}"));
        assert!(got.contains(why), "{name}: {got}");
    }
    if unreadable_is_testable {
        let got = &failures["secret.png"];
        assert!(got.contains("permission denied"), "{got}");
    }
    let all = runs(&e);
    assert!(all
        .iter()
        .any(|r| r.params().content == inbox.join("good.png")));
    assert_eq!(all.len(), if unreadable_is_testable { 1 } else { 2 });
    // The text output says the same, one line per failure.
    let out = atelier(&e).args(["watch", "status"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("huge.png") && text.contains("over the limit"),
        "{text}"
    );
}

#[test]
fn a_killed_watcher_restarted_while_files_arrive_takes_each_once() {
    let e = env("", 0.3);
    let staging = e.dir.join("staging");
    std::fs::create_dir(&staging).unwrap();
    let n = 40;
    for i in 0..n {
        image(&staging.join(format!("k{i:02}.png")), 1000 + i);
    }
    let mut w = watch(&e, &["--no-worker"]);
    let writer = {
        let (staging, inbox) = (staging.clone(), e.inbox.clone());
        std::thread::spawn(move || {
            for i in 0..n {
                let name = format!("k{i:02}.png");
                std::fs::copy(staging.join(&name), inbox.join(&name)).unwrap();
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    // Kill it mid-stream (SIGKILL), wait, start again; twice.
    for at in [8, 20] {
        wait_until(&e, "some runs", Duration::from_secs(30), || {
            runs(&e).len() >= at
        });
        w.0.kill().unwrap();
        w.0.wait().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        w = watch(&e, &["--no-worker"]);
    }
    writer.join().unwrap();
    wait_until(&e, "all runs", Duration::from_secs(60), || {
        runs(&e).len() >= n as usize
    });
    settle(&e);
    let all = runs(&e);
    assert_eq!(all.len(), n as usize);
    let shas: HashSet<String> = all.iter().map(content_sha).collect();
    assert_eq!(shas.len(), n as usize);
    drop(w);
}

#[test]
fn a_rule_paused_from_the_tui_is_skipped_until_resumed() {
    let e = env("", 0.3);
    // As the TUI's Watch pane does it: in the database, before the watcher runs.
    Store::open(&e.data)
        .unwrap()
        .set_rule_paused("t", true)
        .unwrap();
    let _w = watch_until(&e, &["--no-worker"], false, "[t] paused");
    image(&e.inbox.join("a.png"), 1);
    settle(&e);
    assert!(runs(&e).is_empty(), "a paused rule took a file");
    assert_eq!(status_json(&e)[0]["paused"], true);
    Store::open(&e.data)
        .unwrap()
        .set_rule_paused("t", false)
        .unwrap();
    // Resumed within a second, and what arrived meanwhile is taken.
    wait_until(
        &e,
        "the file taken on resume",
        Duration::from_secs(20),
        || runs(&e).len() == 1,
    );
    assert!(log(&e).contains("[t] watching"), "{}", log(&e));
    // Paused again while watching: the next file waits.
    Store::open(&e.data)
        .unwrap()
        .set_rule_paused("t", true)
        .unwrap();
    wait_until(&e, "the pause", Duration::from_secs(20), || {
        log(&e).matches("[t] paused").count() == 2
    });
    image(&e.inbox.join("b.png"), 2);
    settle(&e);
    assert_eq!(runs(&e).len(), 1, "a paused rule took a file");
    assert_eq!(status_json(&e)[0]["paused"], true);
}

#[test]
fn the_poll_backend_finds_files_as_the_native_one_does() {
    let e = env("backend = \"poll\"\nrecursive = true", 0.3);
    let _w = watch(&e, &["--no-worker"]);
    image(&e.inbox.join("a.png"), 1);
    std::fs::create_dir(e.inbox.join("sub")).unwrap();
    image(&e.inbox.join("sub/b.png"), 2);
    image(&e.dir.join("c.png"), 3);
    std::fs::rename(e.dir.join("c.png"), e.inbox.join("c.png")).unwrap();
    image(&e.dir.join("d.png"), 4);
    std::fs::copy(e.dir.join("d.png"), e.inbox.join(".d.png.tmp1")).unwrap();
    std::fs::rename(e.inbox.join(".d.png.tmp1"), e.inbox.join("d.png")).unwrap();
    wait_until(&e, "4 runs", Duration::from_secs(20), || {
        runs(&e).len() >= 4
    });
    settle(&e);
    let all = runs(&e);
    assert_eq!(all.len(), 4);
    let names: HashSet<PathBuf> = all.iter().map(|r| r.params().content.clone()).collect();
    for p in ["a.png", "sub/b.png", "c.png", "d.png"] {
        assert!(names.contains(&e.inbox.join(p)), "{p}");
    }
}

#[test]
fn end_to_end_a_worker_runs_them_and_outputs_are_delivered_once() {
    let e = env(
        "styles = [\"irises\", \"wheat-field-with-cypresses\"]\nafter = \"move\"",
        0.3,
    );
    image(&e.inbox.join("before.png"), 1);
    let _w = watch(&e, &["--device", "cpu"]);
    image(&e.inbox.join("after.png"), 2);
    // The name an output would take is already used: a suffix, not an overwrite.
    std::fs::write(e.out.join("after__irises.png"), b"mine").unwrap();
    let outputs = |e: &Env| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&e.out)
            .unwrap()
            .flatten()
            .map(|d| d.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    wait_until(
        &e,
        "4 outputs and moved inputs",
        Duration::from_secs(120),
        || {
            outputs(&e).len() == 5
                && e.inbox.join("processed/before.png").exists()
                && e.inbox.join("processed/after.png").exists()
        },
    );
    assert_eq!(
        outputs(&e),
        [
            "after__irises-2.png",
            "after__irises.png",
            "after__wheat-field-with-cypresses.png",
            "before__irises.png",
            "before__wheat-field-with-cypresses.png",
        ]
    );
    assert_eq!(
        std::fs::read(e.out.join("after__irises.png")).unwrap(),
        b"mine"
    );
    let text =
        atelier::engine::infra::image_io::read_png_text(&e.out.join("before__irises.png")).unwrap();
    let result = &text.iter().find(|(k, _)| k == "atelier:result").unwrap().1;
    let run: serde_json::Value = serde_json::from_str(result).unwrap();
    let id = run["run"].as_i64().unwrap();
    let r = Store::open(&e.data).unwrap().get(id).unwrap();
    assert_eq!(r.input_name(atelier::jobs::Role::Style), "irises");
    assert!(text.iter().any(|(k, _)| k == "atelier:spec"));
    // The same content again under another name: not stylized again, moved.
    std::fs::copy(
        e.inbox.join("processed/before.png"),
        e.inbox.join("again.png"),
    )
    .unwrap();
    wait_until(&e, "the duplicate moved", Duration::from_secs(20), || {
        e.inbox.join("processed/again.png").exists()
    });
    assert_eq!(runs(&e).len(), 4);
    assert_eq!(outputs(&e).len(), 5);
    let s = status_json(&e);
    assert_eq!(s[0]["counts"]["done"], 2);
    assert_eq!(s[0]["counts"]["delivered"], 4);
}

/// A FIFO in the inbox (issue 20 item 4): opening it would block the watcher
/// for good. It is recorded with its reason and later files are still queued.
#[test]
fn a_fifo_in_the_inbox_is_recorded_and_does_not_block_the_watcher() {
    let e = env("", 0.3);
    let _w = watch(&e, &["--no-worker"]);
    let fifo = e.inbox.join("f.png");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    std::thread::sleep(Duration::from_millis(1500));
    image(&e.inbox.join("after.png"), 5);
    wait_until(&e, "the later file queued", Duration::from_secs(30), || {
        runs(&e)
            .iter()
            .any(|r| r.params().content == e.inbox.join("after.png"))
    });
    // A FIFO never reports a close after writing, so it is taken (and
    // refused) once `open_grace` has passed: possibly after the later file.
    let fifo_failure = || {
        status_json(&e)[0]["failures"].as_array().and_then(|fs| {
            fs.iter()
                .find(|f| f["path"].as_str().is_some_and(|p| p.ends_with("f.png")))
                .cloned()
        })
    };
    wait_until(&e, "the FIFO recorded", Duration::from_secs(30), || {
        fifo_failure().is_some()
    });
    let f = fifo_failure().unwrap_or_default();
    assert!(
        f["reason"]
            .as_str()
            .unwrap_or("")
            .contains("a FIFO, not a file"),
        "{f}"
    );
}

/// An inbox moved away (with a file still arriving) and made again records
/// no failure for that file: it was not deleted (issue 20 item 14).
#[test]
fn an_inbox_moved_away_and_recreated_records_no_ghost_failure() {
    let e = env("", 1.5);
    let _w = watch(&e, &["--no-worker"]);
    image(&e.inbox.join("arriving.png"), 9);
    std::thread::sleep(Duration::from_millis(400));
    std::fs::rename(&e.inbox, e.dir.join("inbox.old")).unwrap();
    std::fs::create_dir(&e.inbox).unwrap();
    // The watcher has looked again (two passes: one may have begun before the move).
    settle(&e);
    image(&e.inbox.join("new.png"), 10);
    wait_until(
        &e,
        "the new inbox's file queued",
        Duration::from_secs(30),
        || {
            runs(&e)
                .iter()
                .any(|r| r.params().content == e.inbox.join("new.png"))
        },
    );
    let s = status_json(&e);
    let failures = s[0]["failures"].as_array().unwrap();
    assert!(failures.is_empty(), "ghost failures: {failures:?}");
}

/// Issue 32 item 19: a style named twice would give the same output twice.
#[test]
fn a_rule_naming_a_style_twice_is_refused_with_the_rule_and_the_style() {
    use atelier::watch::{Rule, RuleConfig};
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
    let lib = atelier::engine::fast::models::ModelLibrary::new(
        root().join("models"),
        dir.path().join("models"),
    );
    let rule = |extra: &str| {
        let text = format!(
            "name = \"r\"\ninbox = {:?}\noutput = {:?}\n{extra}\n",
            dir.path().join("inbox").display().to_string(),
            dir.path().join("out").display().to_string()
        );
        let c: RuleConfig = toml::from_str(&text).unwrap();
        Rule::resolve(&c, Default::default(), &root().join("styles"), &lib)
    };
    let irises = root().join("styles/436528.jpg");
    assert!(irises.exists());
    for (extra, names) in [
        (
            "styles = [\"irises\", \"36029\", \"irises\"]",
            vec!["irises"],
        ),
        (
            &format!("styles = [\"irises\", {:?}]", irises.display().to_string()) as &str,
            vec!["irises", "436528.jpg"],
        ),
        (
            "model = \"adain\"\nstyles = [\"36029\", \"36029:2\"]",
            vec!["36029"],
        ),
        ("model = \"cin-eight\"\nstyles = [\"0\", \"0\"]", vec!["0"]),
    ] {
        let e = rule(extra).expect_err(extra).to_string();
        assert!(e.starts_with("watch rule 'r': "), "{e}");
        assert!(e.contains("twice") || e.contains("same"), "{e}");
        for n in names {
            assert!(e.contains(n), "{extra}: {e}");
        }
    }
    rule("styles = [\"irises\", \"36029\"]").unwrap();
}

/// Runs every queued run with an in-process CPU worker that stops when the
/// queue is empty (a worker elsewhere, as far as the watcher can tell).
fn run_worker(e: &Env) {
    use std::sync::atomic::AtomicBool;
    atelier::queue::worker::Worker::new(
        Store::open(&e.data).unwrap(),
        crate::util::worker_config(),
    )
    .run(&AtomicBool::new(false), &mut |_| {})
    .unwrap();
}

fn status_failures(e: &Env) -> Vec<serde_json::Value> {
    status_json(e)[0]["failures"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Issue 32 item 12: a watcher killed after its input's run finished, but
/// before it delivered and moved it, moves it on restart, and does not then
/// report the file it moved itself as "deleted before it was processed".
#[test]
fn an_input_the_restarted_watcher_moves_itself_is_not_reported_deleted() {
    let e = env("after = \"move\"", 0.3);
    let mut w = watch(&e, &["--no-worker"]);
    image(&e.inbox.join("a.png"), 1);
    wait_until(&e, "a queued", Duration::from_secs(30), || {
        runs(&e).len() == 1
    });
    w.0.kill().unwrap();
    w.0.wait().unwrap();
    run_worker(&e);
    let _w = watch(&e, &["--no-worker"]);
    wait_until(&e, "a moved", Duration::from_secs(30), || {
        e.inbox.join("processed/a.png").exists()
    });
    // A later arrival is taken well after the watcher looked at a.png again.
    image(&e.inbox.join("b.png"), 2);
    wait_until(&e, "b queued", Duration::from_secs(30), || {
        runs(&e).len() == 2
    });
    assert_eq!(status_failures(&e), Vec::<serde_json::Value>::new());
    let s = status_json(&e);
    assert_eq!(s[0]["counts"]["failed"], 0, "{s}");
    assert_eq!(s[0]["counts"]["done"], 1, "{s}");
}

/// Issue 32 item 4: a rule's model replaced while the watcher runs is read
/// again (later arrivals are queued with the new one), and an arrival whose
/// run failed because its model changed is queued again with the new one.
#[test]
fn a_replaced_model_is_read_again_and_runs_that_failed_on_it_are_retried() {
    let mdir = tempfile::tempdir().unwrap();
    let model = mdir.path().join("m.safetensors");
    std::fs::copy(root().join("models/irises.safetensors"), &model).unwrap();
    let e = env(
        &format!("model = {:?}\nstyles = []", model.display().to_string()),
        0.3,
    );
    let _w = watch(&e, &["--no-worker"]);
    image(&e.inbox.join("a.png"), 1);
    wait_until(&e, "a queued", Duration::from_secs(30), || {
        runs(&e).len() == 1
    });
    // Replaced as an import does it: a new file renamed into place.
    let tmp = mdir.path().join("m.new");
    std::fs::copy(
        root().join("models/wheat-field-with-cypresses.safetensors"),
        &tmp,
    )
    .unwrap();
    std::fs::rename(&tmp, &model).unwrap();
    let new_sha = sha(&model);
    let model_sha = |r: &Run| {
        r.inputs
            .iter()
            .find(|i| i.role == atelier::jobs::Role::Model)
            .unwrap()
            .sha256
            .clone()
    };
    let of = |name: &str| {
        let p = e.inbox.join(name);
        runs(&e)
            .into_iter()
            .filter(|r| {
                r.inputs
                    .iter()
                    .any(|i| i.role == atelier::jobs::Role::Content && i.path == p)
            })
            .collect::<Vec<Run>>()
    };
    image(&e.inbox.join("b.png"), 2);
    wait_until(&e, "b queued", Duration::from_secs(30), || {
        !of("b.png").is_empty()
    });
    assert_eq!(
        model_sha(&of("b.png")[0]),
        new_sha,
        "b queued with the old model"
    );
    // a's run was queued with the old model: it fails, and is queued again.
    run_worker(&e);
    // The oldest run of a.png: the watcher may have queued (and this worker
    // run) the retry already.
    let runs_of_a = of("a.png");
    let first = runs_of_a.iter().min_by_key(|r| r.id).unwrap();
    assert_eq!(first.status, atelier::queue::Status::Failed);
    assert!(
        first
            .error
            .as_deref()
            .unwrap_or("")
            .contains("changed since"),
        "{:?}",
        first.error
    );
    wait_until(&e, "a queued again", Duration::from_secs(30), || {
        of("a.png").iter().any(|r| model_sha(r) == new_sha)
    });
    run_worker(&e);
    wait_until(&e, "both delivered", Duration::from_secs(30), || {
        let s = status_json(&e);
        s[0]["counts"]["done"] == 2 && s[0]["counts"]["delivered"] == 2
    });
    let s = status_json(&e);
    assert_eq!(s[0]["counts"]["failed"], 0, "{s}");
    assert_eq!(status_failures(&e), Vec::<serde_json::Value>::new());
}

/// The TUI's Watch pane asks whether a watcher runs: true while `atelier
/// watch` runs on the data folder, false once it is killed (no stale state).
#[test]
fn a_running_watcher_is_seen_and_a_killed_one_is_not() {
    let e = env("", 0.3);
    assert!(!atelier::watch::presence::watcher_running(&e.data));
    let mut w = watch(&e, &["--no-worker"]);
    assert!(atelier::watch::presence::watcher_running(&e.data));
    settle(&e);
    let state = atelier::watch::presence::state(&e.data).expect("a running watcher reports");
    assert_eq!(state.pid, w.0.id());
    assert_eq!(state.arriving.get("t"), Some(&0), "{state:?}");
    w.0.kill().unwrap();
    w.0.wait().unwrap();
    assert!(!atelier::watch::presence::watcher_running(&e.data));
    assert_eq!(
        atelier::watch::presence::state(&e.data),
        None,
        "a dead watcher's report says nothing"
    );
}
