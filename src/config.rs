//! Configuration: the documented defaults in `config/atelier.toml` (built in),
//! overlaid by the user's file. Unknown keys are errors, so typos are caught.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::engine::gatys::spec::RunSpec;

const DEFAULTS: &str = include_str!("../config/atelier.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paths {
    /// Database and run folders; default: the user's data directory.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
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
    pub worker: WorkerDefaults,
    pub store: StoreConfig,
    pub apply: ApplyDefaults,
    pub tui: TuiConfig,
    /// Named sets of run parameters (`[presets.NAME]`, run-spec field names),
    /// laid over `[run]` and the device's size and steps.
    #[serde(default)]
    pub presets: BTreeMap<String, toml::Table>,
    /// Drop-folder rules (`[[watch]]`); none by default.
    #[serde(default)]
    pub watch: Vec<crate::watch::RuleConfig>,
    /// Drop-folder timings shared by all rules.
    #[serde(default)]
    pub watcher: crate::watch::WatcherSettings,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuiConfig {
    pub start_worker: bool,
    pub image_protocol: String,
    /// The adain/wct model the Library's preview-as-you-browse uses, or
    /// "off" (slow machines).
    pub browse_preview: String,
    /// Refine that preview with a short Gatys run once the cursor rests:
    /// "auto" (size and steps by the device) or "off".
    pub browse_refine: String,
    pub browse_refine_size_cpu: u32,
    pub browse_refine_steps_cpu: usize,
    pub browse_refine_size_gpu: u32,
    pub browse_refine_steps_gpu: usize,
    /// Action name → keys, replacing that action's default keys.
    #[serde(default)]
    pub keys: std::collections::HashMap<String, Vec<String>>,
    /// Colours as written; the TUI parses and checks them when it starts.
    pub theme: ThemeConfig,
}

/// `[tui.theme]` as written (raw, so the config does not depend on the
/// TUI): colour names, `#rrggbb` or a 0–255 palette index.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThemeConfig {
    pub accent: String,
    pub text: String,
    pub muted: String,
    pub error: String,
    pub ok: String,
    pub warn: String,
    pub chart_style: String,
    pub chart_content: String,
    pub chart_total: String,
    pub chart_best: String,
    pub chart_rollback: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerDefaults {
    pub device: String,
    pub on_interrupted: crate::queue::OnInterrupted,
    pub stale_after: f64,
    pub poll_interval: f64,
    pub thumb_size: u32,
    pub snapshot_every: usize,
}

/// `[store]`: where the queue and history are.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// A `postgres://` URL (a queue shared by several hosts) or a SQLite
    /// file; empty: the SQLite file in the data folder.
    pub url: String,
}

/// `[apply]`: limits of `apply` that every front end shares.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyDefaults {
    /// Largest `--size`, px.
    pub max_size: u32,
}

impl Config {
    /// The limits every front end builds jobs within.
    pub fn limits(&self) -> crate::jobs::Limits {
        crate::jobs::Limits {
            apply_max_size: self.apply.max_size,
            pixel_limit: self.run.pixel_limit,
        }
    }

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
                    let c: Config = toml::Value::Table(value)
                        .try_into()
                        .map_err(|e: toml::de::Error| err(e.message().to_string()))?;
                    return c.check().map_err(|e| match e {
                        ConfigError::Invalid { path: key, reason } => {
                            err(format!("{}: {reason}", key.display()))
                        }
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {}
                Err(e) => return Err(err(e.to_string())),
            }
        }
        let c: Config = toml::Value::Table(value)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid {
                path: "config/atelier.toml (built in)".into(),
                reason: e.message().to_string(),
            })?;
        c.check()
    }

    /// The run spec of preset `name` (`None`: no preset) on a GPU or CPU:
    /// `[run]` with the device's size and steps, then the preset's keys.
    /// Content and style are left empty.
    pub fn preset_spec(&self, name: Option<&str>, gpu: bool) -> Result<RunSpec, ConfigError> {
        let d = if gpu { self.gpu } else { self.cpu };
        let base = RunSpec {
            size: d.size,
            steps: d.steps,
            ..self.run.clone()
        };
        let Some(name) = name else {
            return Ok(base);
        };
        let err = |reason: String| ConfigError::Invalid {
            path: format!("presets.{name}").into(),
            reason,
        };
        let preset = self.presets.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.presets.keys().map(String::as_str).collect();
            err(format!(
                "no such preset (known: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            ))
        })?;
        let mut table = match toml::Value::try_from(&base) {
            Ok(toml::Value::Table(t)) => t,
            _ => return Err(err("cannot represent the run spec".into())),
        };
        let mut preset = preset.clone();
        // Which job kinds the preset is for: see `kind_spec`.
        preset.remove(PRESET_KINDS);
        merge(&mut table, preset);
        let spec: RunSpec = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| err(e.message().to_string()))?;
        spec.validate().map_err(|e| err(e.to_string()))?;
        Ok(spec)
    }

    /// The parameters of a job of `kind` from preset `name` (`None`: `[run]`
    /// with the device's size and steps). A preset may name the kinds it is
    /// for (`kinds = ["texture"]`; default: every kind that takes run
    /// parameters); using it for another kind is an error.
    pub fn kind_spec(
        &self,
        kind: &str,
        name: Option<&str>,
        gpu: bool,
    ) -> Result<RunSpec, ConfigError> {
        use crate::jobs::{stylize, texture};
        if ![stylize::KIND, texture::KIND].contains(&kind) {
            return Err(ConfigError::Invalid {
                path: "run".into(),
                reason: format!("jobs of kind '{kind}' take no [run] parameters"),
            });
        }
        if let Some(name) = name {
            let kinds = self.preset_kinds(name)?;
            if !kinds.is_empty() && !kinds.iter().any(|k| k == kind) {
                return Err(ConfigError::Invalid {
                    path: format!("presets.{name}").into(),
                    reason: format!("is for {}, not for {kind}", kinds.join(", ")),
                });
            }
        }
        self.preset_spec(name, gpu)
    }

    /// The `kinds` a preset names (empty: any).
    fn preset_kinds(&self, name: &str) -> Result<Vec<String>, ConfigError> {
        let err = |reason: String| ConfigError::Invalid {
            path: format!("presets.{name}.{PRESET_KINDS}").into(),
            reason,
        };
        let Some(v) = self.presets.get(name).and_then(|t| t.get(PRESET_KINDS)) else {
            return Ok(Vec::new());
        };
        let kinds: Vec<String> = v
            .clone()
            .try_into()
            .map_err(|_| err("expected a list of job kinds, e.g. [\"texture\"]".into()))?;
        for k in &kinds {
            if !crate::jobs::Job::KINDS.contains(&k.as_str()) {
                return Err(err(format!(
                    "unknown job kind '{k}' (kinds: {})",
                    crate::jobs::Job::KINDS.join(", ")
                )));
            }
        }
        Ok(kinds)
    }

    /// Presets and watch rules are checked when the config is read, so a typo
    /// fails at once rather than when a file arrives.
    fn check(self) -> Result<Self, ConfigError> {
        self.check_ranges()?;
        for name in self.presets.keys() {
            self.preset_spec(Some(name), false)?;
            self.preset_kinds(name)?;
        }
        let mut names = std::collections::HashSet::new();
        for (i, w) in self.watch.iter().enumerate() {
            let err = |reason: String| ConfigError::Invalid {
                path: format!("watch[{i}]").into(),
                reason,
            };
            if let Some(p) = &w.preset {
                if !self.presets.contains_key(p) {
                    return Err(err(format!("preset '{p}' is not defined in [presets]")));
                }
            }
            self.kind_spec(w.kind.as_str(), w.preset.as_deref(), false)
                .map_err(|e| err(e.to_string()))?;
            w.check_target().map_err(err)?;
            if !names.insert(w.name()) {
                return Err(err(format!(
                    "two rules are named '{}': give each a distinct name",
                    w.name()
                )));
            }
        }
        Ok(self)
    }

    /// The size and steps of the browse preview's refinement on a GPU or
    /// CPU, or `None` when `[tui] browse_refine` is "off".
    pub fn browse_refine(&self, gpu: bool) -> Option<DeviceDefaults> {
        let t = &self.tui;
        (t.browse_refine.trim() != "off").then_some(match gpu {
            true => DeviceDefaults {
                size: t.browse_refine_size_gpu,
                steps: t.browse_refine_steps_gpu,
            },
            false => DeviceDefaults {
                size: t.browse_refine_size_cpu,
                steps: t.browse_refine_steps_cpu,
            },
        })
    }

    fn check_browse_refine(&self) -> Result<(), ConfigError> {
        let t = &self.tui;
        if !["auto", "off"].contains(&t.browse_refine.trim()) {
            return Err(ConfigError::Invalid {
                path: "tui.browse_refine".into(),
                reason: format!("'{}' (use \"auto\" or \"off\")", t.browse_refine),
            });
        }
        for (key, size) in [
            ("tui.browse_refine_size_cpu", t.browse_refine_size_cpu),
            ("tui.browse_refine_size_gpu", t.browse_refine_size_gpu),
        ] {
            in_range(key, f64::from(size), 32.0, 1024.0, " px")?;
        }
        for (key, steps) in [
            ("tui.browse_refine_steps_cpu", t.browse_refine_steps_cpu),
            ("tui.browse_refine_steps_gpu", t.browse_refine_steps_gpu),
        ] {
            in_range(key, steps as f64, 1.0, 10000.0, " iterations")?;
        }
        Ok(())
    }

    /// Where the user's config file lives by default.
    pub fn default_user_path() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "atelier")
            .map(|d| d.config_dir().join("config.toml"))
    }
}

/// Longest accepted duration, in seconds: a week. Beyond it a setting is a
/// typo, and `Duration::from_secs_f64` would panic on 1e300 or inf.
const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// `Err` naming `key` unless `v` is a finite number in `min..=max`.
fn in_range(key: &str, v: f64, min: f64, max: f64, unit: &str) -> Result<(), ConfigError> {
    if v.is_finite() && (min..=max).contains(&v) {
        return Ok(());
    }
    Err(ConfigError::Invalid {
        path: key.into(),
        reason: format!("{v} (use {min} to {max}{unit})"),
    })
}

/// The config key a run-spec validation error is about (the engine names
/// fields in words: "style weight" is `style_weight`).
fn spec_key(field: &str) -> String {
    match field {
        "window" => "flat_window".into(),
        "stop-when-flat" => "stop_when_flat".into(),
        "layer weight" => "style_layers/content_layers/mrf_layers".into(),
        "style blend weight" | "style blend weights" | "styles" => "styles".into(),
        f => f.replace([' ', '-'], "_"),
    }
}

impl Config {
    /// Every duration and number outside the run spec, range-checked with
    /// the key named; `[run]` is validated with each device's size and steps.
    fn check_ranges(&self) -> Result<(), ConfigError> {
        let w = &self.watcher;
        for (key, v) in [
            ("watcher.quiet", w.quiet),
            ("watcher.open_grace", w.open_grace),
            ("watcher.reconcile_every", w.reconcile_every),
            ("watcher.poll_interval", w.poll_interval),
            ("watcher.debounce", w.debounce),
            ("worker.poll_interval", self.worker.poll_interval),
        ] {
            in_range(key, v, 0.0, MAX_SECONDS, " seconds")?;
        }
        in_range(
            "worker.stale_after",
            self.worker.stale_after,
            crate::queue::worker::MIN_STALE_AFTER,
            MAX_SECONDS,
            " seconds",
        )?;
        in_range(
            "worker.thumb_size",
            f64::from(self.worker.thumb_size),
            16.0,
            4096.0,
            " px",
        )?;
        in_range(
            "apply.max_size",
            f64::from(self.apply.max_size),
            f64::from(crate::jobs::apply::MIN_SIZE),
            f64::from(crate::engine::gatys::spec::MAX_SIZE),
            " px",
        )?;
        for (key, v) in [
            ("worker.snapshot_every", self.worker.snapshot_every),
            ("stylize.log_every", self.stylize.log_every),
        ] {
            in_range(
                key,
                v as f64,
                0.0,
                crate::engine::gatys::spec::MAX_STEPS as f64,
                " evaluations",
            )?;
        }
        self.check_browse_refine()?;
        for (table, gpu) in [("cpu", false), ("gpu", true)] {
            let spec = self.preset_spec(None, gpu)?;
            // Content and style come from the command line, not the config.
            let spec = RunSpec {
                styles: vec![crate::engine::gatys::spec::StyleRef {
                    path: PathBuf::new(),
                    weight: 1.0,
                }],
                ..spec
            };
            if let Err(crate::engine::Error::Invalid { field, reason }) = spec.validate() {
                let key = match field {
                    "size" | "steps" => format!("{table}.{field}"),
                    f => format!("run.{}", spec_key(f)),
                };
                return Err(ConfigError::Invalid {
                    path: key.into(),
                    reason,
                });
            } else if let Err(e) = spec.validate() {
                return Err(ConfigError::Invalid {
                    path: "run".into(),
                    reason: e.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// The key of a preset that names the job kinds it is for.
const PRESET_KINDS: &str = "kinds";

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

impl Config {
    /// The worker settings for `device` from `[worker]` and `[paths]`.
    pub fn worker_config(
        &self,
        device: tch::Device,
        exit_when_idle: bool,
    ) -> crate::queue::worker::WorkerConfig {
        use crate::queue::worker::{RunDefaults, SizeSteps};
        let of = |d: DeviceDefaults| SizeSteps {
            size: d.size,
            steps: d.steps,
        };
        crate::queue::worker::WorkerConfig {
            device,
            auto_device: false,
            defaults: RunDefaults {
                cpu: of(self.cpu),
                gpu: of(self.gpu),
            },
            weights: resolve(&self.paths.weights),
            poll: std::time::Duration::from_secs_f64(self.worker.poll_interval.max(0.05)),
            exit_when_idle,
            stale_after: self.worker.stale_after,
            on_interrupted: self.worker.on_interrupted,
            thumb_size: self.worker.thumb_size,
            snapshot_every: self.worker.snapshot_every,
        }
    }

    /// [`Config::worker_config`] for a device as the user names it: with
    /// `auto` the worker chooses when it starts, avoiding the GPUs that live
    /// workers on this host hold.
    pub fn worker_config_for(
        &self,
        device: &str,
        exit_when_idle: bool,
    ) -> Result<crate::queue::worker::WorkerConfig, crate::engine::Error> {
        let parsed = crate::engine::infra::device::parse_device(device)?;
        let mut w = self.worker_config(parsed, exit_when_idle);
        w.auto_device = device.trim() == "auto";
        Ok(w)
    }

    /// The data directory: `--data-dir`, else `paths.data_dir`, else the user's
    /// data directory (`$XDG_DATA_HOME/atelier`).
    pub fn data_dir(&self, flag: Option<&Path>) -> Result<PathBuf, ConfigError> {
        if let Some(p) = flag
            .map(Path::to_path_buf)
            .or_else(|| self.paths.data_dir.clone())
        {
            return Ok(resolve(&p));
        }
        directories::ProjectDirs::from("", "", "atelier")
            .map(|d| d.data_dir().to_path_buf())
            .ok_or_else(|| ConfigError::Invalid {
                path: "paths.data_dir".into(),
                reason:
                    "no home directory to put the data in; set paths.data_dir or pass --data-dir"
                        .into(),
            })
    }
}

/// The folder relative paths are resolved against: `$ATELIER_HOME`, else the
/// checkout atelier was built from.
pub fn home() -> PathBuf {
    std::env::var_os("ATELIER_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// A path given on the command line, made absolute against the current
/// folder (unlike the config's paths, which are relative to [`home`]); a
/// clap value parser.
pub fn cli_path(s: &str) -> Result<PathBuf, String> {
    std::path::absolute(s).map_err(|e| format!("{s}: {e}"))
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

    #[test]
    fn presets_name_the_kinds_they_are_for() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "[presets.tex]\nkinds = [\"texture\"]\nsize = 48\n[presets.any]\nsize = 40\n",
        )
        .unwrap();
        let c = Config::load(Some(&p), true).unwrap();
        assert_eq!(c.kind_spec("texture", Some("tex"), false).unwrap().size, 48);
        let e = c
            .kind_spec("stylize", Some("tex"), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not for stylize"), "{e}");
        for kind in ["stylize", "texture"] {
            assert_eq!(c.kind_spec(kind, Some("any"), false).unwrap().size, 40);
        }
        assert!(c.kind_spec("fast-style", None, false).is_err());
        // A kind the build does not know, a rule on a preset for another kind.
        for (bad, want) in [
            ("[presets.x]\nkinds = [\"oil\"]\n", "oil"),
            ("[presets.x]\nkinds = \"texture\"\n", "kinds"),
            (
                "[presets.x]\nkinds = [\"texture\"]\n[[watch]]\ninbox = \"/in\"\noutput = \"/o\"\nstyles = [\"a\"]\npreset = \"x\"\n",
                "not for stylize",
            ),
            (
                "[[watch]]\ninbox = \"/in\"\noutput = \"/o\"\nstyles = [\"a\"]\nkind = \"texture\"\n",
                "texture",
            ),
        ] {
            std::fs::write(&p, bad).unwrap();
            let e = Config::load(Some(&p), true).unwrap_err().to_string();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn presets_and_watch_rules_parse_and_are_checked() {
        let c = Config::load(None, false).unwrap();
        assert!(c.watch.is_empty());
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "watch = []\n[presets.tiny]\nsize = 32\nsteps = 2\nstyle_weight = 1e3\n",
        )
        .unwrap();
        let c = Config::load(Some(&p), true).unwrap();
        assert!(c.watch.is_empty());
        let s = c.preset_spec(Some("tiny"), false).unwrap();
        assert_eq!((s.size, s.steps, s.style_weight), (32, 2, 1e3));
        assert_eq!(s.content_weight, 5.0);
        let s = c.preset_spec(None, false).unwrap();
        assert_eq!((s.size, s.steps), (c.cpu.size, c.cpu.steps));
        std::fs::write(
            &p,
            "[presets.tiny]\nsize = 32\n[[watch]]\ninbox = \"/in\"\noutput = \"/out\"\nstyles = [\"irises\"]\npreset = \"tiny\"\nafter = \"move\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&p), true).unwrap();
        assert_eq!(c.watch.len(), 1);
        assert_eq!(c.watch[0].after, crate::watch::After::Move);
        for (bad, want) in [
            ("[presets.tiny]\nstpes = 3\n", "stpes"),
            ("[presets.tiny]\nsteps = 0\n", "steps"),
            (
                "[[watch]]\ninbox = \"/in\"\noutput = \"/o\"\nstyles = [\"a\"]\npreset = \"nope\"\n",
                "nope",
            ),
            (
                "[[watch]]\ninbox = \"/in\"\noutput = \"/o\"\nstyles = [\"a\"]\nbackend = \"inotify\"\n",
                "inotify",
            ),
            (
                "[[watch]]\ninbox = \"/in\"\noutput = \"/o\"\nstyles = [\"a\"]\nrecursve = true\n",
                "recursve",
            ),
        ] {
            std::fs::write(&p, bad).unwrap();
            let e = Config::load(Some(&p), true).unwrap_err().to_string();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }
}
