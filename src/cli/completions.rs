//! `atelier completions SHELL` and `atelier man`: generated from the clap
//! definitions, so they can never disagree with `--help`.

use std::io::Write;

use anyhow::{Context, Result};
use clap::CommandFactory;

use super::Cli;

/// The shells `atelier completions` writes a script for.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Prints the completion script for `shell` to standard output.
pub fn completions(shell: Shell) -> Result<i32> {
    let mut cmd = Cli::command();
    let out = &mut std::io::stdout();
    match shell {
        Shell::Bash => {
            clap_complete::generate(clap_complete::Shell::Bash, &mut cmd, "atelier", out)
        }
        Shell::Zsh => clap_complete::generate(clap_complete::Shell::Zsh, &mut cmd, "atelier", out),
        Shell::Fish => {
            clap_complete::generate(clap_complete::Shell::Fish, &mut cmd, "atelier", out)
        }
    }
    Ok(0)
}

/// Prints the man page, atelier(1), in roff to standard output.
pub fn man() -> Result<i32> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .context("cannot render the man page")?;
    std::io::stdout()
        .write_all(&page)
        .context("cannot write the man page")?;
    Ok(0)
}
