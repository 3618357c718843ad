//! Paths given on the command line are relative to the current folder, not
//! to the checkout atelier was built from (issue 32 item 10).

use std::path::Path;
use std::process::Command;

use crate::util::write_pattern;

/// The binary run in `cwd` with `home` as `$ATELIER_HOME` (where relative
/// config paths and the bundled library resolve) and no user config.
fn atelier(cwd: &Path, home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_atelier"));
    c.env("XDG_CONFIG_HOME", "/nonexistent-atelier-test-config")
        .env("ATELIER_HOME", home)
        .env("RUST_BACKTRACE", "0")
        .current_dir(cwd);
    c
}

#[test]
fn a_relative_data_dir_and_dataset_are_relative_to_the_current_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let (cwd, home) = (tmp.path().join("here"), tmp.path().join("home"));
    std::fs::create_dir_all(cwd.join("ds")).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    crate::util::stdout_ok(atelier(&cwd, &home).args(["--data-dir", "d1", "runs", "ls"]));
    assert!(
        cwd.join("d1/atelier.db").is_file(),
        "not in the current folder"
    );
    assert!(!home.join("d1").exists(), "written beside the checkout");
    for i in 0..4 {
        write_pattern(&cwd.join(format!("ds/p{i}.png")), 64 + i, 64);
    }
    let style = cwd.join("style.png");
    write_pattern(&style, 48, 48);
    let added = crate::util::stdout_ok(atelier(&cwd, &home).args([
        "--data-dir",
        "d1",
        "queue",
        "add",
        "train",
        "style.png",
        "--dataset",
        "ds",
        "--json",
    ]));
    let run: serde_json::Value = serde_json::from_str(&added).unwrap();
    let id = run["id"].as_i64().unwrap_or_else(|| panic!("{added}"));
    let shown = crate::util::stdout_ok(atelier(&cwd, &home).args([
        "--data-dir",
        "d1",
        "runs",
        "show",
        &id.to_string(),
        "--json",
    ]));
    let want = serde_json::to_string(&cwd.join("ds")).unwrap();
    assert!(shown.contains(&want), "{want} not in {shown}");
}
