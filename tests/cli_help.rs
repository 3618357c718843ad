//! The command line's own surface: typed options (a wrong value refused by
//! the parser with the choices, `--help` listing them) and help text on
//! every option of every subcommand.

use std::process::Output;

use clap::CommandFactory;

use crate::util::atelier_in;

fn run(args: &[&str]) -> Output {
    let data = tempfile::tempdir().unwrap();
    atelier_in(data.path()).args(args).output().unwrap()
}

/// A bad value is a usage error (exit 2, before any file is read) naming
/// the option and every choice.
fn assert_refused_with_choices(args: &[&str], option: &str, choices: &[&str]) {
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(err.contains(option), "{args:?}: {err}");
    for c in choices {
        assert!(err.contains(c), "{args:?} does not list {c}: {err}");
    }
}

#[test]
fn a_wrong_optimizer_is_refused_by_the_parser_with_the_choices() {
    assert_refused_with_choices(
        &[
            "stylize",
            "no-such.png",
            "no-such.jpg",
            "--optimizer",
            "sgd",
        ],
        "--optimizer",
        &["lbfgs", "adam"],
    );
}

#[test]
fn a_wrong_stylize_padding_is_refused_by_the_parser_with_the_choices() {
    assert_refused_with_choices(
        &[
            "stylize",
            "no-such.png",
            "no-such.jpg",
            "--padding",
            "mirror",
        ],
        "--padding",
        &["zero", "replicate"],
    );
}

#[test]
fn a_wrong_norm_is_refused_by_the_parser_with_the_choices() {
    assert_refused_with_choices(
        &["queue", "add", "train", "no-such.jpg", "--norm", "layer"],
        "--norm",
        &["instance", "batch"],
    );
}

#[test]
fn a_wrong_arch_or_padding_is_refused_by_the_parser_with_the_choices() {
    assert_refused_with_choices(
        &["train", "--arch", "vgg"],
        "--arch",
        &["adain", "wct", "msg"],
    );
    assert_refused_with_choices(
        &["train", "--arch", "adain", "--padding", "mirror"],
        "--padding",
        &["reflect", "zero"],
    );
}

#[test]
fn a_wrong_device_is_refused_by_the_parser() {
    assert_refused_with_choices(
        &["texture", "no-such.jpg", "--device", "tpu"],
        "--device",
        &["auto", "cpu", "cuda"],
    );
}

#[test]
fn help_lists_the_choices_of_typed_options() {
    let out = run(&["stylize", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for choices in [
        "[possible values: lbfgs, adam]",
        "[possible values: content, noise, style]",
        "[possible values: max, avg]",
        "[possible values: zero, replicate]",
        "[possible values: gram, mrf, both]",
        "[possible values: none, luminance, histogram]",
    ] {
        assert!(help.contains(choices), "no {choices} in: {help}");
    }
    let out = run(&["train", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("[possible values: instance, batch]"),
        "{help}"
    );
    assert!(
        help.contains("[possible values: adain, wct, msg]"),
        "{help}"
    );
}

#[test]
fn the_spellings_used_today_still_parse() {
    for args in [
        ["--optimizer", "l-bfgs"],
        ["--optimizer", "adam"],
        ["--init", "random"],
        ["--padding", "replicate"],
        ["--style-loss", "both"],
        ["--preserve-colors", "luminance"],
    ] {
        let mut all = vec!["stylize", "chelsea", "irises", "--dry-run"];
        all.extend(args);
        let out = run(&all);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Every option and positional of every subcommand says what it is.
#[test]
fn every_option_of_every_subcommand_has_help_text() {
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            if arg.get_help().is_none() && arg.get_long_help().is_none() {
                missing.push(format!("{path} {id}"));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), missing);
        }
    }
    let mut missing = Vec::new();
    walk(&atelier::cli::Cli::command(), "atelier", &mut missing);
    assert!(missing.is_empty(), "no help text: {missing:#?}");
}

/// `runs ls` prints a count as an integer, not `2.0000e0`.
#[test]
fn runs_ls_prints_a_count_as_an_integer() {
    use atelier::jobs::{apply, Job, Outcome};
    use atelier::queue::Store;
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(data.path()).unwrap();
    let spec = apply::Spec {
        model: "/m.safetensors".into(),
        model_name: Some("m".into()),
        contents: vec!["/a.png".into(), "/b.png".into()],
        size: None,
        pixel_limit: 1 << 20,
        mix: None,
        arbitrary: None,
        msg: Vec::new(),
        style_masks: Vec::new(),
        regions: None,
        content_mask: None,
    };
    let id = store.add_job(&Job::Apply(spec), &[], 0).unwrap();
    let run = store.claim("w:1", "cpu").unwrap().unwrap();
    assert_eq!(run.id, id);
    let outcome = Outcome::Apply(apply::Outcome {
        model: "m".into(),
        outputs: vec!["/o/a.png".into(), "/o/b.png".into()],
        seconds: 1.25,
    });
    store
        .finish_done(id, "w:1", std::path::Path::new("/o"), &outcome)
        .unwrap();
    let out = run_in(data.path(), &["runs", "ls"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("photos 2"), "{text}");
    assert!(!text.contains("e0"), "{text}");
}

fn run_in(data: &std::path::Path, args: &[&str]) -> Output {
    atelier_in(data).args(args).output().unwrap()
}
