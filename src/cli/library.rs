//! `atelier styles` and `atelier contents`: list a bundled library.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use clap::Args;

use crate::config::resolve;
use crate::engine::infra::library::Library;

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only entries whose name, title or artist contains this text.
    pub filter: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn list(dir: &Path, args: ListArgs) -> Result<i32> {
    let lib = Library::open(&resolve(dir))?;
    let needle = args.filter.as_deref().unwrap_or("").to_lowercase();
    let hits: Vec<_> = lib
        .entries()
        .iter()
        .filter(|e| {
            needle.is_empty()
                || [&e.name, &e.title, &e.artist]
                    .iter()
                    .any(|s| s.to_lowercase().contains(&needle))
        })
        .collect();
    if args.json {
        return print(serde_json::to_string_pretty(&hits)? + "\n");
    }
    let mut text = String::new();
    let width = hits
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(4)
        .min(42);
    for e in &hits {
        let artist: String = e.artist.chars().take(28).collect();
        text += &format!(
            "{:<width$}  {:<28}  {:<14}  {}\n",
            e.name,
            artist,
            e.date.chars().take(14).collect::<String>(),
            e.title
        );
    }
    let code = print(text)?;
    eprintln!(
        "{} of {} in {}",
        hits.len(),
        lib.entries().len(),
        lib.dir().display()
    );
    Ok(code)
}

/// Writes to stdout; a closed pipe (`atelier styles | head`) is not an error.
fn print(text: String) -> Result<i32> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(0),
    }
}
