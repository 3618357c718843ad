//! Model files and imports under damage: truncated and flipped `.pth` and
//! `.safetensors` files are refused with one error line, never crash, and
//! write nothing; non-finite weights, absurd declared sizes and missing
//! tensors are refused by name; `models rm` of a model in use asks first.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use atelier::engine::arbitrary::import::import_adain;
use atelier::engine::arbitrary::model_file::ArbModel;
use atelier::engine::fast::import::import_state_dict;
use atelier::engine::fast::model_file::Model;
use tch::{Device, Tensor};

use crate::util::{atelier_in, root, weights_path, write_pattern};

fn golden(name: &str) -> PathBuf {
    root().join("tests/golden").join(name)
}

/// Lengths to cut a file of `len` bytes to: the first and last few, and 30
/// spread evenly between.
fn truncations(len: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..4).chain(len - 4..len).collect();
    v.extend((1..30).map(|i| i * len / 30));
    v.sort();
    v.dedup();
    v
}

/// (position, xor mask) of single-byte flips: 60 spread evenly, and every
/// third byte of the last 150 (the end records and the last directory
/// entries, where a flip changes what the rest means).
fn flips(len: usize) -> Vec<(usize, u8)> {
    const MASKS: [u8; 4] = [0x80, 0x01, 0xff, 0x20];
    let mut pos: Vec<usize> = (0..60).map(|i| i * len / 60).collect();
    pos.extend((len.saturating_sub(150)..len).step_by(3));
    pos.sort();
    pos.dedup();
    pos.iter()
        .enumerate()
        .map(|(i, &p)| (p, MASKS[i % MASKS.len()]))
        .collect()
}

/// Every damaged version of `bytes`: (what was done, the bytes).
fn damaged(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = truncations(bytes.len())
        .into_iter()
        .map(|n| (format!("cut to {n}"), bytes[..n].to_vec()))
        .collect();
    for (p, m) in flips(bytes.len()) {
        let mut b = bytes.to_vec();
        b[p] ^= m;
        v.push((format!("byte {p} ^ {m:#x}"), b));
    }
    v
}

/// The tensors of a variable store, sorted by name.
fn vars(vs: &tch::nn::VarStore) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// An AdaIN model's weights: its decoder's, then its encoder's.
fn adain_weights(m: &ArbModel) -> Vec<(String, Tensor)> {
    let mut v = vars(&m.vs);
    let (pre, convs) = m.encoder.tensors();
    for (i, (w, b)) in std::iter::once(pre).chain(convs.iter()).enumerate() {
        v.push((format!("encoder {i} weight"), w.shallow_clone()));
        v.push((format!("encoder {i} bias"), b.shallow_clone()));
    }
    v
}

/// A damaged file may only be taken if what it gives is exactly what the
/// undamaged one gives: a zip's CRCs cover every byte of every entry, so a
/// flip that gets through changed only bytes that carry no weight (a time
/// stamp, a local header's copy of a field).
fn assert_same(what: &str, got: &[(String, Tensor)], want: &[(String, Tensor)]) {
    assert_eq!(got.len(), want.len(), "{what}");
    for ((gk, g), (wk, w)) in got.iter().zip(want) {
        assert_eq!(gk, wk, "{what}");
        assert!(g.equal(w), "{what}: {gk} differs from the undamaged file's");
    }
}

/// An error is one line naming the damaged file.
fn assert_one_line(what: &str, err: &str, file: &str) {
    assert!(
        err.lines().count() == 1 && err.contains(file),
        "{what}: {err}"
    );
}

#[test]
fn damaged_pth_imports_are_refused_or_identical() {
    let dir = tempfile::tempdir().unwrap();
    let fast = golden("transformer_import.pth");
    let reference = vars(&import_state_dict(&fast, Device::Cpu).unwrap().vs);
    let bad = dir.path().join("bad.pth");
    for (what, bytes) in damaged(&std::fs::read(&fast).unwrap()) {
        std::fs::write(&bad, &bytes).unwrap();
        match import_state_dict(&bad, Device::Cpu) {
            Ok(m) => assert_same(&what, &vars(&m.vs), &reference),
            Err(e) => assert_one_line(&what, &e.to_string(), "bad.pth"),
        }
    }
    let (dec, enc) = (golden("adain_decoder.pth"), golden("adain_vgg.pth"));
    let reference = adain_weights(&import_adain(&dec, &enc, Device::Cpu).unwrap());
    for (damage_decoder, file) in [(true, &dec), (false, &enc)] {
        for (what, bytes) in damaged(&std::fs::read(file).unwrap()) {
            std::fs::write(&bad, &bytes).unwrap();
            let got = if damage_decoder {
                import_adain(&bad, &enc, Device::Cpu)
            } else {
                import_adain(&dec, &bad, Device::Cpu)
            };
            match got {
                Ok(m) => assert_same(&what, &adain_weights(&m), &reference),
                Err(e) => assert_one_line(&what, &e.to_string(), "bad.pth"),
            }
        }
    }
}

/// Runs `cmd`, which must fail with an exit code (no signal, no panic) and
/// exactly one line on stderr, the error.
fn fails_cleanly(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.code().is_some_and(|c| c != 0),
        "{:?}: {err}",
        out.status
    );
    assert_eq!(err.lines().count(), 1, "one error line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    err
}

/// Every file under `dir` (none when it does not exist).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    v.sort();
    v
}

#[test]
fn damaged_pth_on_the_command_line_one_error_line_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let models = data.join("models");
    let bad = dir.path().join("bad.pth");
    let cut = |file: &str, n: fn(usize) -> usize| {
        let b = std::fs::read(golden(file)).unwrap();
        std::fs::write(&bad, &b[..n(b.len())]).unwrap();
    };
    let import = || {
        let mut c = atelier_in(&data);
        c.args(["models", "import"]).arg(&bad).args(["--name", "x"]);
        c
    };
    for n in [|l| l - 1, |l| l / 2, |l| l / 4] {
        cut("transformer_import.pth", n);
        let err = fails_cleanly(&mut import());
        assert!(err.contains("bad.pth"), "{err}");
        assert_eq!(files_under(&models), Vec::<PathBuf>::new());
    }
    // A central-directory name made non-UTF-8.
    let mut b = std::fs::read(golden("transformer_import.pth")).unwrap();
    let prefix = b"transformer_import/";
    let at = b.windows(prefix.len()).rposition(|w| w == prefix).unwrap() + prefix.len();
    b[at] ^= 0x80;
    std::fs::write(&bad, &b).unwrap();
    fails_cleanly(&mut import());

    let adain = |decoder: &Path, encoder: &Path| {
        let mut c = atelier_in(&data);
        c.args(["models", "import", "--arch", "adain"])
            .arg(decoder)
            .arg("--encoder")
            .arg(encoder);
        c
    };
    cut("adain_decoder.pth", |l| l - 1);
    fails_cleanly(&mut adain(&bad, &golden("adain_vgg.pth")));
    cut("adain_vgg.pth", |l| l / 2);
    fails_cleanly(&mut adain(&golden("adain_decoder.pth"), &bad));
    assert_eq!(files_under(&models), Vec::<PathBuf>::new());
}

/// A fast-style and an AdaIN model file made from the golden imports.
fn model_files(dir: &Path) -> (PathBuf, PathBuf) {
    let fast = dir.join("fast.safetensors");
    import_state_dict(&golden("transformer_import.pth"), Device::Cpu)
        .unwrap()
        .save(&fast)
        .unwrap();
    let adain = dir.join("adain.safetensors");
    import_adain(
        &golden("adain_decoder.pth"),
        &golden("adain_vgg.pth"),
        Device::Cpu,
    )
    .unwrap()
    .save(&adain, false)
    .unwrap();
    (fast, adain)
}

/// Every weight of a loaded model is finite.
fn all_finite(v: &[(String, Tensor)]) -> bool {
    v.iter()
        .all(|(_, t)| t.isfinite().all().int64_value(&[]) != 0)
}

#[test]
fn damaged_model_files_are_refused_by_load_and_apply() {
    let dir = tempfile::tempdir().unwrap();
    let (fast, adain) = model_files(dir.path());
    let bad = dir.path().join("bad.safetensors");
    // safetensors has no checksum: a flip in a weight loads, but only as
    // finite weights; a cut never loads.
    for (what, bytes) in damaged(&std::fs::read(&fast).unwrap()) {
        std::fs::write(&bad, &bytes).unwrap();
        match Model::load(&bad, Device::Cpu) {
            Ok(m) => assert!(
                !what.starts_with("cut") && all_finite(&vars(&m.vs)),
                "{what}"
            ),
            Err(e) => assert_one_line(&what, &e.to_string(), "bad.safetensors"),
        }
    }
    for (what, bytes) in damaged(&std::fs::read(&adain).unwrap()) {
        std::fs::write(&bad, &bytes).unwrap();
        match ArbModel::load(&bad, &weights_path(), Device::Cpu) {
            Ok(m) => assert!(
                !what.starts_with("cut") && all_finite(&adain_weights(&m)),
                "{what}"
            ),
            Err(e) => assert_one_line(&what, &e.to_string(), "bad.safetensors"),
        }
    }

    let content = dir.path().join("c.png");
    write_pattern(&content, 32, 32);
    let out = dir.path().join("out.png");
    let data = dir.path().join("data");
    let apply = |model: &Path, style: Option<&Path>| {
        let mut c = atelier_in(&data);
        c.arg("apply").arg(model).arg(&content).arg("-o").arg(&out);
        if let Some(s) = style {
            c.arg("--style").arg(s);
        }
        c
    };
    for (file, style) in [(&fast, None), (&adain, Some(content.as_path()))] {
        let b = std::fs::read(file).unwrap();
        let mut header_len = b.clone();
        header_len[3] ^= 0x01;
        for damaged in [
            b[..b.len() - 1].to_vec(),
            b[..b.len() / 2].to_vec(),
            header_len,
        ] {
            std::fs::write(&bad, &damaged).unwrap();
            fails_cleanly(&mut apply(&bad, style));
            assert!(!out.exists());
        }
    }
}

/// CRC-32 of zip entries.
fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// `bytes` (a zip) with entry `name`'s stored data changed by `f`, its CRC
/// updated in both headers: a well-formed file with other contents.
fn patch_entry(bytes: &[u8], name: &str, f: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let e = zip.by_name(name).unwrap();
    let (start, len) = (e.data_start() as usize, e.compressed_size() as usize);
    let (local, central) = (e.header_start() as usize, e.central_header_start() as usize);
    drop(e);
    let mut out = bytes.to_vec();
    f(&mut out[start..start + len]);
    let crc = crc32(&out[start..start + len]).to_le_bytes();
    out[local + 14..local + 18].copy_from_slice(&crc);
    out[central + 16..central + 20].copy_from_slice(&crc);
    out
}

#[test]
fn pth_declaring_a_huge_entry_is_refused_before_inflating() {
    // The golden state dict plus one unreferenced entry of 600 MiB of zeros,
    // deflated to well under a megabyte.
    let mut src =
        zip::ZipArchive::new(std::fs::File::open(golden("transformer_import.pth")).unwrap())
            .unwrap();
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..src.len() {
        w.raw_copy_file(src.by_index(i).unwrap()).unwrap();
    }
    let deflated = zip::write::FileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    w.start_file("transformer_import/data/999", deflated)
        .unwrap();
    std::io::copy(&mut std::io::repeat(0).take(600 << 20), &mut w).unwrap();
    let bytes = w.finish().unwrap().into_inner();
    assert!(bytes.len() < 4 << 20, "{}", bytes.len());
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.pth");
    std::fs::write(&bomb, &bytes).unwrap();
    let err = import_state_dict(&bomb, Device::Cpu)
        .err()
        .expect("refused");
    let msg = err.to_string();
    assert!(
        msg.contains("data/999") && msg.contains("600 MiB") && msg.contains("before inflating"),
        "{msg}"
    );
}

#[test]
fn a_tensor_name_that_is_not_utf8_is_refused() {
    // A well-formed zip (CRC updated) whose pickle names a tensor with a
    // byte that is not UTF-8: tch's own loader aborts the process on it.
    let b = std::fs::read(golden("transformer_import.pth")).unwrap();
    let b = patch_entry(&b, "transformer_import/data.pkl", |d| {
        let key = b"conv1.conv2d.weight";
        let at = d.windows(key.len()).position(|w| w == key).unwrap();
        d[at] = 0xff;
    });
    let dir = tempfile::tempdir().unwrap();
    let pth = dir.path().join("name.pth");
    std::fs::write(&pth, b).unwrap();
    let err = import_state_dict(&pth, Device::Cpu)
        .err()
        .expect("refused")
        .to_string();
    assert_one_line("non-UTF-8 name", &err, "name.pth");
    assert!(err.contains("not UTF-8"), "{err}");
}

/// A model file with one tensor's values replaced by `value`, or without
/// that tensor when `value` is None; other metadata when `meta` is given.
fn rewrite(src: &Path, dst: &Path, tensor: &str, value: Option<f32>, meta: Option<(&str, &str)>) {
    use safetensors::tensor::{Dtype, SafeTensors, TensorView};
    let bytes = std::fs::read(src).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let mut info = header.metadata().clone().unwrap_or_default();
    if let Some((k, v)) = meta {
        info.insert(k.into(), v.into());
    }
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    for (name, view) in st.tensors() {
        let mut data = view.data().to_vec();
        if name == tensor {
            let Some(x) = value else { continue };
            match view.dtype() {
                Dtype::F16 => {
                    let h: u16 = if x.is_nan() { 0x7e00 } else { 0x7c00 };
                    for c in data.chunks_exact_mut(2) {
                        c.copy_from_slice(&h.to_le_bytes());
                    }
                }
                _ => {
                    for c in data.chunks_exact_mut(4) {
                        c.copy_from_slice(&x.to_le_bytes());
                    }
                }
            }
        }
        owned.push((name, view.dtype(), view.shape().to_vec(), data));
    }
    let views: Vec<(String, TensorView)> = owned
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let out = safetensors::tensor::serialize(views, &Some(info)).unwrap();
    std::fs::write(dst, out).unwrap();
}

#[test]
fn non_finite_weights_are_refused_on_import_load_and_save() {
    let dir = tempfile::tempdir().unwrap();
    // Import: a state dict whose first storage holds NaN.
    let pth = dir.path().join("nan.pth");
    let b = std::fs::read(golden("transformer_import.pth")).unwrap();
    let b = patch_entry(&b, "transformer_import/data/0", |d| {
        for c in d.chunks_exact_mut(4) {
            c.copy_from_slice(&f32::NAN.to_le_bytes());
        }
    });
    std::fs::write(&pth, b).unwrap();
    let err = import_state_dict(&pth, Device::Cpu)
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("tensor ") && err.contains("NaN"), "{err}");

    // Load: fast-style and AdaIN model files with an infinite tensor.
    let (fast, adain) = model_files(dir.path());
    let bad = dir.path().join("bad.safetensors");
    rewrite(
        &fast,
        &bad,
        "conv2.conv2d.weight",
        Some(f32::INFINITY),
        None,
    );
    let err = Model::load(&bad, Device::Cpu)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("conv2.conv2d.weight") && err.contains("infinite"),
        "{err}"
    );
    rewrite(&adain, &bad, "decoder4.1.weight", Some(f32::NAN), None);
    let err = ArbModel::load(&bad, &weights_path(), Device::Cpu)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("decoder4.1.weight") && err.contains("NaN"),
        "{err}"
    );
    // ... and `apply` writes nothing.
    let content = dir.path().join("c.png");
    write_pattern(&content, 32, 32);
    let out = dir.path().join("out.png");
    rewrite(&fast, &bad, "conv2.conv2d.weight", Some(f32::NAN), None);
    fails_cleanly(
        atelier_in(&dir.path().join("data"))
            .arg("apply")
            .arg(&bad)
            .arg(&content)
            .arg("-o")
            .arg(&out),
    );
    assert!(!out.exists());

    // Save: a diverged network is not written, nor one whose weights
    // overflow fp16 (the file's precision).
    let m = Model::load(&fast, Device::Cpu).unwrap();
    for (x, what) in [(f64::INFINITY, "inf"), (1e6, "above fp16")] {
        let target = dir.path().join(format!("{what}.safetensors"));
        let mut v = m.vs.variables();
        let t = v.get_mut("res1.conv1.conv2d.bias").unwrap();
        tch::no_grad(|| {
            let _ = t.fill_(x);
        });
        let err = m.save(&target).expect_err("refused").to_string();
        assert!(err.contains("res1.conv1.conv2d.bias"), "{what}: {err}");
        assert!(!target.exists(), "{what}");
    }
}

#[test]
fn a_missing_tensor_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (fast, _) = model_files(dir.path());
    let bad = dir.path().join("bad.safetensors");
    rewrite(&fast, &bad, "res3.conv2.conv2d.bias", None, None);
    let err = Model::load(&bad, Device::Cpu)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("1 of") && err.contains("res3.conv2.conv2d.bias"),
        "{err}"
    );
}

#[test]
fn adain_file_with_broken_metadata_says_its_metadata_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let (_, adain) = model_files(dir.path());
    let bad = dir.path().join("bad.safetensors");
    rewrite(
        &adain,
        &bad,
        "",
        None,
        Some(("atelier", "{\"method\": \"adain\"")),
    );
    let err = fails_cleanly(
        atelier_in(&dir.path().join("data"))
            .args(["models", "show"])
            .arg(&bad),
    );
    assert!(
        err.contains("metadata") && err.contains("broken") && !err.contains("expected"),
        "{err}"
    );
}

#[test]
fn import_name_may_end_in_safetensors() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = atelier_in(&data)
        .args(["models", "import"])
        .arg(golden("transformer_import.pth"))
        .args(["--name", "x.safetensors"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        files_under(&data.join("models")),
        vec![data.join("models/x.safetensors")]
    );
}

#[test]
fn models_rm_refuses_a_model_that_runs_or_rules_use() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[watch]]\nname = \"drop-b\"\ninbox = \"{0}/in\"\noutput = \"{0}/out\"\nmodel = \"b\"\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let cmd = || {
        let mut c = atelier_in(&data);
        c.arg("--config").arg(&config);
        c
    };
    for name in ["a", "b", "c"] {
        let out = cmd()
            .args(["models", "import"])
            .arg(golden("transformer_import.pth"))
            .args(["--name", name])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let content = dir.path().join("c.png");
    write_pattern(&content, 32, 32);
    for _ in 0..2 {
        let out = cmd()
            .args(["queue", "add", "apply", "a"])
            .arg(&content)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let models = data.join("models");
    let err = fails_cleanly(cmd().args(["models", "rm", "a"]));
    assert!(
        err.contains("runs 1, 2") && err.contains("--force"),
        "{err}"
    );
    let err = fails_cleanly(cmd().args(["models", "rm", "b"]));
    assert!(err.contains("drop-b") && err.contains("--force"), "{err}");
    assert_eq!(files_under(&models).len(), 3, "nothing removed");
    for name in ["a", "b", "c"] {
        let mut c = cmd();
        c.args(["models", "rm", name]);
        if name != "c" {
            c.arg("--force");
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(files_under(&models), Vec::<PathBuf>::new());
}
