//! Model files record no folders of the machine that made them: paintings by
//! file name, catalogue id, title and sha256, datasets by name and manifest
//! hash (the bundled ones travel with the repository).

use std::path::Path;

use crate::util::{atelier_in, root, small_photos, stdout_ok};

/// The beginnings of absolute paths on the machines models are made on.
const MACHINE_FOLDERS: [&str; 4] = ["/work/", "/tmp/", "/home/", "/root/"];

fn folders_in(file: &Path, extra: &Path) -> Vec<String> {
    let bytes = std::fs::read(file).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    MACHINE_FOLDERS
        .iter()
        .map(|s| s.to_string())
        .chain([extra.display().to_string()])
        .filter(|s| text.contains(s.as_str()))
        .collect()
}

#[test]
fn bundled_models_contain_no_absolute_path() {
    let mut n = 0;
    for e in std::fs::read_dir(root().join("models")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "safetensors") {
            n += 1;
            let found = folders_in(&p, &root());
            assert!(found.is_empty(), "{} holds {found:?}", p.display());
        }
    }
    assert!(n >= 5, "the bundled models are there ({n})");
}

#[test]
fn a_fresh_training_records_paintings_and_datasets_without_folders() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let photos = small_photos(dir.path());
    stdout_ok(
        atelier_in(&data)
            .arg("train")
            .arg(root().join("styles/36029.jpg"))
            .arg("--dataset")
            .arg(&photos)
            .args(["--size", "32", "--style-size", "64", "--batch", "1"])
            .args([
                "--iterations",
                "2",
                "--width",
                "0.25",
                "--preview-every",
                "0",
            ])
            .args(["-o", "toy"]),
    );
    let file = data.join("models/toy.safetensors");
    let found = folders_in(&file, dir.path());
    assert!(found.is_empty(), "the model holds {found:?}");
    let info = atelier::engine::fast::model_file::read_info(&file).unwrap();
    let meta = serde_json::to_value(&info).unwrap();
    // What it does record: the painting by its catalogue entry, the dataset by
    // name and manifest.
    let bytes = std::fs::read(&file).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(r#"\"id\":\"36029\""#), "{text:.2000}");
    assert!(text.contains("Water-moon Avalokiteshvara"), "{text:.2000}");
    let ds = &meta["dataset"];
    assert_eq!(ds["name"], "photos");
    assert_eq!(ds["manifest_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(ds["images"], 3);
}
