//! Issue 20: the output policy, the input check, config ranges, write
//! failures and the low items, through the library and the binary. Every CLI
//! case here uses `--dry-run` or fails before the run, so none optimises.

use crate::util::atelier;
use std::path::{Path, PathBuf};
use std::process::Output;

use atelier::config::Config;
use atelier::engine::infra::image_io::{decode_rgb, load_rgb, save_png_with};
use atelier::engine::infra::output::{Fault, OutputPolicy};
use proptest::prelude::*;

use crate::util::{root, write_pattern};

fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    atelier().args(args).output().unwrap()
}

/// Asserts `args` failed with one line containing `want`.
fn refused<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(args: &[S], want: &str) -> String {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "{args:?} succeeded");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(want), "{args:?}: expected '{want}' in: {err}");
    err
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// A folder with a content and a style PNG.
fn inputs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("c.png");
    let s = dir.path().join("s.png");
    write_pattern(&c, 48, 40);
    write_pattern(&s, 40, 48);
    (dir, c, s)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

// ---- the output policy (items 1-3) ----

#[test]
fn summary_json_never_overwrites_a_file_or_an_input_even_in_a_dry_run() {
    let (dir, c, st) = inputs();
    let out = dir.path().join("o.png");
    let before = std::fs::read(&c).unwrap();
    let other = dir.path().join("notes.txt");
    std::fs::write(&other, b"keep me").unwrap();
    let base = ["stylize", s(&c), s(&st), "-o", s(&out), "--dry-run"];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|a| a.to_string()).collect()
    };
    refused(
        &with(&["--summary-json", s(&other)]),
        "already exists (pass --force",
    );
    assert_eq!(std::fs::read(&other).unwrap(), b"keep me");
    for force in [false, true] {
        let mut a = with(&["--summary-json", s(&c)]);
        if force {
            a.push("--force".into());
        }
        refused(&a, "is an input of this run");
        assert_eq!(std::fs::read(&c).unwrap(), before, "content replaced");
    }
    refused(&with(&["--summary-json", s(&out)]), "is also the output");
    // A missing folder is an error before the run.
    refused(
        &with(&["--summary-json", s(&dir.path().join("no/such/s.json"))]),
        "does not exist",
    );
    // And a good one gets the plan.
    let ok = dir.path().join("plan.json");
    let o = run(&with(&["--summary-json", s(&ok)]));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(ok.exists());
}

#[test]
fn no_flag_makes_the_output_an_input() {
    let (dir, c, st) = inputs();
    let before = std::fs::read(&c).unwrap();
    refused(
        &[
            "stylize",
            s(&c),
            s(&st),
            "-o",
            s(&c),
            "--force",
            "--dry-run",
        ],
        "is an input of this run",
    );
    // The same file under another name: a hard link, and a relative path.
    let link = dir.path().join("hard.png");
    std::fs::hard_link(&c, &link).unwrap();
    refused(
        &[
            "stylize",
            s(&c),
            s(&st),
            "-o",
            s(&link),
            "--force",
            "--dry-run",
        ],
        "is an input of this run",
    );
    let o = atelier()
        .current_dir(dir.path())
        .args([
            "texture",
            s(&st),
            "-o",
            "./s.png",
            "--force",
            "--size",
            "32",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("is an input of this run"),
        "{err}"
    );
    assert_eq!(std::fs::read(&c).unwrap(), before);
}

#[test]
fn special_files_are_never_replaced_by_an_output() {
    let (dir, c, st) = inputs();
    for target in ["/dev/null".into(), dir.path().join("fifo")] {
        if target != Path::new("/dev/null") {
            mkfifo(&target);
        }
        let e = refused(
            &[
                "stylize",
                s(&c),
                s(&st),
                "-o",
                s(&target),
                "--force",
                "--dry-run",
            ],
            "writes only regular files",
        );
        assert!(e.contains("a device") || e.contains("a FIFO"), "{e}");
    }
    assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
    let p = OutputPolicy::new::<&Path>(true, &[]);
    assert!(p.check(dir.path()).is_err(), "a folder");
    let img = image::RgbImage::new(16, 16);
    assert!(save_png_with(Path::new("/dev/null"), &img, &[], &p).is_err());
}

#[test]
fn a_symlink_output_is_replaced_and_its_target_kept() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.png");
    std::fs::write(&target, b"target").unwrap();
    let link = dir.path().join("link.png");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let img = image::RgbImage::new(16, 16);
    save_png_with(&link, &img, &[], &OutputPolicy::new::<&Path>(true, &[])).unwrap();
    assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
    assert_eq!(std::fs::read(&target).unwrap(), b"target");
    // Unless the link's target is an input.
    let l2 = dir.path().join("l2.png");
    std::os::unix::fs::symlink(&target, &l2).unwrap();
    let p = OutputPolicy::new(true, &[&target]);
    let e = save_png_with(&l2, &img, &[], &p).unwrap_err().to_string();
    assert!(e.contains("is an input"), "{e}");
}

#[test]
fn snapshots_are_not_written_into_an_existing_folder_unless_forced() {
    let (dir, c, st) = inputs();
    let out = dir.path().join("o.png");
    std::fs::create_dir(dir.path().join("o.snapshots")).unwrap();
    refused(
        &[
            "stylize",
            s(&c),
            s(&st),
            "-o",
            s(&out),
            "--save-every",
            "1",
            "--dry-run",
        ],
        "o.snapshots: already exists",
    );
    let o = run(&[
        "stylize",
        s(&c),
        s(&st),
        "-o",
        s(&out),
        "--save-every",
        "1",
        "--dry-run",
        "--force",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

// ---- write failures (item 5: the fault seam) ----

#[test]
fn a_failed_write_leaves_no_partial_file_and_the_old_one_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.png");
    std::fs::write(&out, b"old").unwrap();
    let img = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8, y as u8, 3]));
    for fault in [
        Fault::Io,
        Fault::DiskFull { after: 0 },
        Fault::DiskFull { after: 100 },
    ] {
        let p = OutputPolicy::new::<&Path>(true, &[]).with_fault(fault);
        let e = save_png_with(&out, &img, &[("k", "v".into())], &p)
            .unwrap_err()
            .to_string();
        if matches!(fault, Fault::DiskFull { .. }) {
            assert!(e.contains("No space left on device"), "{e}");
            assert_eq!(e.matches("No space left").count(), 1, "{e}");
        }
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("o.png")], "{fault:?}");
        assert_eq!(std::fs::read(&out).unwrap(), b"old", "{fault:?}");
        let new = dir.path().join("new.png");
        assert!(save_png_with(&new, &img, &[], &p).is_err());
        assert!(!new.exists());
    }
}

// ---- the input check (items 4, 13, truncated files) ----

#[test]
fn special_files_as_inputs_say_what_they_are() {
    let (dir, _c, st) = inputs();
    let fifo = dir.path().join("f.png");
    mkfifo(&fifo);
    let a = dir.path().join("a.png");
    let b = dir.path().join("b.png");
    std::os::unix::fs::symlink(&b, &a).unwrap();
    std::os::unix::fs::symlink(&a, &b).unwrap();
    for (input, want) in [
        (s(&fifo), "a FIFO, not a file"),
        ("/dev/zero", "a device, not a file"),
        (s(&a), "a symlink loop, not a file"),
    ] {
        let o = dir.path().join("o.png");
        refused(&["stylize", input, s(&st), "-o", s(&o), "--dry-run"], want);
        refused(&["show", input], want);
    }
}

fn truncated(dir: &Path) -> Vec<PathBuf> {
    let jpeg = std::fs::read(root().join("contents/rocket.jpg")).unwrap();
    let j = dir.join("cut.jpg");
    std::fs::write(&j, &jpeg[..3000]).unwrap();
    let full = dir.join("full.png");
    write_pattern(&full, 64, 64);
    let png = std::fs::read(&full).unwrap();
    let p = dir.join("cut.png");
    std::fs::write(&p, &png[..png.len() - 20]).unwrap();
    vec![j, p]
}

#[test]
fn truncated_jpegs_and_pngs_are_refused_by_stylize_and_queue_add_alike() {
    let (dir, _c, st) = inputs();
    let data = dir.path().join("data");
    for cut in truncated(dir.path()) {
        let kind = if cut.extension().unwrap() == "jpg" {
            "JPEG"
        } else {
            "PNG"
        };
        let want = format!("{}: not a readable image (truncated {kind}", cut.display());
        let o = dir.path().join("o.png");
        let a = refused(
            &["stylize", s(&cut), s(&st), "-o", s(&o), "--dry-run"],
            &want,
        );
        let b = refused(
            &["--data-dir", s(&data), "queue", "add", s(&cut), s(&st)],
            &want,
        );
        assert_eq!(a, b, "the same message");
        let e = load_rgb(&cut, 1 << 20).unwrap_err().to_string();
        assert!(a.contains(&e), "{a} vs {e}");
    }
}

// ---- config ranges (item 5 of issue 20, run.style_weight of item 14) ----

fn load(text: &str) -> Result<Config, String> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.toml");
    std::fs::write(&p, text).unwrap();
    Config::load(Some(&p), true).map_err(|e| e.to_string())
}

#[test]
fn every_config_duration_is_range_checked_with_its_key() {
    for key in [
        "watcher.quiet",
        "watcher.open_grace",
        "watcher.reconcile_every",
        "watcher.poll_interval",
        "watcher.debounce",
        "worker.poll_interval",
        "worker.stale_after",
    ] {
        let (table, name) = key.split_once('.').unwrap();
        for v in ["1e300", "inf", "nan", "-1.0"] {
            let e = load(&format!("[{table}]\n{name} = {v}\n")).unwrap_err();
            assert!(e.contains(key), "{key} = {v}: {e}");
        }
    }
    let e = load("[run]\nstyle_weight = nan\n").unwrap_err();
    assert!(e.contains("run.style_weight"), "{e}");
    assert!(!e.contains("presets"), "{e}");
    let e = load("[cpu]\nsize = 5\n").unwrap_err();
    assert!(e.contains("cpu.size"), "{e}");
    load("[watcher]\nquiet = 0.5\n[worker]\npoll_interval = 0.2\n").unwrap();
}

/// Every key of the config the defaults have, with a random value.
fn keys() -> Vec<(String, String)> {
    let defaults: toml::Table = include_str!("../config/atelier.toml").parse().unwrap();
    let mut out = Vec::new();
    for (t, v) in &defaults {
        if let toml::Value::Table(tab) = v {
            for (k, v) in tab {
                if !v.is_table() {
                    out.push((t.clone(), k.clone()));
                }
            }
        }
    }
    out
}

fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>().prop_map(|f| if f.is_nan() {
            "nan".to_string()
        } else if f.is_infinite() {
            (if f > 0.0 { "inf" } else { "-inf" }).to_string()
        } else {
            format!("{f:e}")
        }),
        any::<i64>().prop_map(|i| i.to_string()),
        (-5i64..5000).prop_map(|i| i.to_string()),
        (-1.0f64..1e4).prop_map(|f| format!("{f:?}")),
        Just("true".to_string()),
        "[a-z]{0,6}".prop_map(|s| format!("{s:?}")),
        Just("[]".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any value for any key: an error or a valid config, never a panic,
    /// also in what is computed from it (the watcher's and worker's timings).
    #[test]
    fn the_config_reader_never_panics(picks in proptest::collection::vec((any::<prop::sample::Index>(), toml_value()), 1..4)) {
        let keys = keys();
        let mut text = String::new();
        for (i, v) in &picks {
            let (t, k) = &keys[i.index(keys.len())];
            text += &format!("[{t}]\n{k} = {v}\n");
        }
        if let Ok(c) = load(&text) {
            let _ = atelier::watch::rules::Timings::from(&c.watcher);
            let _ = c.worker_config(tch::Device::Cpu, true);
            prop_assert!(c.preset_spec(None, false).is_ok());
        }
    }

    /// Random truncations and byte flips of real files: an error or an
    /// image, never a panic (a hang would time the test out).
    #[test]
    fn the_image_loader_never_panics(which in 0usize..2, cut in 0.0f64..1.0, flips in proptest::collection::vec((0.0f64..1.0, any::<u8>()), 0..6)) {
        let files = [root().join("contents/rocket.jpg"), root().join("contents/chelsea.png")];
        let mut bytes = std::fs::read(&files[which]).unwrap();
        let n = ((bytes.len() as f64) * cut) as usize;
        if !flips.is_empty() {
            for (at, b) in &flips {
                let len = bytes.len();
                let i = ((len as f64) * at) as usize;
                bytes[i.min(len - 1)] ^= b;
            }
        } else {
            bytes.truncate(n);
        }
        if let Ok(img) = decode_rgb(Path::new("x"), &bytes, 1 << 22) {
            prop_assert!(img.width() >= 16 && img.height() >= 16);
        }
    }
}

// ---- the low items of issue 20 ----

#[test]
fn blend_weights_that_overflow_say_so() {
    let (dir, c, _st) = inputs();
    let o = dir.path().join("o.png");
    refused(
        &[
            "stylize",
            s(&c),
            "--style",
            "irises:1e308",
            "--style",
            "the-harvesters:1e308",
            "-o",
            s(&o),
            "--dry-run",
        ],
        "overflows",
    );
}

#[test]
fn adam_with_line_search_is_refused() {
    let (dir, c, st) = inputs();
    let o = dir.path().join("o.png");
    refused(
        &[
            "stylize",
            s(&c),
            s(&st),
            "--optimizer",
            "adam",
            "--line-search",
            "-o",
            s(&o),
            "--dry-run",
        ],
        "line search",
    );
}

#[test]
fn an_os_error_is_said_once() {
    let (dir, c, st) = inputs();
    // A path through a regular file: ENOTDIR.
    let bad = c.join("x.png");
    let o = dir.path().join("o.png");
    let e = refused(
        &["stylize", s(&bad), s(&st), "-o", s(&o), "--dry-run"],
        "Not a directory",
    );
    assert_eq!(e.matches("Not a directory").count(), 1, "{e}");
    assert!(!e.contains("os error"), "{e}");
}

#[test]
fn show_into_a_pipe_writes_no_terminal_escapes() {
    let (_dir, c, _st) = inputs();
    let o = run(&["show", s(&c)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        !o.stdout.contains(&0x1b),
        "escapes in a pipe: {:?}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("48x40"));
}
