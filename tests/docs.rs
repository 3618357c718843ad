//! The manual stays true: README.md and docs/*.md against the code they
//! describe (the command line, the configuration defaults), their shell
//! examples run or at least parse, and the generated completions and man page.
//! The key table (docs/tui.md) is checked against the keymap by a unit test
//! in src/tui/keymap.rs.

use std::path::PathBuf;

use clap::{CommandFactory, Parser};

use crate::util::{atelier_in, root, stdout_ok};

/// README.md, the other top-level pages and every page of docs/, with their text.
fn pages() -> Vec<(PathBuf, String)> {
    let mut paths: Vec<PathBuf> = [
        "README.md",
        "ARCHITECTURE.md",
        "CHANGELOG.md",
        "models/README.md",
    ]
    .iter()
    .map(|p| root().join(p))
    .collect();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    paths.extend(docs);
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect()
}

fn page(name: &str) -> String {
    std::fs::read_to_string(root().join(name)).unwrap()
}

#[test]
fn the_readme_is_short_and_the_manual_has_its_pages() {
    let lines = page("README.md").lines().count();
    assert!(lines <= 250, "README.md has {lines} lines");
    for p in [
        "tui.md",
        "cli.md",
        "methods.md",
        "models.md",
        "drop-folders.md",
        "queue.md",
        "configuration.md",
        "benchmarks.md",
        "troubleshooting.md",
    ] {
        assert!(root().join("docs").join(p).is_file(), "docs/{p} is missing");
        assert!(
            page("README.md").contains(&format!("docs/{p}")),
            "README links docs/{p}"
        );
    }
}

/// The manual is for users: how the project is developed is no part of it.
#[test]
fn no_page_speaks_of_issues_sessions_or_lending() {
    let words = ["session", "lent", "lend", "issue"];
    for (path, text) in pages() {
        for (n, line) in text.lines().enumerate() {
            let lower = line.to_lowercase();
            let found = lower
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| words.iter().any(|b| w.starts_with(b)))
                // "lends" a hand is as bad as "lent"; "length" is fine.
                .filter(|w| !w.starts_with("length"))
                .collect::<Vec<_>>();
            let numbered = lower.contains(" #") && lower.split(" #").skip(1).any(starts_with_digit);
            assert!(
                found.is_empty() && !numbered,
                "{}:{}: {line}",
                path.display(),
                n + 1
            );
        }
    }
}

fn starts_with_digit(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_digit())
}

/// Every long option of every subcommand appears in docs/cli.md.
#[test]
fn the_cli_page_names_every_option_of_every_subcommand() {
    fn walk(cmd: &clap::Command, path: &str, page: &str, missing: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            if arg.is_hide_set() {
                continue;
            }
            if let Some(long) = arg.get_long() {
                if long != "help" && long != "version" && !page.contains(&format!("--{long}")) {
                    missing.push(format!("{path} --{long}"));
                }
            }
        }
        for sub in cmd.get_subcommands() {
            let path = format!("{path} {}", sub.get_name());
            if !page.contains(&format!("`{path}")) && !page.contains(&format!("{path} ")) {
                missing.push(path.clone());
            }
            walk(sub, &path, page, missing);
        }
    }
    let page = page("docs/cli.md");
    let mut missing = Vec::new();
    walk(
        &atelier::cli::Cli::command(),
        "atelier",
        &page,
        &mut missing,
    );
    assert!(missing.is_empty(), "not in docs/cli.md: {missing:#?}");
}

/// Leaf keys of a TOML table as `section.key`, with their values.
fn leaves(prefix: &str, t: &toml::Table, out: &mut Vec<(String, toml::Value)>) {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(sub) if !sub.is_empty() => leaves(&key, sub, out),
            toml::Value::Table(_) => {}
            v => out.push((key, v.clone())),
        }
    }
}

/// The configuration page has a row per key of config/atelier.toml (the
/// defaults built into the binary): `` | `key` | `default` | range | … ``,
/// the default equal to the file's, and the range the code enforces.
#[test]
fn the_configuration_page_lists_every_key_with_its_default_and_range() {
    let defaults: toml::Table = page("config/atelier.toml").parse().unwrap();
    let mut keys = Vec::new();
    leaves("", &defaults, &mut keys);
    assert!(keys.len() > 60, "{} keys", keys.len());
    let doc = page("docs/configuration.md");
    let dir = tempfile::tempdir().unwrap();
    for (key, value) in keys {
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{key}` |")))
            .unwrap_or_else(|| panic!("docs/configuration.md has no row for `{key}`"));
        let cells: Vec<&str> = row.split(" | ").collect();
        let shown = cells[1].trim().trim_matches('`');
        let parsed: toml::Table = format!("v = {shown}")
            .parse()
            .unwrap_or_else(|e| panic!("`{key}`: default {shown} is not TOML: {e}"));
        assert_eq!(parsed["v"], value, "`{key}`: the page says {shown}");
        // The range the code enforces, from its own refusal of a bad value.
        let bad_values: &[&str] = match value {
            toml::Value::Float(_) => &["-1e300"],
            toml::Value::Integer(_) => &["0", "9223372036854775807"],
            _ => &[],
        };
        let (section, name) = key.rsplit_once('.').unwrap_or(("", &key));
        for bad in bad_values {
            let file = dir.path().join("c.toml");
            std::fs::write(&file, format!("[{section}]\n{name} = {bad}\n")).unwrap();
            let Err(e) = atelier::config::Config::load(Some(&file), true) else {
                continue;
            };
            let err = e.to_string();
            if let Some(range) = err.split("(use ").nth(1) {
                let range = range.trim_end_matches(')');
                assert!(
                    cells[2].contains(range),
                    "`{key}`: range {range} ({err}) not on its row: {row}"
                );
            }
        }
    }
}

/// A command line of a shell example: words after quotes and `\`-newlines,
/// without its comment and leading `VAR=value` assignments.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut started = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                started = true;
            }
            (None, '#') if !started => break,
            (None, c) if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            (None, c) => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(word);
    }
    // The command ends at a pipe, a redirection or a separator.
    if let Some(end) = words
        .iter()
        .position(|w| ["|", "&&", ";", "<"].contains(&w.as_str()) || w.starts_with('>'))
    {
        words.truncate(end);
    }
    let assignments = words
        .iter()
        .take_while(|w| w.contains('=') && !w.starts_with('-'))
        .count();
    words.split_off(assignments)
}

/// The commands of every ```sh block of README.md and docs/*.md: (page,
/// whether the block may run, the command's words). A block whose fence says
/// `sh no-run` is only parsed.
fn shell_examples() -> Vec<(String, bool, Vec<String>)> {
    enum Block {
        Outside,
        Shell { runs: bool },
        Other,
    }
    let mut out = Vec::new();
    for (path, text) in pages() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut block = Block::Outside;
        let mut pending = String::new();
        for line in text.lines() {
            let fence = line.trim_start().strip_prefix("```");
            block = match (block, fence) {
                (Block::Outside, Some(info)) => {
                    let mut info = info.split_whitespace();
                    match info.next() {
                        Some("sh" | "bash" | "shell") => Block::Shell {
                            runs: !info.any(|w| w == "no-run"),
                        },
                        _ => Block::Other,
                    }
                }
                (Block::Outside, None) => Block::Outside,
                (_, Some(_)) => Block::Outside,
                (Block::Other, None) => Block::Other,
                (Block::Shell { runs }, None) => {
                    if let Some(head) = line.trim_end().strip_suffix('\\') {
                        pending.push_str(head);
                        pending.push(' ');
                    } else {
                        pending.push_str(line);
                        let words = shell_words(&std::mem::take(&mut pending));
                        if !words.is_empty() {
                            out.push((name.clone(), runs, words));
                        }
                    }
                    Block::Shell { runs }
                }
            };
        }
    }
    out
}

/// Commands a shell example may start with, besides `atelier`.
fn known_program(word: &str) -> bool {
    let file = root().join(word);
    matches!(word, "make" | "cargo" | "tmux" | "man" | "source")
        || (word.contains('/') && file.is_file())
        || (word.ends_with("python") && root().join(".venv/bin/python").exists())
}

/// Every command in a shell example parses: `atelier …` by the real argument
/// parser, `make X` names a target of the Makefile, a script exists. The
/// examples of blocks not marked `no-run` (cheap ones: listings, `--help`,
/// completions) run against the built binary in a fresh data folder.
#[test]
fn every_shell_example_parses_and_the_cheap_ones_run() {
    let makefile = page("Makefile");
    let examples = shell_examples();
    assert!(examples.len() > 30, "{} examples found", examples.len());
    let mut ran = 0;
    for (page, runs, words) in examples {
        let shown = words.join(" ");
        let first = words[0].as_str();
        if first == "atelier" {
            match atelier::cli::Cli::try_parse_from(&words) {
                Err(e) if e.kind() != clap::error::ErrorKind::DisplayHelp => {
                    panic!("{page}: `{shown}` does not parse:\n{e}")
                }
                _ => {}
            }
            if runs {
                let data = tempfile::tempdir().unwrap();
                stdout_ok(atelier_in(data.path()).args(&words[1..]));
                ran += 1;
            }
        } else if first == "make" {
            for target in &words[1..] {
                if target.contains('=') {
                    continue;
                }
                assert!(
                    makefile
                        .lines()
                        .any(|l| l.starts_with(&format!("{target}:"))),
                    "{page}: `{shown}`: no make target {target}"
                );
            }
            assert!(!runs, "{page}: `{shown}` must be in a no-run block");
        } else {
            assert!(known_program(first), "{page}: `{shown}`: unknown program");
            if let Some(script) = words
                .get(1)
                .filter(|w| w.ends_with(".py") || w.ends_with(".sh"))
            {
                assert!(
                    root().join(script).is_file(),
                    "{page}: `{shown}`: no {script}"
                );
            }
            assert!(!runs, "{page}: `{shown}` must be in a no-run block");
        }
    }
    assert!(ran >= 5, "only {ran} examples ran");
}

#[test]
fn completions_and_the_man_page_come_from_the_binary() {
    let data = tempfile::tempdir().unwrap();
    let subcommands: Vec<String> = atelier::cli::Cli::command()
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for shell in ["bash", "zsh", "fish"] {
        let text = stdout_ok(atelier_in(data.path()).args(["completions", shell]));
        for sub in &subcommands {
            assert!(
                text.contains(sub.as_str()),
                "{shell} completion lacks {sub}"
            );
        }
    }
    let man = stdout_ok(atelier_in(data.path()).arg("man"));
    assert!(
        man.starts_with(".ie") || man.contains(".TH atelier"),
        "{man:.200}"
    );
    for sub in &subcommands {
        assert!(man.contains(sub.as_str()), "the man page lacks {sub}");
    }
    // A broken user config does not stop them: they read none.
    let bad = data.path().join("bad.toml");
    std::fs::write(&bad, "not = [toml").unwrap();
    stdout_ok(
        atelier_in(data.path())
            .arg("--config")
            .arg(&bad)
            .args(["completions", "bash"]),
    );
}

#[test]
fn shell_words_split_like_a_shell() {
    assert_eq!(
        shell_words(r#"OMP_NUM_THREADS=1 atelier apply x "a b" --style 'c:1'   # note"#),
        ["atelier", "apply", "x", "a b", "--style", "c:1"]
    );
    assert_eq!(shell_words("# only a comment"), Vec::<String>::new());
    assert_eq!(shell_words("atelier man | man -l -"), ["atelier", "man"]);
    assert_eq!(
        shell_words("atelier completions zsh > ~/.zfunc/_atelier"),
        ["atelier", "completions", "zsh"]
    );
    assert_eq!(
        shell_words("atelier runs ls --status=done"),
        ["atelier", "runs", "ls", "--status=done"]
    );
}
