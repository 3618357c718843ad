//! The command-line front end: argument parsing and the subcommands, a thin
//! layer over the engine.

mod analogy;
mod arbitrary;
mod choices;
mod completions;
mod fast;
mod library;
mod queue;
mod runs;
mod score;
mod store;
mod stylize;
mod table;
mod texture;
mod train_lock;
pub(crate) mod video;
mod watch;
mod worker;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::config::Config;

/// The job kinds `queue add` takes: each kind's arguments and how it is
/// queued live beside its command (`<kind>.rs`).
#[derive(Subcommand, Debug)]
pub enum AddKind {
    /// A style transfer (the default kind).
    Stylize(Box<stylize::StylizeAdd>),
    /// A texture synthesised from a style image alone.
    Texture(texture::TextureAdd),
    /// Training a fast-style model for a style (saved to your models).
    Train(Box<fast::TrainAdd>),
    /// A fast-style model applied to one or many photos.
    Apply(fast::ApplyAdd),
    /// A Deep Image Analogy of A (structure) and B′ (appearance).
    Analogy(analogy::AnalogyAdd),
    /// A video (or a folder of frames) stylized frame by frame: its frames
    /// and video.mp4 go into the run's folder.
    #[command(
        mut_arg("content", |a| a.hide(true)),
        mut_arg("style", |a| a.hide(true))
    )]
    Video(Box<video::VideoAdd>),
}

impl AddKind {
    fn add(self, store: &mut crate::queue::Store, c: &Config) -> Result<i32> {
        match self {
            AddKind::Stylize(a) => stylize::add(*a, store, c),
            AddKind::Texture(a) => texture::add(a, store, c),
            AddKind::Train(a) => fast::add_train(*a, store, c),
            AddKind::Apply(a) => fast::add_apply(a, store, c),
            AddKind::Analogy(a) => analogy::add(a, store, c),
            AddKind::Video(a) => video::add(*a, store, c),
        }
    }
}

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
    #[arg(long, global = true, value_name = "DIR", value_parser = crate::config::cli_path)]
    pub data_dir: Option<PathBuf>,
    /// Run store: a postgres:// URL (one queue shared by several hosts) or a
    /// SQLite file (default: $ATELIER_STORE, else [store] url, else atelier.db in
    /// the data folder).
    #[arg(long, global = true, value_name = "URL")]
    pub store: Option<String>,
    /// Without a subcommand, the TUI opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Stylize a content image with a style image (Gatys et al.).
    Stylize(Box<stylize::StylizeArgs>),
    /// Synthesise a texture from a style image alone (Gatys et al. 2015).
    Texture(Box<texture::TextureArgs>),
    /// Deep Image Analogy (Liao et al. 2017): A′ with A's structure and B′'s
    /// appearance, B the other way round, and the fields between them.
    Analogy(Box<analogy::AnalogyArgs>),
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
    /// The run store: migrate (create or upgrade its schema), check.
    #[command(subcommand)]
    Store(store::StoreCmd),
    /// Show an image in the terminal (kitty, iTerm2, sixel or half-blocks).
    Show {
        /// The image file (PNG, JPEG, …).
        image: PathBuf,
        /// Width in terminal columns (default: fit the terminal).
        #[arg(long)]
        width: Option<u32>,
    },
    /// Drop folders: stylize every image that arrives in the [[watch]] inboxes;
    /// `watch status` lists rules, counts and failures.
    Watch(watch::WatchArgs),
    /// Stylize photos in one pass with a model: a trained fast-style model,
    /// or an adain/wct model with any painting.
    Apply(Box<fast::ApplyArgs>),
    /// Stylize a video (or a folder of frames) frame by frame, steady between
    /// frames: with paintings (Gatys) or a model; audio kept.
    #[command(
        mut_arg("content", |a| a.hide(true)),
        mut_arg("style", |a| a.hide(true))
    )]
    Video(Box<video::VideoArgs>),
    /// Train a fast-style model for a style image (Johnson et al. 2016).
    Train(Box<fast::TrainArgs>),
    /// Fast-style models: ls, show, rm, import.
    #[command(subcommand)]
    Models(fast::ModelsCmd),
    /// The stylize loss of any image for a content and style (to compare
    /// methods by one measure).
    Score(Box<score::ScoreArgs>),
    /// Print a shell completion script (source it, or put it where your shell
    /// looks for completions).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: completions::Shell,
    },
    /// Print the manual page atelier(1) in roff (`atelier man | man -l -`).
    Man,
}

/// Exit code for a run stopped by Ctrl-C (as shells report SIGINT).
pub const EXIT_CANCELLED: i32 = 130;

/// Runs the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    let explicit = cli.config.is_some();
    // Completions and the man page come from the argument definitions alone:
    // a broken user config must not stop them.
    let generated = matches!(
        cli.command,
        Some(Command::Completions { .. } | Command::Man)
    );
    let path = if generated {
        None
    } else {
        cli.config.or_else(Config::default_user_path)
    };
    let config = Config::load(path.as_deref(), explicit)?;
    let store = store_location(cli.store, &config);
    crate::queue::store::choose(store.as_deref());
    let Some(command) = cli.command else {
        let dir = config.data_dir(cli.data_dir.as_deref())?;
        crate::tui::run(&config, dir)?;
        return Ok(0);
    };
    match command {
        Command::Stylize(args) => stylize::run(*args, &config),
        Command::Texture(args) => texture::run(*args, &config),
        Command::Analogy(args) => analogy::run(*args, &config),
        Command::Score(args) => score::run(*args, &config),
        Command::Styles(args) => library::list(&config.paths.styles, args),
        Command::Contents(args) => library::list(&config.paths.contents, args),
        Command::Queue(cmd) => queue::run(cmd, &mut open_store(&config, cli.data_dir)?, &config),
        Command::Runs(cmd) => runs::run(cmd, &mut open_store(&config, cli.data_dir)?, &config),
        Command::Worker(args) => worker::run(args, open_store(&config, cli.data_dir)?, &config),
        Command::Store(cmd) => store::run(cmd, store.as_deref(), &config, cli.data_dir.as_deref()),
        Command::Show { image, width } => show(&image, width),
        Command::Watch(args) => watch::run(args, &config, cli.data_dir),
        Command::Apply(args) => fast::apply(*args, &config, cli.data_dir.as_deref()),
        Command::Video(args) => video::run(*args, &config, cli.data_dir.as_deref()),
        Command::Train(args) => fast::train(*args, &config, cli.data_dir.as_deref()),
        Command::Models(cmd) => fast::models(cmd, &config, cli.data_dir.as_deref()),
        Command::Completions { shell } => completions::completions(shell),
        Command::Man => completions::man(),
    }
}

/// The store this process uses: `--store`, else `ATELIER_STORE`, else
/// `[store] url`; `None`: the SQLite file in the data folder.
fn store_location(flag: Option<String>, config: &Config) -> Option<String> {
    flag.or_else(|| std::env::var("ATELIER_STORE").ok())
        .filter(|s| !s.is_empty())
        .or_else(|| Some(config.store.url.clone()).filter(|s| !s.is_empty()))
}

fn open_store(config: &Config, flag: Option<PathBuf>) -> Result<crate::queue::Store> {
    let dir = config.data_dir(flag.as_deref())?;
    Ok(crate::queue::Store::open(&dir)?)
}

/// `atelier show IMAGE`: decoded with the engine's checks, drawn with viuer.
fn show(path: &std::path::Path, width: Option<u32>) -> Result<i32> {
    let img = crate::engine::infra::image_io::load_rgb(
        path,
        crate::engine::infra::image_io::DEFAULT_PIXEL_LIMIT,
    )?;
    // viuer probes the terminal with escape sequences; into a pipe or a file
    // they would be garbage, so say plainly what the image is instead.
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        println!(
            "{}: {}x{} (not drawn: standard output is not a terminal)",
            path.display(),
            img.width(),
            img.height()
        );
        return Ok(0);
    }
    let conf = viuer::Config {
        width,
        absolute_offset: false,
        ..Default::default()
    };
    viuer::print(&image::DynamicImage::ImageRgb8(img), &conf)
        .map_err(|e| anyhow::anyhow!("cannot draw {}: {e}", path.display()))?;
    Ok(0)
}

/// A flag that the first Ctrl-C or SIGTERM sets, so long work can stop cleanly;
/// a second one exits at once (in case the work is stuck in a long step).
pub(crate) fn stop_flag() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(EXIT_CANCELLED);
        }
    })
    .map_err(|e| anyhow::anyhow!("cannot install the signal handler: {e}"))?;
    Ok(stop)
}
