//! Configuration: the documented defaults in `config/atelier.toml` (built in),
//! overlaid by the user's file. Unknown keys are errors, so typos are caught.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::engine::spec::RunSpec;

const DEFAULTS: &str = include_str!("../config/atelier.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paths {
    pub weights: PathBuf,
    pub styles: PathBuf,
    pub contents: PathBuf,
    pub output: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StylizeDefaults {
    pub content: String,
    pub style: String,
    pub device: String,
    pub log_every: usize,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceDefaults {
    pub size: u32,
    pub steps: usize,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub paths: Paths,
    pub stylize: StylizeDefaults,
    pub run: RunSpec,
    pub cpu: DeviceDefaults,
    pub gpu: DeviceDefaults,
}

impl Config {
    /// The built-in defaults overlaid with `user` (a TOML file), if given and present.
    /// `explicit` says the user named the file, so its absence is an error.
    pub fn load(user: Option<&Path>, explicit: bool) -> Result<Self, ConfigError> {
        let mut value: toml::Table =
            DEFAULTS
                .parse()
                .map_err(|e: toml::de::Error| ConfigError::Invalid {
                    path: "config/atelier.toml (built in)".into(),
                    reason: e.message().to_string(),
                })?;
        if let Some(path) = user {
            let err = |reason: String| ConfigError::Invalid {
                path: path.to_path_buf(),
                reason,
            };
            match std::fs::read_to_string(path) {
                Ok(text) => {
                    let over: toml::Table = text
                        .parse()
                        .map_err(|e: toml::de::Error| err(e.message().to_string()))?;
                    merge(&mut value, over);
                    return toml::Value::Table(value)
                        .try_into()
                        .map_err(|e: toml::de::Error| err(e.message().to_string()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {}
                Err(e) => return Err(err(e.to_string())),
            }
        }
        toml::Value::Table(value)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid {
                path: "config/atelier.toml (built in)".into(),
                reason: e.message().to_string(),
            })
    }

    /// Where the user's config file lives by default.
    pub fn default_user_path() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "atelier")
            .map(|d| d.config_dir().join("config.toml"))
    }
}

/// Overlays `over` onto `base`, table by table.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// The folder relative paths are resolved against: `$ATELIER_HOME`, else the
/// checkout atelier was built from.
pub fn home() -> PathBuf {
    std::env::var_os("ATELIER_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// `p` if absolute, else `home()/p`.
pub fn resolve(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        home().join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_defaults_parse_and_match_the_engine() {
        let c = Config::load(None, false).unwrap();
        let d = RunSpec::default();
        assert_eq!(c.run.content_weight, d.content_weight);
        assert_eq!(c.run.style_layers, d.style_layers);
        assert_eq!(c.cpu.size, d.size);
        assert_eq!(c.run.style_scale, d.style_scale);
        assert_eq!(c.run.preserve_colors, d.preserve_colors);
        assert_eq!(c.run.scales, d.scales);
        assert_eq!(c.run.tile, d.tile);
        assert_eq!(c.run.style_loss, d.style_loss);
        assert_eq!(c.run.mrf_weight, d.mrf_weight);
        assert_eq!(c.run.mrf_layers, d.mrf_layers);
    }

    #[test]
    fn user_file_overrides_and_typos_fail() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[run]\nstyle_weight = 1e3\n[cpu]\nsteps = 7\n").unwrap();
        let c = Config::load(Some(&p), true).unwrap();
        assert_eq!(c.run.style_weight, 1e3);
        assert_eq!(c.run.content_weight, 5.0);
        assert_eq!(c.cpu.steps, 7);
        std::fs::write(&p, "[run]\nstyle_wieght = 1\n").unwrap();
        let e = Config::load(Some(&p), true).unwrap_err().to_string();
        assert!(e.contains("style_wieght"), "{e}");
    }
}
