//! The command-line front end: argument parsing and the subcommands, a thin
//! layer over the engine.

mod library;
mod stylize;
mod texture;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::config::Config;

#[derive(Parser, Debug)]
#[command(
    name = "atelier",
    version,
    about = "A terminal workbench for neural style transfer"
)]
pub struct Cli {
    /// Configuration file (default: $XDG_CONFIG_HOME/atelier/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Stylize a content image with a style image (Gatys et al.).
    Stylize(Box<stylize::StylizeArgs>),
    /// Synthesise a texture from a style image alone (Gatys et al. 2015).
    Texture(Box<texture::TextureArgs>),
    /// List the bundled style paintings.
    Styles(library::ListArgs),
    /// List the bundled content photos.
    Contents(library::ListArgs),
}

/// Exit code for a run stopped by Ctrl-C (as shells report SIGINT).
pub const EXIT_CANCELLED: i32 = 130;

/// Runs the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    let explicit = cli.config.is_some();
    let path = cli.config.or_else(Config::default_user_path);
    let config = Config::load(path.as_deref(), explicit)?;
    match cli.command {
        Command::Stylize(args) => stylize::run(*args, &config),
        Command::Texture(args) => texture::run(*args, &config),
        Command::Styles(args) => library::list(&config.paths.styles, args),
        Command::Contents(args) => library::list(&config.paths.contents, args),
    }
}
