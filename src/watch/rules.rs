//! Watch rules: the `[[watch]]` tables of the config and the `[watcher]`
//! timings, and a rule resolved for running (absolute folders, styles found
//! and checked, the run spec of its preset).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::WatchError;
use crate::engine::fast::mix::StyleMix;
use crate::engine::fast::models::ModelLibrary;
use crate::engine::gatys::spec::{RunSpec, StyleRef as RunStyleRef};
use crate::engine::infra::label_map::RegionMap;
use crate::engine::infra::library::Library;
use crate::engine::infra::mask;
use crate::engine::nets::weights::sha256_file;
use crate::jobs::apply::{self, ModelStyles, Request, StyleChoice, Styling};
use crate::jobs::stylize::build::{self as stylize, Painting};
use crate::jobs::stylize::RunMasks;
use crate::jobs::Role;
use crate::jobs::{Input, Limits};

/// How changes in the inbox are noticed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Native (inotify), or polling when the inbox is on NFS/SMB/FUSE or the
    /// native watcher cannot start.
    #[default]
    Auto,
    Native,
    /// Compare folder listings every `poll_interval` (network shares).
    Poll,
}

/// What happens to an input once its outputs are delivered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum After {
    #[default]
    Keep,
    /// Into `<inbox>/processed/` (never deleted).
    Move,
}

/// The job kind a rule queues for each arrival with its `styles`. Only kinds
/// that take an image as their input can be fed by a drop folder; a rule with
/// `model = "…"` instead queues one `apply` run (see [`Rule::jobs`]): that
/// kind takes no `[run]` parameters, so it is a field, not a variant here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    #[default]
    Stylize,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Stylize => crate::jobs::stylize::KIND,
        }
    }
}

/// One `[[watch]]` table as written in the config.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Identifies the rule in the ledger; default: the inbox path. Renaming a
    /// rule makes it see every file as new.
    #[serde(default)]
    pub name: Option<String>,
    /// The job kind queued for each arrival (default: stylize).
    #[serde(default)]
    pub kind: RuleKind,
    pub inbox: PathBuf,
    /// Library names or image paths; each gives its own output. With a
    /// multi-style `model`: its styles (`NAME|INDEX`), an output per style,
    /// or, when any carries a weight (`NAME:W`), one output of their mix.
    #[serde(default)]
    pub styles: Vec<String>,
    /// Instead of `styles`: a fast-style model (`atelier models ls`) that
    /// stylizes each arrival in one pass (an `apply` job); a multi-style
    /// model takes its styles from `styles`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// One greyscale mask per entry of `styles`, in their order: the rule
    /// then queues one run per arrival that puts each style on its region
    /// (a stylize rule, or an adain/wct `model`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub style_masks: Vec<PathBuf>,
    /// Instead of `style_masks`: one colour-coded map, a colour per entry of
    /// `styles`, taken in reading order (from the top-left, row by row).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regions: Option<PathBuf>,
    /// Style only inside this greyscale mask; outside, the output is the
    /// photo (any rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_mask: Option<PathBuf>,
    /// A `[presets.NAME]` table; default: `[run]` with the device's size and steps.
    #[serde(default)]
    pub preset: Option<String>,
    pub output: PathBuf,
    #[serde(default)]
    pub recursive: bool,
    #[serde(default)]
    pub backend: Backend,
    #[serde(default)]
    pub after: After,
    /// Queue priority of the runs (higher runs first).
    #[serde(default)]
    pub priority: i64,
    /// A disabled rule is listed but does not watch.
    #[serde(default = "enabled_default")]
    pub enabled: bool,
}

fn enabled_default() -> bool {
    true
}

impl RuleConfig {
    pub fn name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| self.inbox.display().to_string())
    }

    /// What a rule turns arrivals into must be said once: `styles` (a
    /// stylize run per style) or `model` (apply runs; `styles` then names a
    /// multi-style model's styles, checked against the model when resolved).
    /// Style masks, when given, are one per style.
    pub fn check_target(&self) -> Result<(), String> {
        match (&self.model, self.styles.is_empty()) {
            (Some(m), _) if m.trim().is_empty() => return Err("model is empty".into()),
            (None, true) => return Err("styles is empty: give at least one (or a model)".into()),
            _ => {}
        }
        if self.regions.is_some() && !self.style_masks.is_empty() {
            return Err("regions replaces style_masks: give one or the other".into());
        }
        let (n, styles) = (self.style_masks.len(), self.styles.len());
        // A model without styles has none to mask: its check says so.
        if n > 0 && n != styles && (self.model.is_none() || styles > 0) {
            return Err(format!(
                "style_masks: {n} given for {styles} styles (give one per style, in the order of styles)"
            ));
        }
        Ok(())
    }
}

/// The `[watcher]` table: timings shared by all rules, in seconds.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WatcherSettings {
    /// A file counts as arrived once its size and mtime have not changed for this long.
    pub quiet: f64,
    /// With the native backend a file also needs a close-after-write or a
    /// rename into place; one without (missed event, writer still open) is
    /// taken once unchanged for this long.
    pub open_grace: f64,
    /// Full rescan of each inbox, catching anything events missed.
    pub reconcile_every: f64,
    /// Folder listing interval of the poll backend.
    pub poll_interval: f64,
    /// Event debounce of notify-debouncer-full.
    pub debounce: f64,
}

impl Default for WatcherSettings {
    fn default() -> Self {
        Self {
            quiet: 2.0,
            open_grace: 60.0,
            reconcile_every: 60.0,
            poll_interval: 2.0,
            debounce: 0.2,
        }
    }
}

fn secs(s: f64, min: f64) -> Duration {
    Duration::from_secs_f64(if s.is_finite() { s.max(min) } else { min })
}

/// The settings as durations, with floors that keep the loop sane.
#[derive(Clone, Copy, Debug)]
pub struct Timings {
    pub quiet: Duration,
    pub open_grace: Duration,
    pub reconcile_every: Duration,
    pub poll_interval: Duration,
    pub debounce: Duration,
}

impl From<&WatcherSettings> for Timings {
    fn from(s: &WatcherSettings) -> Self {
        Self {
            quiet: secs(s.quiet, 0.05),
            open_grace: secs(s.open_grace, 0.05),
            reconcile_every: secs(s.reconcile_every, 0.5),
            poll_interval: secs(s.poll_interval, 0.05),
            debounce: secs(s.debounce, 0.02),
        }
    }
}

/// A style of a rule, found and checked.
#[derive(Clone, Debug, Serialize)]
pub struct StyleRef {
    /// Used in output names: the library name, else the file stem.
    pub name: String,
    pub path: PathBuf,
    pub sha256: String,
}

/// The fast-style model of a `model =` rule, found and checked.
#[derive(Clone, Debug, Serialize)]
pub struct ModelRef {
    /// Used in output names (`<stem>__<name>.png`).
    pub name: String,
    pub path: PathBuf,
    pub sha256: String,
    /// What each arrival is styled with: one output each.
    pub outputs: Vec<ModelOutput>,
}

impl ModelRef {
    /// How the watch status names an output: `model NAME [STYLES]`.
    pub fn output_name(&self, o: &ModelOutput) -> String {
        match o.styling.label() {
            Some(l) => format!("model {} {l}", self.name),
            None => format!("model {}", self.name),
        }
    }
}

/// One output of a `model =` rule: its styling, built by the apply kind's
/// builder, and its paintings as run inputs (hashed once, when the rule is
/// resolved).
#[derive(Clone, Debug, Serialize)]
pub struct ModelOutput {
    pub styling: Styling,
    pub inputs: Vec<crate::jobs::Input>,
}

/// Refuses a style listed twice: it would give the same output twice (or
/// count twice in a mix). `entries` are the styles as written, each with
/// what it resolved to (`None`: left for the resolver to report).
fn refuse_duplicates<K: PartialEq>(entries: &[(&str, Option<K>)]) -> Result<(), String> {
    for (j, (s, k)) in entries.iter().enumerate() {
        let Some(k) = k else { continue };
        if let Some((first, _)) = entries[..j].iter().find(|(_, o)| o.as_ref() == Some(k)) {
            return Err(if first == s {
                format!("style '{s}' is listed twice: list it once")
            } else {
                format!("styles '{first}' and '{s}' are the same style: list it once")
            });
        }
    }
    Ok(())
}

/// The outputs a `model =` rule gives each arrival: one per entry of
/// `styles`, or one mix when any entry has a weight (none to choose for a
/// single-style model); each styling as every front end builds it.
fn model_outputs(
    model: &str,
    styles: &ModelStyles,
    entries: &[String],
    masked: bool,
    library: Option<&Library>,
    pixel_limit: u64,
) -> Result<Vec<ModelOutput>, String> {
    let output = |entries: Vec<String>| -> Result<ModelOutput, String> {
        let choice = StyleChoice {
            entries,
            ..Default::default()
        };
        let mut styling =
            apply::styling(model, styles, &choice, library).map_err(|e| e.to_string())?;
        let inputs = styling
            .check_paintings(pixel_limit)
            .map_err(|e| e.to_string())?;
        Ok(ModelOutput { styling, inputs })
    };
    // A style is the same one whatever its weight or spelling (name, index
    // or path): left for the builder to report when it does not resolve.
    let found: Vec<_> = entries
        .iter()
        .map(|e| {
            let alone = RunStyleRef::split(e).ok().map(|(q, _)| vec![q.to_string()]);
            let key = alone
                .and_then(|q| output(q).ok())
                .map(|o| format!("{:?}", o.styling));
            (e.as_str(), key)
        })
        .collect();
    refuse_duplicates(&found)?;
    // With style masks the paintings share one output, each on its region.
    if entries.len() < 2 || masked || StyleMix::has_weights(entries) {
        Ok(vec![output(entries.to_vec())?])
    } else {
        entries.iter().map(|e| output(vec![e.clone()])).collect()
    }
}

/// What a `model =` rule's model is resolved from, kept so that the rule can
/// read it again when the file is replaced while the watcher runs.
#[derive(Clone, Debug)]
struct ModelSource {
    query: String,
    styles: Vec<String>,
    /// The rule has style masks: one output with every painting.
    masked: bool,
    /// The paintings folder (library names in `styles`).
    library: PathBuf,
    bundled: PathBuf,
    user: PathBuf,
    models_styles: Option<PathBuf>,
}

impl ModelSource {
    fn new(c: &RuleConfig, library: &Path, models: &ModelLibrary) -> Self {
        Self {
            query: c.model.clone().unwrap_or_default(),
            styles: c.styles.clone(),
            masked: !c.style_masks.is_empty() || c.regions.is_some(),
            library: library.to_path_buf(),
            bundled: models.bundled.clone(),
            user: models.user.clone(),
            models_styles: models.styles.clone(),
        }
    }

    /// The model found, read and hashed, with the outputs it gives.
    fn resolve(&self, pixel_limit: u64) -> Result<ModelRef, String> {
        let m = &self.query;
        let mut models = ModelLibrary::new(self.bundled.clone(), self.user.clone());
        models.styles = self.models_styles.clone();
        let library = Library::open(&self.library).ok();
        let e = models.find(m).map_err(|e| format!("model '{m}': {e}"))?;
        let styles = ModelStyles::of(&e).map_err(|e| format!("model '{m}': {e}"))?;
        let outputs = model_outputs(
            &e.name,
            &styles,
            &self.styles,
            self.masked,
            library.as_ref(),
            pixel_limit,
        )?;
        let path = std::fs::canonicalize(&e.path).map_err(|err| format!("model '{m}': {err}"))?;
        Ok(ModelRef {
            name: e.name.clone(),
            sha256: sha256_file(&path).map_err(|e| e.to_string())?,
            path,
            outputs,
        })
    }
}

/// The masks of rule `c`, each read (an image that is not all black) and
/// hashed; an error names the key.
fn rule_masks(c: &RuleConfig, pixel_limit: u64) -> Result<RunMasks, String> {
    let read = |p: &Path, key: &str, what: &str| -> Result<Input, String> {
        let checked = mask::load(p, pixel_limit, what)
            .and_then(|_| Input::checked(Role::Mask, None, p, pixel_limit));
        checked.map_err(|e| format!("{key}: {e}"))
    };
    Ok(RunMasks {
        style: c
            .style_masks
            .iter()
            .enumerate()
            .map(|(i, p)| read(p, "style_masks", &format!("mask of style {}", i + 1)))
            .collect::<Result<_, _>>()?,
        regions: c
            .regions
            .as_deref()
            .map(|p| {
                let input = Input::checked(Role::Mask, None, p, pixel_limit)?;
                let map = RegionMap::read(&input.path, pixel_limit, c.styles.len())?;
                Ok((input, map))
            })
            .transpose()
            .map_err(|e: crate::engine::Error| format!("regions: {e}"))?,
        content: c
            .content_mask
            .as_deref()
            .map(|p| read(p, "content_mask", "content mask"))
            .transpose()?,
    })
}

/// A rule ready to run.
#[derive(Clone, Debug, Serialize)]
pub struct Rule {
    pub name: String,
    /// Canonical (symlinks resolved), so arrivals can be checked to lie inside.
    pub inbox: PathBuf,
    pub output: PathBuf,
    /// `<inbox>/processed`, where `after = "move"` puts inputs; never watched.
    pub processed: PathBuf,
    pub kind: RuleKind,
    pub styles: Vec<StyleRef>,
    /// A `model =` rule's model (then `styles` is empty).
    pub model: Option<ModelRef>,
    /// Where `model` is read again from when its file changes.
    #[serde(skip)]
    source: Option<ModelSource>,
    /// The masks every run of the rule carries (read and hashed once).
    pub masks: RunMasks,
    /// The preset's spec; content and style are filled per run.
    pub spec: RunSpec,
    pub preset: Option<String>,
    pub recursive: bool,
    pub backend: Backend,
    pub after: After,
    pub priority: i64,
    pub enabled: bool,
}

impl Rule {
    /// Resolves `c` (whose paths are already absolute) with `spec` from its
    /// preset: the inbox must exist, the output folder is created, every style
    /// must load.
    pub fn resolve(
        c: &RuleConfig,
        spec: RunSpec,
        styles: &Path,
        models: &ModelLibrary,
    ) -> Result<Rule, WatchError> {
        let name = c.name();
        let bad = |reason: String| WatchError::Rule {
            rule: name.clone(),
            reason,
        };
        spec.validate().map_err(|e| bad(e.to_string()))?;
        c.check_target().map_err(bad)?;
        let source = c
            .model
            .as_ref()
            .map(|_| ModelSource::new(c, styles, models));
        let model = match &source {
            Some(src) => Some(src.resolve(spec.pixel_limit).map_err(bad)?),
            None => None,
        };
        let library = Library::open(styles).ok();
        let inbox = std::fs::canonicalize(&c.inbox)
            .map_err(|e| bad(format!("inbox {}: {e}", c.inbox.display())))?;
        if !inbox.is_dir() {
            return Err(bad(format!("inbox {} is not a folder", inbox.display())));
        }
        std::fs::create_dir_all(&c.output)
            .map_err(|e| bad(format!("output {}: {e}", c.output.display())))?;
        let output = std::fs::canonicalize(&c.output)
            .map_err(|e| bad(format!("output {}: {e}", c.output.display())))?;
        if output == inbox {
            return Err(bad(
                "output is the inbox: results would be stylized again; use another folder".into(),
            ));
        }
        let mut refs: Vec<StyleRef> = Vec::new();
        // A model rule's `styles` are the model's, resolved above.
        let image_styles: &[String] = if model.is_some() { &[] } else { &c.styles };
        let limits = Limits {
            pixel_limit: spec.pixel_limit,
            ..Limits::default()
        };
        for s in image_styles {
            // Found, checked and read as every front end's stylize is.
            let painting = Painting::named(s, library.as_ref()).map_err(|e| bad(e.to_string()))?;
            stylize_request(PathBuf::new(), &painting, &spec)
                .spec(&limits)
                .map_err(|e| bad(e.to_string()))?;
            let input = painting
                .checked(spec.pixel_limit)
                .map_err(|e| bad(e.to_string()))?;
            refs.push(StyleRef {
                name: painting.name,
                path: input.path,
                sha256: input.sha256,
            });
        }
        let found: Vec<_> = image_styles
            .iter()
            .zip(&refs)
            .map(|(s, r)| (s.as_str(), Some(&r.path)))
            .collect();
        refuse_duplicates(&found).map_err(bad)?;
        let masks = rule_masks(c, spec.pixel_limit).map_err(bad)?;
        let rule = Rule {
            processed: inbox.join("processed"),
            kind: c.kind,
            name,
            inbox,
            output,
            styles: refs,
            model,
            source,
            spec,
            preset: c.preset.clone(),
            recursive: c.recursive,
            backend: c.backend,
            after: c.after,
            priority: c.priority,
            enabled: c.enabled,
            masks,
        };
        rule.check_masks()?;
        Ok(rule)
    }

    /// The rule's masks fit the runs it queues: a stylize rule's spec takes
    /// them (not with the MRF loss), a model must be an adain/wct one for
    /// style masks. Checked on a stand-in photo: a photo of another shape
    /// than the masks fails its run with the reason.
    fn check_masks(&self) -> Result<(), WatchError> {
        if self.masks.is_empty() {
            return Ok(());
        }
        let bad = |e: crate::engine::Error| WatchError::Rule {
            rule: self.name.clone(),
            reason: e.to_string(),
        };
        let photo = self.inbox.clone();
        match &self.model {
            Some(m) => m.outputs.iter().try_for_each(|o| {
                self.model_spec(m, o, photo.clone())
                    .map(|_| ())
                    .map_err(bad)
            }),
            None => self
                .stylize_spec(photo, &self.styles)
                .map(|_| ())
                .map_err(bad),
        }
    }

    /// The apply spec of `m`'s output `o` for `content`, with the rule's masks.
    fn model_spec(
        &self,
        m: &ModelRef,
        o: &ModelOutput,
        content: PathBuf,
    ) -> Result<apply::Spec, crate::engine::Error> {
        let limits = Limits {
            pixel_limit: self.spec.pixel_limit,
            ..Limits::default()
        };
        let req = Request {
            model_name: m.name.clone(),
            model: m.path.clone(),
            contents: vec![content],
            size: None,
            styling: o.styling.clone(),
        };
        let mut spec = req.spec(&limits)?;
        spec.style_masks = self.masks.style.iter().map(|i| i.path.clone()).collect();
        spec.regions = self.masks.region_map();
        spec.content_mask = self.masks.content.as_ref().map(|i| i.path.clone());
        spec.validate()?;
        Ok(spec)
    }

    /// Reads the rule's model again (its file changed): whether it is
    /// another model now. On an error the rule keeps the model it had.
    pub fn reload_model(&mut self) -> Result<bool, WatchError> {
        let Some(src) = &self.source else {
            return Ok(false);
        };
        let model = src
            .resolve(self.spec.pixel_limit)
            .map_err(|reason| WatchError::Rule {
                rule: self.name.clone(),
                reason,
            })?;
        let changed = self.model.as_ref().map(|m| &m.sha256) != Some(&model.sha256);
        let before = self.model.replace(model);
        if let Err(e) = self.check_masks() {
            // The new model does not take the rule's masks: keep the old one.
            self.model = before;
            return Err(e);
        }
        Ok(changed)
    }

    /// The runs queued for one arrival, each with the label its delivered
    /// output is named by (`<stem>__<label>.png`): one apply run for a
    /// `model =` rule, else one run of the rule's kind per style.
    /// [`Rule::jobs`] as the ledger queues them: delivered into the rule's
    /// output folder under their labels.
    pub fn watched_runs(&self, content: crate::jobs::Input) -> Vec<crate::queue::WatchedRun> {
        self.jobs(content)
            .into_iter()
            .map(|(label, job, inputs)| crate::queue::WatchedRun {
                job,
                inputs,
                style: label,
                output_dir: self.output.clone(),
            })
            .collect()
    }

    pub fn jobs(
        &self,
        content: crate::jobs::Input,
    ) -> Vec<(String, crate::jobs::Job, Vec<crate::jobs::Input>)> {
        if let Some(m) = &self.model {
            let model = crate::jobs::Input::hashed(
                Role::Model,
                Some(m.name.clone()),
                m.path.clone(),
                m.sha256.clone(),
            );
            return m
                .outputs
                .iter()
                .filter_map(|o| {
                    // Checked when the rule was resolved: it cannot fail here.
                    let spec = self.model_spec(m, o, content.path.clone()).ok()?;
                    let mut inputs = vec![model.clone(), content.clone()];
                    inputs.extend_from_slice(&o.inputs);
                    inputs.extend(self.masks.inputs());
                    Some((spec.label(), crate::jobs::Job::Apply(spec), inputs))
                })
                .collect();
        }
        if self.masks.per_style() {
            // Each style on its region: one run with them all.
            let label = self
                .styles
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join("+");
            return self
                .stylize_job(content, self.styles.clone())
                .map(|(job, inputs)| (label, job, inputs))
                .into_iter()
                .collect();
        }
        self.styles
            .iter()
            .filter_map(|s| {
                let (job, inputs) = self.stylize_job(content.clone(), vec![s.clone()])?;
                Some((s.name.clone(), job, inputs))
            })
            .collect()
    }

    /// The job queued for `content` with `styles` (each at weight 1) and
    /// the rule's masks, built by the rule's kind (checked when the rule was
    /// resolved: `None` only if that changed).
    fn stylize_job(
        &self,
        content: Input,
        styles: Vec<StyleRef>,
    ) -> Option<(crate::jobs::Job, Vec<Input>)> {
        let spec = self.stylize_spec(content.path.clone(), &styles).ok()?;
        let mut inputs = vec![content];
        inputs.extend(
            styles
                .into_iter()
                .map(|s| Input::hashed(Role::Style, Some(s.name), s.path, s.sha256)),
        );
        inputs.extend(self.masks.inputs());
        match self.kind {
            RuleKind::Stylize => Some((crate::jobs::Job::Stylize(spec), inputs)),
        }
    }

    /// The stylize spec of `content` with `styles` and the rule's masks,
    /// through the one stylize builder.
    fn stylize_spec(
        &self,
        content: PathBuf,
        styles: &[StyleRef],
    ) -> Result<crate::jobs::stylize::Spec, crate::engine::Error> {
        let limits = Limits {
            pixel_limit: self.spec.pixel_limit,
            ..Limits::default()
        };
        let params = RunSpec {
            style_masks: self.masks.style.iter().map(|i| i.path.clone()).collect(),
            regions: self.masks.region_map(),
            content_mask: self.masks.content.as_ref().map(|i| i.path.clone()),
            ..self.spec.clone()
        };
        stylize::Request {
            content,
            content_name: None,
            paintings: styles
                .iter()
                .map(|s| Painting {
                    path: s.path.clone(),
                    weight: 1.0,
                    name: s.name.clone(),
                })
                .collect(),
            params,
        }
        .spec(&limits)
    }

    /// Folders inside the inbox that are never taken as input: where processed
    /// inputs go, and the output folder if the user put it inside the inbox.
    pub fn excluded(&self, dir: &Path) -> bool {
        dir.starts_with(&self.processed) || dir.starts_with(&self.output)
    }
}

/// A stylize of `content` with one painting on the rule's parameters.
fn stylize_request(content: PathBuf, painting: &Painting, params: &RunSpec) -> stylize::Request {
    stylize::Request {
        content,
        content_name: None,
        paintings: vec![painting.clone()],
        params: params.clone(),
    }
}
