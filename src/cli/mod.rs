//! The command-line front end: argument parsing and the subcommands, a thin
//! layer over the engine.

mod library;
mod queue;
mod runs;
mod stylize;
mod table;
mod watch;
mod worker;

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
    /// Folder of the run database and run files (default: $XDG_DATA_HOME/atelier).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Stylize a content image with a style image (Gatys et al.).
    Stylize(Box<stylize::StylizeArgs>),
    /// List the bundled style paintings.
    Styles(library::ListArgs),
    /// List the bundled content photos.
    Contents(library::ListArgs),
    /// The job queue: add, ls, cancel, move, priority.
    #[command(subcommand)]
    Queue(queue::QueueCmd),
    /// The run history: ls, show, rerun, export, rm.
    #[command(subcommand)]
    Runs(runs::RunsCmd),
    /// Run queued runs on one device until stopped.
    Worker(worker::WorkerArgs),
    /// Drop folders: stylize every image that arrives in the [[watch]] inboxes;
    /// `watch status` lists rules, counts and failures.
    Watch(watch::WatchArgs),
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
        Command::Styles(args) => library::list(&config.paths.styles, args),
        Command::Contents(args) => library::list(&config.paths.contents, args),
        Command::Queue(cmd) => queue::run(cmd, &mut open_store(&config, cli.data_dir)?, &config),
        Command::Runs(cmd) => runs::run(cmd, &mut open_store(&config, cli.data_dir)?, &config),
        Command::Worker(args) => worker::run(args, open_store(&config, cli.data_dir)?, &config),
        Command::Watch(args) => watch::run(args, &config, cli.data_dir),
    }
}

fn open_store(config: &Config, flag: Option<PathBuf>) -> Result<crate::queue::Store> {
    let dir = config.data_dir(flag.as_deref())?;
    Ok(crate::queue::Store::open(&dir)?)
}
