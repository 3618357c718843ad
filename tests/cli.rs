//! `atelier stylize` end to end through the binary: a tiny real run, every bad
//! input of the core issue, and Ctrl-C.

use crate::util::atelier;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::util::{root, write_pattern};

fn content() -> String {
    root().join("contents/chelsea.png").display().to_string()
}

fn style() -> String {
    root().join("styles/436535.jpg").display().to_string()
}

fn totals(stdout: &str) -> Vec<f64> {
    stdout
        .lines()
        .filter(|l| l.starts_with("step "))
        .map(|l| {
            l.rsplit("total ")
                .next()
                .unwrap()
                .trim()
                .parse::<f64>()
                .unwrap()
        })
        .collect()
}

fn stylize_ok(args: &[&str]) -> Output {
    let out = atelier().arg("stylize").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "stylize failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn stylize_tiny_pair_losses_fall_and_png_is_right() {
    let dir = tempfile::tempdir().unwrap();
    let out_png = dir.path().join("out.png");
    let summary = dir.path().join("summary.json");
    let out = stylize_ok(&[
        &content(),
        &style(),
        "--size",
        "64",
        "--steps",
        "12",
        "--log-every",
        "1",
        "--device",
        "cpu",
        "--seed",
        "3",
        "-o",
        out_png.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let t = totals(&stdout);
    assert!(t.len() >= 10, "{stdout}");
    assert!(
        t.last().unwrap() < &(t[0] * 0.8),
        "losses did not fall: {t:?}"
    );
    assert!(stdout.contains("wrote "), "{stdout}");
    let img = image::open(&out_png).unwrap();
    // chelsea.png is 451x300: the longer side becomes 64, aspect kept.
    assert_eq!((img.width(), img.height()), (64, 43));
    let text = atelier::engine::infra::image_io::read_png_text(&out_png).unwrap();
    let spec = &text
        .iter()
        .find(|(k, _)| k == "atelier:spec")
        .expect("spec chunk")
        .1;
    let spec: atelier::engine::gatys::spec::RunSpec = serde_json::from_str(spec).unwrap();
    assert_eq!((spec.size, spec.steps, spec.seed), (64, 12, 3));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["evals"], 12);
}

#[test]
fn adam_and_library_names_work_too() {
    let dir = tempfile::tempdir().unwrap();
    let out_png = dir.path().join("adam.png");
    let out = stylize_ok(&[
        "coffee",
        "wheat-field-with-cypresses",
        "--optimizer",
        "adam",
        "--size",
        "48",
        "--steps",
        "15",
        "--log-every",
        "1",
        "--device",
        "cpu",
        "-o",
        out_png.to_str().unwrap(),
    ]);
    let t = totals(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(t.len(), 15);
    assert!(t[14] < t[0], "{t:?}");
    assert!(image::open(&out_png).is_ok());
}

#[test]
fn blended_styles_by_library_name() {
    let dir = tempfile::tempdir().unwrap();
    let out_png = dir.path().join("blend.png");
    let out = stylize_ok(&[
        "coffee",
        "--style",
        "wheat-field-with-cypresses:0.7",
        "--style",
        "irises:0.3",
        "--size",
        "40",
        "--steps",
        "3",
        "--device",
        "cpu",
        "-o",
        out_png.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("(0.70) + "), "{stdout}");
    let text = atelier::engine::infra::image_io::read_png_text(&out_png).unwrap();
    let spec = &text.iter().find(|(k, _)| k == "atelier:spec").unwrap().1;
    let spec: atelier::engine::gatys::spec::RunSpec = serde_json::from_str(spec).unwrap();
    assert_eq!(spec.styles.len(), 2);
    assert_eq!((spec.styles[0].weight, spec.styles[1].weight), (0.7, 0.3));
}

#[test]
fn seeded_cpu_runs_are_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str| {
        let p = dir.path().join(name);
        stylize_ok(&[
            &content(),
            &style(),
            "--size",
            "40",
            "--steps",
            "5",
            "--init",
            "noise",
            "--seed",
            "7",
            "--device",
            "cpu",
            "--threads",
            "1",
            "-o",
            p.to_str().unwrap(),
        ]);
        image::open(&p).unwrap().to_rgb8()
    };
    assert_eq!(run("a.png"), run("b.png"));
}

/// Runs stylize expecting failure: one line on stderr containing `want`, a
/// non-zero exit, no panic, and no file at `out`.
fn fails(args: &[&str], out: &Path, want: &str) {
    let o = atelier()
        .arg("stylize")
        .args(args)
        .args(["-o", out.to_str().unwrap(), "--size", "48"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{args:?} succeeded");
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{args:?}: not one line: {stderr}"
    );
    assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    assert!(
        stderr.contains(want),
        "{args:?}: expected '{want}' in: {stderr}"
    );
    assert!(!out.exists(), "{args:?} left {}", out.display());
}

#[test]
fn every_bad_input_gets_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("never.png");
    let (c, s) = (content(), style());
    let path = |name: &str| d.join(name).display().to_string();

    std::fs::write(d.join("empty.jpg"), b"").unwrap();
    std::fs::write(d.join("text.jpg"), b"hello, not a jpeg\n").unwrap();
    write_pattern(&d.join("one.png"), 1, 1);
    let good = std::fs::read(root().join("contents/chelsea.png")).unwrap();
    std::fs::write(d.join("cut.png"), &good[..good.len() / 3]).unwrap();
    std::fs::write(d.join("bad.safetensors"), b"garbage").unwrap();
    std::fs::write(
        d.join("weights.toml"),
        format!("[paths]\nweights = \"{}\"\n", path("bad.safetensors")),
    )
    .unwrap();
    std::fs::write(d.join("typo.toml"), "[run]\nstyle_wieght = 3\n").unwrap();
    std::fs::write(d.join("limit.toml"), "[run]\npixel_limit = 1000\n").unwrap();

    fails(&[&path("missing.png"), &s], &out, "no such file");
    fails(&[&d.display().to_string(), &s], &out, "is a directory");
    fails(&[&c, &path("empty.jpg")], &out, "empty file");
    fails(&[&path("text.jpg"), &s], &out, "not a readable image");
    fails(&[&path("cut.png"), &s], &out, "not a readable image");
    fails(&[&path("one.png"), &s], &out, "too small");
    // A wrong --padding is the parser's to refuse (cli_help).
    fails(
        &[&c, &s, "--config", &path("limit.toml")],
        &out,
        "over the limit",
    );
    fails(
        &[&c, &s, "--style-layers", "relu1_1,relu9_9"],
        &out,
        "unknown layer 'relu9_9'",
    );
    fails(&[&c, &s, "--style-weight=-1"], &out, "invalid style weight");
    fails(
        &[&c, &s, "--content-weight", "NaN"],
        &out,
        "invalid content weight",
    );
    fails(&[&c, &s, "--steps", "0"], &out, "invalid steps");
    fails(
        &[&c, &s, "--config", &path("weights.toml")],
        &out,
        "checksum mismatch",
    );
    fails(
        &[&c, &s, "--config", &path("typo.toml")],
        &out,
        "style_wieght",
    );
    fails(&[&c, &s, "--config", &path("nope.toml")], &out, "nope.toml");
    fails(&[&c, "no-such-painting"], &out, "neither a file nor a name");
    fails(
        &[&c, "--style", &format!("{s}:0.5"), "--style", "irises:-1"],
        &out,
        "invalid style blend weight",
    );
    fails(
        &[&c, "--style", &format!("{s}:0"), "--style", "irises:0"],
        &out,
        "all are 0",
    );
    fails(&[&c, &s, "--style", "irises"], &out, "not both");
    if !tch::Cuda::is_available() {
        fails(&[&c, &s, "--device", "cuda"], &out, "no CUDA device");
    }
    // Unwritable destinations: a missing folder, and a folder that is a file.
    let o = atelier()
        .args(["stylize", &c, &s, "-o", &path("no/dir/x.png")])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not exist"));
    let o = atelier()
        .args([
            "stylize",
            &c,
            &s,
            "-o",
            &format!("{}/x.png", path("text.jpg")),
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
    // An existing output is never overwritten without --force.
    std::fs::write(&out, b"keep me").unwrap();
    let o = atelier()
        .args(["stylize", &c, &s, "-o", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
}

#[test]
fn ctrl_c_stops_cleanly_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out: PathBuf = dir.path().join("cancelled.png");
    let mut child = atelier()
        .args([
            "stylize",
            &content(),
            &style(),
            "--size",
            "64",
            "--steps",
            "5000",
            "--log-every",
            "1",
            "--device",
            "cpu",
        ])
        .args(["-o", out.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    // Wait until the optimisation is running.
    for line in lines.by_ref() {
        if line.unwrap().starts_with("step 3:") {
            break;
        }
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    for _ in lines.by_ref() {}
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("cancelled"));
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(leftovers.is_empty(), "files left: {leftovers:?}");
}

#[test]
fn texture_from_a_tiny_style_loses_style_loss_and_writes_the_png() {
    let dir = tempfile::tempdir().unwrap();
    let out_png = dir.path().join("tex.png");
    let o = atelier()
        .args(["texture", "irises", "--size", "40", "--steps", "10"])
        .args([
            "--seed",
            "4",
            "--log-every",
            "1",
            "--device",
            "cpu",
            "--square",
        ])
        .args(["-o", out_png.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let style_losses: Vec<f64> = stdout
        .lines()
        .filter(|l| l.starts_with("step "))
        .map(|l| {
            assert!(
                l.contains("content 0.0000e0"),
                "content loss in a texture: {l}"
            );
            let v = l.split("style ").nth(1).unwrap();
            v.split_whitespace().next().unwrap().parse().unwrap()
        })
        .collect();
    assert!(style_losses.len() >= 8, "{stdout}");
    let best = style_losses.iter().cloned().fold(f64::INFINITY, f64::min);
    assert!(best < style_losses[0] * 0.8, "{style_losses:?}");
    let img = image::open(&out_png).unwrap();
    assert_eq!((img.width(), img.height()), (40, 40));
    let text = atelier::engine::infra::image_io::read_png_text(&out_png).unwrap();
    let spec = &text.iter().find(|(k, _)| k == "atelier:spec").unwrap().1;
    let spec: atelier::engine::gatys::spec::RunSpec = serde_json::from_str(spec).unwrap();
    assert_eq!(spec.content_weight, 0.0);
    assert!(spec.content_layers.is_empty());
}

#[test]
fn save_every_writes_numbered_snapshots_that_decode() {
    let dir = tempfile::tempdir().unwrap();
    let out_png = dir.path().join("snap.png");
    stylize_ok(&[
        "coffee",
        "irises",
        "--size",
        "40",
        "--steps",
        "7",
        "--save-every",
        "3",
        "--device",
        "cpu",
        "-o",
        out_png.to_str().unwrap(),
    ]);
    let snaps = dir.path().join("snap.snapshots");
    let mut names: Vec<String> = std::fs::read_dir(&snaps)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["step-000003.png", "step-000006.png"]);
    let a = image::open(snaps.join(&names[0])).unwrap().to_rgb8();
    let b = image::open(snaps.join(&names[1])).unwrap().to_rgb8();
    assert_eq!(
        a.dimensions(),
        image::open(&out_png).unwrap().to_rgb8().dimensions()
    );
    // They are the iterates at those steps, not the same image twice.
    assert_ne!(a, b);
}

#[test]
fn memory_estimate_is_within_30_percent_of_the_measured_peak() {
    // Measured: the binary's own VmHWM, reset (via /proc/self/clear_refs) just
    // before the run, so it is the peak resident memory of the run, libtorch and
    // the network included, not of loading the weights. The estimate is the
    // resident memory before the run plus the modelled run bytes.
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("s.json");
    stylize_ok(&[
        "chelsea",
        "irises",
        "--size",
        "96",
        "--steps",
        "5",
        "--device",
        "cpu",
        "-o",
        dir.path().join("m.png").to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
    ]);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    let m = &s["memory"];
    let est = m["estimated_peak_bytes"].as_f64().unwrap();
    let Some(measured) = m["measured_peak_bytes"].as_f64() else {
        eprintln!("no /proc/self/clear_refs here: peak not measured");
        return;
    };
    assert!(
        (est - measured).abs() <= 0.3 * measured,
        "estimate {est} vs measured {measured}"
    );
    assert!(m["estimated_run_bytes"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_run_too_large_for_memory_is_refused_with_a_size_that_fits() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("huge.png");
    let o = atelier()
        .args([
            "stylize", "chelsea", "irises", "--size", "16000", "--steps", "2",
        ])
        .args(["--device", "cpu", "-o", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not enough memory"), "{stderr}");
    assert!(stderr.contains("fits (or pass --force"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn dry_run_prints_the_plan_and_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plan.png");
    let plan = dir.path().join("plan.json");
    let o = stylize_ok(&[
        "chelsea",
        "irises",
        "--size",
        "256",
        "--scales",
        "auto",
        "--steps",
        "60",
        "--device",
        "cpu",
        "--dry-run",
        "-o",
        out.to_str().unwrap(),
        "--summary-json",
        plan.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("dry run: would stylize"), "{stdout}");
    // The painting by its Library name, not its catalogue-numbered file.
    assert!(stdout.contains(" with irises at "), "{stdout}");
    assert!(stdout.contains("over scales 128, 181, 256 px"), "{stdout}");
    assert!(!out.exists(), "a dry run wrote the output");
    let p: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan).unwrap()).unwrap();
    assert_eq!(p["scales"], serde_json::json!([128, 181, 256]));
    let steps: Vec<u64> = p["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(steps.iter().sum::<u64>(), 60);
    // The coarser of the two coarse scales costs half as much per step.
    assert!(steps[0] > steps[1], "{steps:?}");
    assert_eq!(p["size"], serde_json::json!([256, 170]));
    assert!(p["memory"]["estimated_run_bytes"].as_u64().unwrap() > 0);
    // A plan is checked like a run: a bad one is refused.
    fails(
        &["chelsea", "irises", "--scales", "auto", "--dry-run"],
        &out,
        "smaller than the first pyramid scale",
    );
}

#[test]
fn queue_add_refuses_options_it_would_ignore_and_queues_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let o = atelier()
        .args([
            "queue",
            "add",
            "chelsea",
            "irises",
            "--size",
            "48",
            "--dry-run",
        ])
        .args(["--threads", "2", "--data-dir", data])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("does not take --dry-run, --threads:"),
        "{stderr}"
    );
    let ls = atelier()
        .args(["queue", "ls", "--data-dir", data])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&ls.stdout);
    assert!(!listed.contains("chelsea"), "{listed}");
}

/// Ctrl-C during `--save-every` says truthfully what was written: the
/// snapshots kept, and no output (issue 20 item 14).
#[test]
fn ctrl_c_with_snapshots_says_what_it_kept() {
    let dir = tempfile::tempdir().unwrap();
    let out: PathBuf = dir.path().join("cancelled.png");
    let mut child = atelier()
        .args([
            "stylize",
            &content(),
            &style(),
            "--size",
            "32",
            "--steps",
            "5000",
        ])
        .args(["--log-every", "1", "--save-every", "1", "--device", "cpu"])
        .args(["-o", out.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        if line.unwrap().starts_with("step 3:") {
            break;
        }
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    for _ in lines.by_ref() {}
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(!out.exists());
    let kept = std::fs::read_dir(dir.path().join("cancelled.snapshots"))
        .unwrap()
        .count();
    assert!(kept >= 1);
    assert!(!err.contains("nothing written"), "{err}");
    let want = format!("{kept} snapshot");
    assert!(err.contains(&want), "expected '{want}' in: {err}");
}
