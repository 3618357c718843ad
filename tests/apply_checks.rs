//! `apply`'s checks, the same from every front end (CLI `apply`, `queue add
//! apply`, drop-folder rules): mix weights, `--size`, `--tile`; how a mix is
//! named and recorded; and where `-o` writes, in the format its extension names.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{atelier_in, error_of, msg_net, root, stdout_ok, write_pattern};

/// A 40×32 photo in `dir`.
fn photo(dir: &Path) -> PathBuf {
    let p = dir.join("photo.png");
    write_pattern(&p, 40, 32);
    p
}

fn painting(n: u32) -> String {
    root().join(format!("styles/{n}.jpg")).display().to_string()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// A drop-folder rule on the bundled models with `styles`: its error, if any.
fn rule_error(model: &str, styles: &[String]) -> Option<String> {
    use atelier::watch::{Rule, RuleConfig};
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
    let text = format!(
        "inbox = {:?}\noutput = {:?}\nmodel = {model:?}\nstyles = {styles:?}\n",
        dir.path().join("inbox").display().to_string(),
        dir.path().join("out").display().to_string(),
    );
    let c: RuleConfig = toml::from_str(&text).unwrap();
    let lib = atelier::engine::fast::models::ModelLibrary::new(
        root().join("models"),
        dir.path().join("models"),
    );
    Rule::resolve(&c, Default::default(), &root().join("styles"), &lib)
        .err()
        .map(|e| e.to_string())
}

#[test]
fn mix_weights_that_overflow_get_one_error_from_the_cli_the_queue_and_a_rule() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let p = photo(dir.path());
    let huge = |s: String| format!("{s}:9e307");
    for (model, styles) in [
        ("adain", [huge(painting(36029)), huge(painting(36131))]),
        ("cin-eight", [huge("0".into()), huge("1".into())]),
    ] {
        let with_styles = |c: &mut Command| {
            for s in &styles {
                c.args(["--style", s]);
            }
        };
        let mut cli = atelier_in(&data);
        cli.args(["apply", model]).arg(&p).arg("-o").arg(&out);
        with_styles(&mut cli);
        let mut queue = atelier_in(&data);
        queue.args(["queue", "add", "apply", model]).arg(&p);
        with_styles(&mut queue);
        let (a, b) = (error_of(&mut cli), error_of(&mut queue));
        assert!(a.contains("sum overflows"), "{model}: {a}");
        assert_eq!(a, b, "{model}: the CLI and the queue say the same");
        let r = rule_error(model, &styles).expect("the rule is refused");
        assert!(r.contains(&a), "{model}: {r}");
        assert!(files_in(&out).is_empty(), "{:?}", files_in(&out));
    }
    // An MSG-Net: its trained styles (as CIN) and any painting (its own path).
    msg_net(&data.join("models/duo.safetensors"));
    let mut cli = atelier_in(&data);
    cli.args(["apply", "duo"]).arg(&p).arg("-o").arg(&out);
    cli.args(["--style", &huge("0".into()), "--style", &huge("1".into())]);
    let mut queue = atelier_in(&data);
    queue.args(["queue", "add", "apply", "duo"]).arg(&p);
    queue.args(["--style", &huge("0".into()), "--style", &huge("1".into())]);
    let (a, b) = (error_of(&mut cli), error_of(&mut queue));
    assert!(a.contains("sum overflows"), "{a}");
    assert_eq!(a, b);
    let mut cli = atelier_in(&data);
    cli.args(["apply", "duo"]).arg(&p).arg("-o").arg(&out);
    cli.args([
        "--style",
        &huge(painting(36029)),
        "--style",
        &huge("0".into()),
    ]);
    assert_eq!(error_of(&mut cli), a);
    assert!(files_in(&out).is_empty(), "{:?}", files_in(&out));
    // Weights that are all 0 are said to be so (MSG said it of overflows).
    let mut cli = atelier_in(&data);
    cli.args(["apply", "adain"])
        .arg(&p)
        .args(["--style", &format!("{}:0", painting(36029))]);
    assert!(error_of(&mut cli).contains("all are 0"));
}

#[test]
fn apply_size_has_one_limit_from_the_config_for_the_cli_and_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = photo(dir.path());
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[apply]\nmax_size = 64\n").unwrap();
    let cmd = |args: &[&str]| {
        let mut c = atelier_in(&data);
        c.arg("--config").arg(&config).args(args).arg(&p);
        c.args(["--size", "65"]);
        c
    };
    let out = dir.path().join("o.png");
    let a = error_of(cmd(&["apply", "irises"]).arg("-o").arg(&out));
    let b = error_of(&mut cmd(&["queue", "add", "apply", "irises"]));
    assert!(a.contains("65") && a.contains("64"), "{a}");
    assert_eq!(a, b);
    assert!(!out.exists());
}

#[test]
fn a_tile_that_cannot_hold_the_overlap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = photo(dir.path());
    let out = dir.path().join("o.png");
    for tile in ["1", "16", "64", "128"] {
        let e = error_of(
            atelier_in(&dir.path().join("data"))
                .args(["apply", "irises"])
                .arg(&p)
                .args(["--tile", tile, "-o"])
                .arg(&out),
        );
        assert!(e.contains("tile") && e.contains("overlap"), "{tile}: {e}");
        assert!(!out.exists());
    }
}

/// The `atelier:apply` provenance of a PNG.
fn provenance(p: &Path) -> serde_json::Value {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(p).unwrap()));
    let r = dec.read_info().unwrap();
    let t = r
        .info()
        .utf8_text
        .iter()
        .find(|t| t.keyword == "atelier:apply")
        .expect("provenance")
        .get_text()
        .unwrap();
    serde_json::from_str(&t).unwrap()
}

#[test]
fn an_adain_mix_is_named_after_the_mix_and_records_normalised_weights() {
    let dir = tempfile::tempdir().unwrap();
    let p = photo(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    stdout_ok(
        atelier_in(&dir.path().join("data"))
            .args(["apply", "adain"])
            .arg(&p)
            .args([
                "--style",
                &format!("{}:1", painting(36029)),
                "--style",
                &format!("{}:3", painting(36131)),
                "-o",
            ])
            .arg(&out),
    );
    let [file] = files_in(&out).try_into().unwrap();
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(name, "photo__adain-36029-0.25+36131-0.75.png");
    let w: Vec<f64> = provenance(&file)["styles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["weight"].as_f64().unwrap())
        .collect();
    assert_eq!(w, [0.25, 0.75]);
}

#[test]
fn o_with_a_trailing_slash_is_a_folder_and_the_extension_picks_the_format() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = photo(dir.path());
    let apply = |o: &Path| {
        let mut c = atelier_in(&data);
        c.args(["apply", "irises"]).arg(&p).arg("-o").arg(o);
        c
    };
    // A folder that does not exist yet, named with a trailing slash.
    let new = dir.path().join("out/new");
    stdout_ok(&mut apply(Path::new(&format!("{}/", new.display()))));
    assert_eq!(files_in(&new), [new.join("photo__irises.png")]);
    // A trailing slash on a file is refused, the file untouched.
    let file = dir.path().join("file");
    std::fs::write(&file, "mine").unwrap();
    let e = error_of(&mut apply(Path::new(&format!("{}/", file.display()))));
    assert!(e.contains("not a folder"), "{e}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    // The extension names the format; an unknown one is refused.
    for (ext, format) in [
        ("jpg", image::ImageFormat::Jpeg),
        ("JPEG", image::ImageFormat::Jpeg),
        ("bmp", image::ImageFormat::Bmp),
        ("png", image::ImageFormat::Png),
    ] {
        let o = dir.path().join(format!("x.{ext}"));
        stdout_ok(&mut apply(&o));
        let bytes = std::fs::read(&o).unwrap();
        assert_eq!(image::guess_format(&bytes).unwrap(), format, "{ext}");
    }
    let o = dir.path().join("x.xyz");
    let e = error_of(&mut apply(&o));
    assert!(e.contains(".xyz") && e.contains(".png"), "{e}");
    assert!(!o.exists());
}

#[test]
fn stylize_writes_the_format_its_output_names_and_into_a_new_folder() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = photo(dir.path());
    let stylize = |o: &Path| {
        let mut c = atelier_in(&data);
        c.arg("stylize")
            .arg(&p)
            .arg(painting(36029))
            .args(["--size", "32", "--steps", "1", "--device", "cpu", "-o"])
            .arg(o);
        c
    };
    let o = dir.path().join("s.jpg");
    stdout_ok(&mut stylize(&o));
    let bytes = std::fs::read(&o).unwrap();
    assert_eq!(
        image::guess_format(&bytes).unwrap(),
        image::ImageFormat::Jpeg
    );
    let new = dir.path().join("fresh");
    stdout_ok(&mut stylize(Path::new(&format!("{}/", new.display()))));
    assert_eq!(files_in(&new).len(), 1, "{:?}", files_in(&new));
}
