//! `atelier store …`: the run store itself: bring its schema up to date,
//! check that it can be used and who works on it.

use anyhow::{bail, Result};
use clap::Subcommand;

use crate::config::Config;
use crate::queue::run::now;
use crate::queue::store::postgres::{self, PostgresBackend, LATEST};
use crate::queue::Store;

#[derive(Subcommand, Debug)]
pub enum StoreCmd {
    /// Create the store's tables or bring them up to this atelier's schema
    /// (a newer schema is refused, untouched).
    Migrate,
    /// Check the store: reachable, its schema, the workers registered.
    Check,
}

/// Runs `cmd` on the store at `location` (see [`crate::queue::store::choose`]).
pub fn run(
    cmd: StoreCmd,
    location: Option<&str>,
    config: &Config,
    data_dir: Option<&std::path::Path>,
) -> Result<i32> {
    let server = location.filter(|l| postgres::is_url(l));
    match (cmd, server) {
        (StoreCmd::Migrate, Some(url)) => {
            let backend = PostgresBackend::connect(url)?;
            let found = backend.migrate()?;
            let name = backend.label().display();
            if found == LATEST {
                println!("{name}: schema {LATEST}, up to date");
            } else {
                println!("{name}: schema {found} -> {LATEST}");
            }
            Ok(0)
        }
        (StoreCmd::Check, Some(url)) => {
            let backend = PostgresBackend::connect(url)?;
            let version = backend.schema_version()?;
            let name = backend.label().display().to_string();
            if version != LATEST {
                let what = if version > LATEST {
                    "made by a newer atelier: upgrade atelier on this host"
                } else {
                    "run `atelier store migrate`"
                };
                bail!("{name}: schema {version}, this atelier knows {LATEST}: {what}");
            }
            println!("{name}: reachable, schema {version}");
            drop(backend);
            workers(&open(location, config, data_dir)?, config)
        }
        // SQLite: opening the file checks and migrates it.
        (cmd, None) => {
            let store = open(location, config, data_dir)?;
            println!("{}: SQLite, schema up to date", store.path().display());
            match cmd {
                StoreCmd::Migrate => Ok(0),
                StoreCmd::Check => workers(&store, config),
            }
        }
    }
}

fn open(
    location: Option<&str>,
    config: &Config,
    data_dir: Option<&std::path::Path>,
) -> Result<Store> {
    Ok(Store::open_at(&config.data_dir(data_dir)?, location)?)
}

/// The registered workers, each with its host and how long ago it was last
/// heard of; those silent longer than `[worker] stale_after` are marked.
fn workers(store: &Store, config: &Config) -> Result<i32> {
    let workers = store.workers()?;
    if workers.is_empty() {
        println!("no workers registered");
    }
    let t = now();
    for w in workers {
        let age = (t - w.heartbeat).max(0.0);
        let state = if age > config.worker.stale_after {
            "silent"
        } else {
            "alive"
        };
        let run = w.current_run.map_or("idle".into(), |r| format!("run {r}"));
        println!(
            "worker {} on {} ({}): {run}, {state}, last heard {age:.0} s ago",
            w.id, w.host, w.device
        );
    }
    Ok(0)
}
