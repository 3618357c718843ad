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
    serde_json::from_str(&stdout_ok(cmd)).unwrap()
}

/// Runs `cmd`, failing the test with its stderr unless it succeeds; its stdout.
pub fn stdout_ok(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        cmd.get_args().collect::<Vec<_>>(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// chelsea × the wheat field at `size` px and `steps` steps, the defaults
/// otherwise: the run the queue and worker tests queue.
pub fn chelsea_spec(size: u32, steps: usize) -> atelier::engine::gatys::spec::RunSpec {
    atelier::engine::gatys::spec::RunSpec {
        content: root().join("contents/chelsea.png"),
        styles: vec![atelier::engine::gatys::spec::StyleRef {
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

/// The atelier binary run from the repository root with no user config
/// (the repository's config and library), on its default data folder.
pub fn atelier() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_atelier"));
    c.env("XDG_CONFIG_HOME", "/nonexistent-atelier-test-config")
        // The user's shared store and host name are not the tests'.
        .env_remove("ATELIER_STORE")
        .env_remove("ATELIER_HOST")
        .env("ATELIER_HOME", root())
        .env("RUST_BACKTRACE", "0")
        .current_dir(root());
    c
}

/// [`atelier`] on data folder `data`.
pub fn atelier_in(data: &Path) -> std::process::Command {
    let mut c = atelier();
    c.arg("--data-dir").arg(data);
    c
}

/// The tensors of a golden safetensors file under tests/golden/.
pub fn golden_tensors(file: &str) -> Vec<(String, tch::Tensor)> {
    tch::Tensor::read_safetensors(root().join("tests/golden").join(file)).unwrap()
}

/// A golden tensor by name.
pub fn golden_get(g: &[(String, tch::Tensor)], name: &str) -> tch::Tensor {
    g.iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("no golden {name}"))
        .1
        .shallow_clone()
}

/// Largest absolute difference relative to the largest magnitude of `b`.
pub fn rel_err(a: &tch::Tensor, b: &tch::Tensor) -> f64 {
    let d = (a - b).abs().max().double_value(&[]);
    d / b.abs().max().double_value(&[])
}

/// Copies the golden tensors `<prefix><name>` into the variables of `vs`;
/// every variable must get one.
pub fn copy_golden(vs: &tch::nn::VarStore, g: &[(String, tch::Tensor)], prefix: &str) {
    let mut vars = vs.variables();
    let mut n = 0;
    for (k, t) in g {
        if let Some(name) = k.strip_prefix(prefix) {
            let v = vars
                .get_mut(name)
                .unwrap_or_else(|| panic!("no variable {name}"));
            assert_eq!(v.size(), t.size(), "{name}");
            tch::no_grad(|| v.copy_(t));
            n += 1;
        }
    }
    assert_eq!(n, vars.len(), "every variable has a golden tensor");
}

/// Three small photos (the bundled contents, downscaled to 48 px) in
/// `dir/photos`: a training set for tests.
pub fn small_photos(dir: &Path) -> PathBuf {
    let d = dir.join("photos");
    std::fs::create_dir_all(&d).unwrap();
    for (i, name) in ["astronaut.png", "chelsea.png", "coffee.png"]
        .iter()
        .enumerate()
    {
        let img = image::open(root().join("contents").join(name))
            .unwrap()
            .to_rgb8();
        let img = atelier::engine::infra::image_io::resize_longer_side(&img, 48);
        img.save(d.join(format!("{i}.png"))).unwrap();
    }
    d
}

/// Polls `f` until it holds, failing the test with `what` after `limit`:
/// tests wait on what they can observe, never on a fixed sleep.
pub fn wait_until(what: &str, limit: std::time::Duration, mut f: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
}

/// A small MSG-Net with two styles (random weights: only its checks matter).
pub fn msg_net(path: &Path) {
    use atelier::engine::fast::model_file::{blank_info, Model, StyleSource};
    use atelier::engine::fast::transformer::{Arch, Norm};
    let mut info = blank_info(Arch {
        norm: Norm::Inspiration { styles: 2 },
        width: 0.125,
    });
    info.styles = (0..2)
        .map(|i| StyleSource {
            name: format!("s{i}"),
            path: format!("/styles/s{i}.png").into(),
            sha256: "0".repeat(64),
        })
        .collect();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    Model::new(info, tch::Device::Cpu)
        .unwrap()
        .save(path)
        .unwrap();
}

/// The error line of a command that must fail (without "error: ").
pub fn error_of(c: &mut std::process::Command) -> String {
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "succeeded: {err}");
    let line = err.lines().last().unwrap_or_default();
    line.trim_start_matches("error: ").to_string()
}
