//! Benchmark (not a test): the Library's browse preview with the default
//! configuration on the CPU: seconds from the request to the model's preview
//! and to the refined one, for CONTENT with each PAINTING in turn (the first
//! pays for loading the model and the network). Copies both images of each
//! painting to OUT as `<painting stem>-adain.png` and `-refined.png` for
//! `atelier score` (see bench/browse_refine.sh), and prints a JSON line each.
//!
//!     cargo run --release --example browse_refine -- OUT CONTENT PAINTING...

use std::path::PathBuf;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use atelier::config::{resolve, Config};
use atelier::tui::browse::{BrowseKey, Browser, Stage};
use atelier::tui::browse_refine::Refine;
use atelier::tui::event::Event;

fn main() -> anyhow::Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [out, content, paintings @ ..] = args.as_slice() else {
        bail!("usage: browse_refine OUT CONTENT PAINTING...");
    };
    let config = Config::load(None, false)?;
    let d = config
        .browse_refine(false)
        .context("[tui] browse_refine is off")?;
    let weights = resolve(&config.paths.weights);
    let cache = tempfile::tempdir()?;
    let (tx, rx) = channel();
    let name = config.tui.browse_preview.clone();
    let b = Browser::spawn(
        name.clone(),
        resolve(&PathBuf::from(format!("models/{name}.safetensors"))),
        weights.clone(),
        tch::Device::Cpu,
        cache.path().to_path_buf(),
        Some(Refine::new(config.run.clone(), d.size, d.steps, weights)),
        tx,
    );
    std::fs::create_dir_all(out)?;
    for p in paintings {
        let key = BrowseKey {
            content: content.clone(),
            style: p.clone(),
        };
        let start = Instant::now();
        b.ask(key.clone());
        let mut first = None;
        let stem = p.file_stem().unwrap_or_default().to_string_lossy();
        loop {
            let Event::Browse(n) = rx.recv_timeout(Duration::from_secs(3600))? else {
                continue;
            };
            let shown = n.result.map_err(anyhow::Error::msg)?;
            match n.stage {
                Stage::Model => {
                    first = Some(start.elapsed().as_secs_f64());
                    std::fs::copy(&shown, out.join(format!("{stem}-adain.png")))?;
                }
                Stage::Refined => {
                    std::fs::copy(&shown, out.join(format!("{stem}-refined.png")))?;
                    break;
                }
                Stage::Refining { .. } => {}
                other => bail!("{}: refinement ended as {other:?}", p.display()),
            }
        }
        println!(
            "{}",
            serde_json::json!({
                "painting": p, "size": d.size, "steps": d.steps,
                "model_s": first, "refined_s": start.elapsed().as_secs_f64(),
            })
        );
    }
    Ok(())
}
