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

#[test]
fn damaged_pth_imports_are_refused_or_identical() {
    let dir = tempfile::tempdir().unwrap();
    let fast = golden("transformer_import.pth");
    let reference = vars(&import_state_dict(&fast, Device::Cpu).unwrap().vs);
    let bad = dir.path().join("bad.pth");
    for (what, bytes) in damaged(&std::fs::read(&fast).unwrap()) {
        std::fs::write(&bad, &bytes).unwrap();
        if let Ok(m) = import_state_dict(&bad, Device::Cpu) {
            assert_same(&what, &vars(&m.vs), &reference);
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
            if let Ok(m) = got {
                assert_same(&what, &adain_weights(&m), &reference);
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
            Err(e) => assert_eq!(e.to_string().lines().count(), 1, "{what}: {e}"),
        }
    }
    for (what, bytes) in damaged(&std::fs::read(&adain).unwrap()) {
        std::fs::write(&bad, &bytes).unwrap();
        if let Ok(m) = ArbModel::load(&bad, &weights_path(), Device::Cpu) {
            assert!(
                !what.starts_with("cut") && all_finite(&adain_weights(&m)),
                "{what}"
            );
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
