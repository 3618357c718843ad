//! Helpers shared by the tests.

use std::path::{Path, PathBuf};

/// The repository root (where weights/, styles/ and contents/ live).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn weights_path() -> PathBuf {
    let p = root().join("weights/vgg19.safetensors");
    assert!(
        p.exists(),
        "{} missing: run `make setup` first",
        p.display()
    );
    p
}

pub fn golden(name: &str) -> serde_json::Value {
    let p = root().join("tests/golden").join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("golden files are valid JSON")
}

/// Writes a smooth test pattern of the given size as PNG.
pub fn write_pattern(path: &Path, w: u32, h: u32) {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 255 / w.max(1)) as u8,
            (y * 255 / h.max(1)) as u8,
            ((x + y) * 7 % 256) as u8,
        ])
    });
    img.save(path).expect("write test image");
}

/// Relative closeness with an absolute floor.
pub fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= abs + rel * a.abs().max(b.abs())
}

/// Runs `cmd`, asserts that it succeeded (showing its stderr if not) and parses
/// its standard output as JSON.
pub fn json_output(cmd: &mut std::process::Command) -> serde_json::Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// chelsea × the wheat field at `size` px and `steps` steps, the defaults
/// otherwise: the run the queue and worker tests queue.
pub fn chelsea_spec(size: u32, steps: usize) -> atelier::engine::spec::RunSpec {
    atelier::engine::spec::RunSpec {
        content: root().join("contents/chelsea.png"),
        styles: vec![atelier::engine::spec::StyleRef {
            path: root().join("styles/436535.jpg"),
            weight: 1.0,
        }],
        size,
        steps,
        ..Default::default()
    }
}

/// A CPU worker that polls fast, exits when the queue is empty and resumes
/// interrupted runs: what the in-process worker tests run.
pub fn worker_config() -> atelier::queue::worker::WorkerConfig {
    atelier::queue::worker::WorkerConfig {
        device: tch::Device::Cpu,
        auto_device: false,
        defaults: Default::default(),
        weights: weights_path(),
        poll: std::time::Duration::from_millis(50),
        exit_when_idle: true,
        stale_after: 60.0,
        on_interrupted: atelier::queue::OnInterrupted::Resume,
        thumb_size: 16,
        snapshot_every: 0,
    }
}
