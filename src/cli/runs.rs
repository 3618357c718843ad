//! `atelier runs …`: the run history: list, show, re-run, export, delete.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Subcommand;

use super::table::Table;
use crate::config::Config;
use crate::engine::gatys::spec::RunSpec;
use crate::engine::infra::library::Library;
use crate::jobs::stylize::build::Painting;
use crate::jobs::{stylize, texture, Job, Outcome, Role};
use crate::queue::run::format_time;
use crate::queue::{Filter, Run, Status, Store};

#[derive(Subcommand, Debug)]
pub enum RunsCmd {
    /// List runs, newest first.
    Ls {
        /// Only runs with this status (repeatable).
        #[arg(long)]
        status: Vec<Status>,
        /// Only runs whose style path contains this text.
        #[arg(long)]
        style: Option<String>,
        /// At most N runs, the newest (default: all).
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Print the runs as JSON.
        #[arg(long)]
        json: bool,
    },
    /// A run's parameters, losses and paths.
    Show {
        /// The run's id (`runs ls`).
        id: i64,
        /// Print the run and its samples as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Queue a copy of a run, with changes: --set steps=500 --set style_weight=1e3.
    Rerun {
        /// The run's id (`runs ls`).
        id: i64,
        /// A run parameter to change (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// The copy's priority (higher runs first).
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        priority: i64,
    },
    /// Copy a run's output, spec and losses into DIR (never overwriting).
    Export {
        /// The run's id (`runs ls`).
        id: i64,
        /// The folder to copy into (made if missing).
        dir: PathBuf,
    },
    /// Delete a run and its files (asks first unless --yes).
    Rm {
        /// The run's id (`runs ls`).
        id: i64,
        /// Delete without asking.
        #[arg(long)]
        yes: bool,
    },
}

pub fn run(cmd: RunsCmd, store: &mut Store, c: &Config) -> Result<i32> {
    match cmd {
        RunsCmd::Ls {
            status,
            style,
            limit,
            json,
        } => {
            store.recover(c.worker.stale_after)?;
            let runs = store.list(&Filter {
                statuses: status,
                style,
                limit,
                ..Filter::default()
            })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&runs)?);
                return Ok(0);
            }
            let mut t = Table::new(&[
                "ID", "STATUS", "KIND", "CREATED", "CONTENT", "STYLE", "SIZE", "STEPS", "EVALS",
                "RESULT", "OUTPUT",
            ]);
            for r in &runs {
                let summary = r.summary(None);
                let params = r.job_params();
                t.row(vec![
                    r.id.to_string(),
                    r.status.to_string(),
                    r.kind().to_string(),
                    format_time(r.created),
                    first_input(r, &[Role::Content, Role::A]),
                    first_input(r, &[Role::Style, Role::BPrime, Role::Model]),
                    params.as_ref().map(|p| p.size.clone()).unwrap_or_default(),
                    params
                        .as_ref()
                        .map(|p| p.length.clone())
                        .unwrap_or_default(),
                    r.evals().map(|e| e.to_string()).unwrap_or_default(),
                    r.outcome
                        .as_ref()
                        .and(summary.headline)
                        .map(|h| super::table::headline(&h))
                        .unwrap_or_default(),
                    r.output
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default(),
                ]);
            }
            t.print();
            eprintln!("{} runs in {}", runs.len(), store.path().display());
            Ok(0)
        }
        RunsCmd::Show { id, json } => {
            store.recover(c.worker.stale_after)?;
            let r = store.get(id)?;
            let samples = store.samples(id)?;
            if json {
                let v = serde_json::json!({ "run": r, "samples": samples });
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(0);
            }
            show(&r, &samples, store);
            Ok(0)
        }
        RunsCmd::Rerun { id, set, priority } => {
            let r = store.get(id)?;
            let mut job = r
                .job()
                .cloned()
                .with_context(|| format!("run {id} is of a kind this atelier cannot run"))?;
            // `--set pixel_limit=…` is the limit the re-run is built within.
            let limits = |spec: &RunSpec| crate::jobs::Limits {
                pixel_limit: spec.pixel_limit,
                ..c.limits()
            };
            let inputs = if let Job::Stylize(spec) = &mut job {
                let params = apply_sets(spec, &set)?;
                let req = stylize::build::Request {
                    content_name: old_name(&r.inputs, Role::Content, 0, &params.content),
                    content: params.content.clone(),
                    paintings: rerun_paintings(&params, &r.inputs),
                    params,
                };
                let built = stylize::build::build(&req, &limits(&req.params))?;
                *spec = built.spec;
                built.inputs
            } else if let Job::Texture(t) = &mut job {
                let params = apply_sets(&t.gatys, &set)?;
                let painting = rerun_paintings(&params, &r.inputs)
                    .into_iter()
                    .next()
                    .context("a texture needs a style")?;
                let req = texture::build::Request {
                    painting,
                    square: t.square,
                    params,
                };
                let built = texture::build::build(&req, &limits(&req.params))?;
                *t = built.spec;
                built.inputs
            } else if !set.is_empty() {
                bail!("--set: run {id} ({}) has no run parameters", r.kind());
            } else {
                // Checked again by the kind: a file (a dataset, a model) may
                // have changed since, which the old hashes would refuse.
                job.inputs_again(&r.inputs)?
            };
            let new = store.add_job(&job, &inputs, priority)?;
            println!("queued run {new} (a re-run of {id})");
            Ok(0)
        }
        RunsCmd::Export { id, dir } => {
            let r = store.get(id)?;
            export(store, &r, &store.samples(id)?, &dir)?;
            println!("exported run {id} to {}", dir.display());
            Ok(0)
        }
        RunsCmd::Rm { id, yes } => {
            let r = store.get(id)?;
            if !yes {
                if !std::io::stdin().is_terminal() {
                    bail!("refusing to delete run {id} without confirmation: pass --yes");
                }
                print!("delete run {id} ({}) and its files? [y/N] ", r.status);
                std::io::stdout().flush()?;
                let mut answer = String::new();
                std::io::stdin().lock().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    println!("kept run {id}");
                    return Ok(1);
                }
            }
            store.delete(id)?;
            println!("deleted run {id}");
            Ok(0)
        }
    }
}

/// The display name of the first input of one of `roles` (kinds name their
/// inputs differently: an analogy's A is its content column).
fn first_input(r: &Run, roles: &[Role]) -> String {
    roles
        .iter()
        .map(|role| r.input_name(*role))
        .find(|n| !n.is_empty())
        .unwrap_or_default()
}

fn show(r: &Run, samples: &[crate::queue::Sample], store: &Store) {
    println!("run {}  {}  {}", r.id, r.kind(), r.status);
    if let crate::queue::StoredJob::Unknown(u) = &r.job {
        println!("  unreadable {}", u.unreadable);
    }
    println!("  created   {}", format_time(r.created));
    if let Some(p) = r.job_params() {
        println!("  settings  {}", p.line());
    }
    if let (Some(s), Some(f)) = (r.started, r.finished) {
        println!(
            "  ran       {:.1} s on {}",
            f - s,
            r.device.as_deref().unwrap_or("?")
        );
    }
    for i in &r.inputs {
        println!(
            "  {:<9} {} (sha256 {}…)",
            i.role,
            i.path.display(),
            &i.sha256[..12.min(i.sha256.len())]
        );
    }
    println!("  folder    {}", store.run_dir(r.id).display());
    if let Some(o) = &r.output {
        println!("  output    {}", o.display());
    }
    for (label, text) in r.outcome.iter().flat_map(Outcome::lines) {
        println!("  {label:<9} {text}");
    }
    if let Some(e) = &r.error {
        println!("  error     {e}");
    }
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        println!(
            "  samples   {} evaluations recorded, total {:.4e} → {:.4e}",
            samples.len(),
            first.total,
            last.total
        );
    }
    println!("  attempts  {}", r.attempts);
    let spec = match &r.job {
        crate::queue::StoredJob::Known(j) => {
            serde_json::to_value(j).ok().map(|v| v["spec"].clone())
        }
        crate::queue::StoredJob::Unknown(u) => Some(u.spec.clone()),
    };
    if let Some(Ok(spec)) = spec.map(|s| serde_json::to_string_pretty(&s)) {
        println!("  spec      {}", spec.replace('\n', "\n            "));
    }
}

/// The library name the old run's `nth` input of `role` had, if `path` is
/// still that file (an input changed by `--set` is named afresh).
fn old_name(old: &[crate::queue::Input], role: Role, nth: usize, path: &Path) -> Option<String> {
    old.iter()
        .filter(|i| i.role == role)
        .nth(nth)
        .filter(|i| std::fs::canonicalize(path).ok().as_deref() == Some(i.path.as_path()))
        .and_then(|i| i.name.clone())
}

/// The paintings of a re-run's `spec`, named as the old run named them.
fn rerun_paintings(spec: &RunSpec, old: &[crate::queue::Input]) -> Vec<Painting> {
    spec.styles
        .iter()
        .enumerate()
        .map(|(n, s)| Painting {
            name: old_name(old, Role::Style, n, &s.path)
                .or_else(|| {
                    let abs = std::fs::canonicalize(&s.path).ok()?;
                    Library::name_of_file(&abs)
                })
                .unwrap_or_else(|| stylize::stem(&s.path)),
            path: s.path.clone(),
            weight: s.weight,
        })
        .collect()
}

/// Applies `key=value` edits to a spec, through its JSON form, so every field
/// can be set and unknown keys are refused.
fn apply_sets(spec: &RunSpec, sets: &[String]) -> Result<RunSpec> {
    let mut v = serde_json::to_value(spec)?;
    let obj = v.as_object_mut().context("spec is not an object")?;
    for s in sets {
        let (k, val) = s
            .split_once('=')
            .with_context(|| format!("--set {s}: expected KEY=VALUE"))?;
        if !obj.contains_key(k) {
            bail!(
                "--set {s}: unknown key '{k}' (keys: {})",
                obj.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        let parsed = serde_json::from_str(val)
            .unwrap_or_else(|_| serde_json::Value::String(val.to_string()));
        obj.insert(k.to_string(), parsed);
    }
    let spec: RunSpec = serde_json::from_value(v).map_err(|e| anyhow::anyhow!("--set: {e}"))?;
    spec.validate()?;
    Ok(spec)
}

fn export(store: &Store, r: &Run, samples: &[crate::queue::Sample], dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name = format!("run-{}", r.id);
    let write_new = |file: &str, data: &[u8]| -> Result<()> {
        let p = dir.join(file);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
            .with_context(|| format!("cannot write {}", p.display()))?;
        f.write_all(data)
            .with_context(|| format!("cannot write {}", p.display()))?;
        Ok(())
    };
    if let Some(o) = r.output.as_deref().filter(|o| o.exists()) {
        let data = std::fs::read(o).with_context(|| format!("cannot read {}", o.display()))?;
        write_new(&format!("{name}.png"), &data)?;
    } else if let Some(o) = &r.output {
        // Written on another host: the shared store keeps a copy.
        let p = dir.join(format!("{name}.png"));
        if !store.export_output(r, &p)? {
            bail!(
                "cannot read {}: it is not on this host, and the store has no copy of it",
                o.display()
            );
        }
    }
    write_new(
        &format!("{name}.json"),
        serde_json::to_string_pretty(r)?.as_bytes(),
    )?;
    let mut csv = String::from("eval,style,content,tv,total,seconds\n");
    for s in samples {
        csv += &format!(
            "{},{},{},{},{},{}\n",
            s.eval, s.style, s.content, s.tv, s.total, s.seconds
        );
    }
    write_new(&format!("{name}-losses.csv"), csv.as_bytes())
}
