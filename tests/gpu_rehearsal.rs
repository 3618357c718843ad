//! The GPU check rehearsed on the CPU (`scripts/gpu_check.sh --rehearse DIR`): the
//! whole script at toy sizes, so that it is known to work before it runs on a GPU.

use std::path::Path;
use std::process::Command;

use crate::util::{atelier_in, json_output, root, weights_path};

/// The names of the bundled networks (models/*.safetensors).
fn bundled_networks() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("models"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            let stem = p.file_stem()?.to_string_lossy().into_owned();
            (p.extension()? == "safetensors").then_some(stem)
        })
        .collect();
    names.sort();
    names
}

/// `atelier models show FILE`, parsed; the file applied to a photo (with a painting when
/// the model takes one) must give an image.
fn check_candidate(file: &Path, data: &Path, name: &str) {
    let info = json_output(atelier_in(data).args(["models", "show"]).arg(file));
    let width = info["arbitrary"]["width"]
        .as_f64()
        .or_else(|| info["info"]["arch"]["width"].as_f64());
    assert_eq!(
        width,
        Some(1.0),
        "{name}: not trained at full width: {info}"
    );
    let takes_style = info.get("arbitrary").is_some()
        || info["style_names"].as_array().is_some_and(|s| s.len() > 1);
    let out = data.join(format!("{name}.png"));
    let mut apply = atelier_in(data);
    apply.arg("apply").arg(file).arg("chelsea");
    if takes_style {
        apply.args(["--style", "irises"]);
    }
    let run = apply
        .args(["--size", "32", "--device", "cpu", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success() && out.exists(),
        "{name}: apply refused the candidate: {}",
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn the_rehearsal_runs_every_stage_and_retrains_every_bundled_network() {
    weights_path();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = Command::new("bash")
        .arg(root().join("scripts/gpu_check.sh"))
        .arg("--rehearse")
        .arg(&out)
        .env("BIN", env!("CARGO_BIN_EXE_atelier"))
        .env("TMPDIR", dir.path())
        .output()
        .unwrap();
    let summary = std::fs::read_to_string(out.join("summary.txt")).unwrap_or_default();
    let failures: Vec<&str> = summary.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(
        failures.is_empty() && run.status.success(),
        "failures: {failures:?}\n{summary}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // Each stage wrote its part.
    for part in [
        "== smoke",
        "PASS Gatys at 64 px",
        "PASS a worker ran both queued runs",
        "== train",
        "INFO held-out scores took",
        "== bench",
        "PASS Gatys s/eval at 64 px",
        "PASS 10 L-BFGS evaluations at 64 px",
        "0 failure(s)",
    ] {
        assert!(summary.contains(part), "no '{part}' in:\n{summary}");
    }
    let log = std::fs::read_to_string(out.join("gpu_check.log")).unwrap();
    assert!(log.contains("== bench"), "the log stops early:\n{log}");
    assert!(out.join("details.tar.gz").is_file());
    // Every bundled network: applied in the smoke stage, trained, scored with a verdict,
    // timed in the bench, and a candidate model atelier accepts.
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    for name in bundled_networks() {
        for part in [
            format!("PASS apply {name} on cpu"),
            format!("PASS train {name}"),
            format!("PASS score {name}: stylize loss candidate/bundled"),
            format!("INFO verdict {name}: "),
            format!("PASS apply candidate-{name} at 64 px"),
        ] {
            assert!(summary.contains(&part), "no '{part}' in:\n{summary}");
        }
        check_candidate(
            &out.join(format!("models/{name}.safetensors")),
            &data,
            &name,
        );
    }
    // One network is stopped by its budget, as every one is on a GPU: the model is
    // the checkpoint written at the stop.
    assert!(
        summary.contains(" s budget; saving the checkpoint of iteration"),
        "{summary}"
    );
}
