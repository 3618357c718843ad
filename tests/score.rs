//! `atelier score`: the stylize loss of a given image, the measure the
//! method comparisons in the README use.

use crate::util::atelier;

use crate::util::{json_output, weights_path, write_pattern};

fn score(
    image: &std::path::Path,
    content: &std::path::Path,
    style: &std::path::Path,
) -> serde_json::Value {
    json_output(
        atelier()
            .arg("score")
            .arg(image)
            .arg(content)
            .arg(style)
            .args(["--size", "64", "--device", "cpu", "--json"]),
    )
}

#[test]
fn the_content_itself_has_no_content_loss_and_another_image_has_some() {
    weights_path();
    let dir = tempfile::tempdir().unwrap();
    let (content, style, other) = (
        dir.path().join("c.png"),
        dir.path().join("s.png"),
        dir.path().join("o.png"),
    );
    write_pattern(&content, 80, 64);
    write_pattern(&style, 48, 48);
    image::RgbImage::from_fn(40, 32, |x, y| {
        image::Rgb([(x * 6) as u8, 200, (y * 7) as u8])
    })
    .save(&other)
    .unwrap();
    let same = score(&content, &content, &style);
    assert_eq!(same["content"].as_f64(), Some(0.0), "{same}");
    assert!(same["style"].as_f64().unwrap() > 0.0, "{same}");
    assert_eq!(
        (same["width"].as_u64(), same["height"].as_u64()),
        (Some(64), Some(51))
    );
    let o = score(&other, &content, &style);
    assert!(o["content"].as_f64().unwrap() > 0.0, "{o}");
    let total =
        o["content"].as_f64().unwrap() + o["style"].as_f64().unwrap() + o["tv"].as_f64().unwrap();
    assert!(
        (total - o["total"].as_f64().unwrap()).abs() <= 1e-3 * total,
        "{o}"
    );
}

#[test]
fn a_missing_or_unreadable_image_is_one_clear_error() {
    weights_path();
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("c.png");
    write_pattern(&content, 64, 64);
    let bad = dir.path().join("bad.png");
    std::fs::write(&bad, b"not a png").unwrap();
    for img in [dir.path().join("missing.png"), bad] {
        let out = atelier()
            .arg("score")
            .arg(&img)
            .arg(&content)
            .arg(&content)
            .args(["--size", "64", "--device", "cpu"])
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&*img.to_string_lossy()), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
