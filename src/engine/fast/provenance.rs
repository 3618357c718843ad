//! What a model file records of where its inputs came from, without the
//! folders of the machine that made it: model files travel (git, scp), and a
//! path like `/home/me/checkout/styles/436535.jpg` means nothing elsewhere.
//! Paintings are recorded by file name and sha256, plus their catalogue id and
//! title when they come from a library folder (`catalog.json` beside them);
//! datasets by folder name and manifest hash (`DatasetSummary`).

use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::engine::infra::error::{Error, Result};

/// `info` as the JSON a model file's `atelier` metadata holds.
pub(crate) fn portable_json<T: Serialize>(info: &T) -> Result<String> {
    let mut v =
        serde_json::to_value(info).map_err(|e| Error::invalid("model metadata", e.to_string()))?;
    strip_folders(&mut v);
    Ok(v.to_string())
}

/// Every absolute path becomes its file name; a style source (an object with
/// `path` and `sha256`) gains its catalogue `id` and `title` first.
fn strip_folders(v: &mut Value) {
    match v {
        Value::String(s) if Path::new(s.as_str()).is_absolute() => *s = file_name(s),
        Value::Array(a) => a.iter_mut().for_each(strip_folders),
        Value::Object(m) => {
            add_catalogue_entry(m);
            m.values_mut().for_each(strip_folders);
        }
        _ => {}
    }
}

fn file_name(s: &str) -> String {
    Path::new(s)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn add_catalogue_entry(m: &mut Map<String, Value>) {
    let Some(Value::String(path)) = m.get("path") else {
        return;
    };
    if !m.contains_key("sha256") || m.contains_key("id") {
        return;
    }
    if let Some((id, title)) = catalogue_entry(Path::new(path)) {
        m.insert("id".into(), Value::String(id));
        m.insert("title".into(), Value::String(title));
    }
}

/// The `id` and `title` of `image` in the `catalog.json` of its folder (the
/// bundled library's format), if it is listed there.
fn catalogue_entry(image: &Path) -> Option<(String, String)> {
    let file = image.file_name()?.to_str()?;
    let text = std::fs::read_to_string(image.parent()?.join("catalog.json")).ok()?;
    let entries: Vec<Map<String, Value>> = serde_json::from_str(&text).ok()?;
    let e = entries
        .iter()
        .find(|e| e.get("file").and_then(Value::as_str) == Some(file))?;
    let text_of = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_string);
    Some((text_of("id")?, text_of("title")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_become_file_names_and_paintings_gain_their_entry() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("catalog.json"),
            r#"[{"id": "436535", "title": "Wheat Field with Cypresses", "file": "436535.jpg"}]"#,
        )
        .unwrap();
        let painting = dir.path().join("436535.jpg");
        let info = serde_json::json!({
            "styles": [
                {"name": "w", "path": painting, "sha256": "ab"},
                {"name": "mine", "path": "/home/me/mine.png", "sha256": "cd"},
            ],
            "training": {"dataset": "/tmp/x/photos", "preview": "contents/chelsea.png"},
        });
        let out: Value = serde_json::from_str(&portable_json(&info).unwrap()).unwrap();
        assert_eq!(
            out["styles"][0],
            serde_json::json!({"name": "w", "path": "436535.jpg", "sha256": "ab",
                "id": "436535", "title": "Wheat Field with Cypresses"})
        );
        assert_eq!(
            out["styles"][1],
            serde_json::json!({"name": "mine", "path": "mine.png", "sha256": "cd"})
        );
        assert_eq!(out["training"]["dataset"], "photos");
        assert_eq!(
            out["training"]["preview"], "contents/chelsea.png",
            "relative stays"
        );
    }
}
