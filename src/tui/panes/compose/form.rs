//! The Compose form: the content, the marked styles with their blend weights,
//! a preset, the run parameters, and the runs it turns into. Pure state: keys
//! arrive as nudges and typed text, errors come back as one line of text.

use std::path::{Path, PathBuf};

use super::kind::Kind;
use super::params::Param;
use super::train::DatasetChoice;
use crate::engine::analogy::AnalogySpec;
use crate::engine::fast::train::TrainSpec;
use crate::engine::gatys::spec::{RunSpec, StyleRef};
use crate::engine::infra::library::Library;
use crate::engine::infra::memory::run_bytes;
use crate::jobs::{analogy, apply, stylize, texture, train, Job, Limits, Role};
use crate::queue::Run;
use crate::tui::data::{DeviceMemory, NewRun};
use crate::tui::lib_item::{LibItem, ModelItem};

/// One row of the form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// Which kind of job `r` queues (stylize, texture, …).
    Kind,
    /// `[presets.*]` of the config (or none: `[run]` and the device's defaults).
    Preset,
    /// With several styles: one run per style, or one run blending them.
    Styles,
    /// The blend weight of the i-th marked style.
    Weight(usize),
    /// Row `i` of the kind's parameter table.
    Param(usize),
}

/// A style marked in the Library, with its blend weight (relative, > 0).
#[derive(Clone, Debug, PartialEq)]
pub struct MarkedStyle {
    pub item: LibItem,
    pub weight: f64,
}

/// The smallest blend weight the +/- keys go down to.
const MIN_WEIGHT: f64 = 0.1;

/// The form. Its inputs (content, marked styles, preset) are shared by the
/// kinds; the `kind` row goes first and picks the table the `Param` rows show
/// ([`Kind::params`]); each table reads and writes its own part of the form.
pub struct ComposeState {
    pub kind: Kind,
    pub content: Option<LibItem>,
    pub styles: Vec<MarkedStyle>,
    /// Several styles make one blended run rather than one run each.
    pub blend: bool,
    /// The Gatys parameters (stylize, texture).
    pub spec: RunSpec,
    /// A texture's canvas is `size`×`size` rather than the style's aspect.
    pub square: bool,
    /// An analogy's parameters (its A and B′ come from the inputs).
    pub analogy: AnalogySpec,
    /// The model `apply` uses (Library: Enter on a model).
    pub model: Option<ModelItem>,
    /// Longer side of an applied output; `None`: the photo's own.
    pub apply_size: Option<u32>,
    /// The config's limits (`[apply] max_size`, `[run] pixel_limit`; see
    /// `App::with_limits`), the same as every front end's.
    pub limits: Limits,
    /// The paintings library, where a typed style name is looked up.
    pub paintings: Option<Library>,
    /// Which styles of a multi-style model: empty for a run per style, else
    /// `name[:w],…` (one style, or a mix).
    pub apply_mix: String,
    /// Training settings; the style of each run is a marked painting.
    pub train: TrainSpec,
    /// The folders of photos the dataset row offers (and any typed one).
    pub datasets: Vec<DatasetChoice>,
    /// The settings the kinds' own tables keep (a video's clip, …).
    pub forms: super::kind::KindForms,
    /// Index into [`ComposeState::fields`].
    pub field: usize,
    /// Name and spec of each preset; the first is "none" (the defaults).
    pub presets: Vec<(String, RunSpec)>,
    /// Index into `presets` of the one the form was last filled from.
    pub preset: usize,
    /// Why the last edit or enqueue was refused, shown in the form.
    pub error: Option<String>,
    /// The masks of the marked paintings and of the photo.
    pub masks: super::masks::FormMasks,
}

impl ComposeState {
    pub fn new(spec: RunSpec) -> Self {
        Self {
            kind: Kind::Stylize,
            square: false,
            analogy: AnalogySpec::default(),
            model: None,
            apply_size: None,
            limits: Limits::default(),
            paintings: None,
            apply_mix: String::new(),
            train: TrainSpec::default(),
            datasets: Vec::new(),
            forms: Default::default(),
            content: None,
            styles: Vec::new(),
            blend: false,
            presets: vec![("none".into(), spec.clone())],
            spec,
            field: 0,
            preset: 0,
            error: None,
            masks: Default::default(),
        }
    }

    /// The parameter table of the chosen kind. An adain/wct model has no
    /// styles of its own to choose: its paintings are the marked ones, run
    /// each or mixed by the style rows.
    pub fn params(&self) -> Vec<Param<ComposeState>> {
        let mut p = self.kind.params();
        if self.applies_arbitrary() {
            p.retain(|p| p.name != super::apply::MODEL_STYLES);
        }
        p.retain(|p| super::masks::shown(self, p.name));
        p
    }

    /// Offers these folders in the dataset row and trains on the first that
    /// holds photos (the training set once made, else the Library's photos).
    pub fn set_datasets(&mut self, datasets: Vec<DatasetChoice>) {
        if let Some(d) = datasets.iter().find(|d| d.images > 0) {
            self.train.dataset = d.path.clone();
        }
        self.datasets = datasets;
    }

    /// Offers `path` in the dataset row (a run loaded for editing) and
    /// trains on it.
    pub fn use_dataset(&mut self, path: &std::path::Path) {
        let path = crate::config::resolve(path);
        if !self.datasets.iter().any(|d| d.path == path) {
            if let Ok(d) = DatasetChoice::scan(&path, false) {
                self.datasets.push(d);
            }
        }
        self.train.dataset = path;
    }

    /// Whether the marked styles can be blended into one run: the Gatys
    /// stylize kind, or an adain/wct model's mix of paintings.
    fn can_blend(&self) -> bool {
        self.kind.blends() || self.applies_arbitrary()
    }

    /// The rows of the form: the style rows only while several are marked
    /// (and the blend row only for a kind that blends).
    pub fn fields(&self) -> Vec<Field> {
        let mut v = vec![Field::Kind];
        if self.kind.gatys() {
            v.push(Field::Preset);
        }
        if self.styles.len() > 1 && self.can_blend() {
            v.push(Field::Styles);
            v.extend((0..self.styles.len()).map(Field::Weight));
        }
        v.extend((0..self.params().len()).map(Field::Param));
        v
    }

    /// The field under the cursor (the cursor is kept on the form when rows
    /// come and go).
    pub fn selected(&self) -> Field {
        let f = self.fields();
        f[self.field.min(f.len() - 1)]
    }

    pub fn label(&self, f: Field) -> String {
        match f {
            Field::Kind => "kind".into(),
            Field::Preset => "preset".into(),
            Field::Styles => "styles".into(),
            Field::Weight(i) => match self.styles.get(i) {
                Some(s) => format!("× {}", s.item.name),
                None => "×".into(),
            },
            Field::Param(i) => self
                .params()
                .get(i)
                .map_or(String::new(), |p| super::masks::label(self, p.name)),
        }
    }

    /// The marked styles' weights normalised to sum to 1.
    pub fn shares(&self) -> Vec<f64> {
        let sum: f64 = self.styles.iter().map(|s| s.weight).sum();
        self.styles
            .iter()
            .map(|s| if sum > 0.0 { s.weight / sum } else { 0.0 })
            .collect()
    }

    /// The normalised weights as `0.70 / 0.30`.
    pub fn shares_label(&self) -> String {
        self.shares()
            .iter()
            .map(|w| format!("{w:.2}"))
            .collect::<Vec<_>>()
            .join(" / ")
    }

    /// Whether the parameters differ from the chosen preset's.
    pub fn preset_edited(&self) -> bool {
        self.presets
            .get(self.preset)
            .is_some_and(|(_, p)| !same_params(&self.spec, p))
    }

    /// Points the preset at the first one the parameters match (a run loaded
    /// for editing), else at "none".
    pub fn match_preset(&mut self) {
        self.preset = self
            .presets
            .iter()
            .position(|(_, p)| same_params(&self.spec, p))
            .unwrap_or(0);
    }

    /// Whether enqueueing makes one blended run.
    pub fn blends(&self) -> bool {
        self.can_blend() && self.blend && self.styles.len() > 1
    }

    pub fn value(&self, f: Field) -> String {
        match f {
            Field::Kind => self.kind.name().into(),
            Field::Preset => {
                let name = self
                    .presets
                    .get(self.preset)
                    .map_or("none", |p| p.0.as_str());
                if self.preset_edited() {
                    format!("{name} (edited)")
                } else {
                    name.to_string()
                }
            }
            Field::Styles => {
                if self.blend {
                    // An adain/wct model mixes paintings; Gatys blends them.
                    let verb = if self.applies_arbitrary() {
                        "mix"
                    } else {
                        "blend"
                    };
                    format!("{verb} (1 run: {})", self.shares_label())
                } else {
                    format!("each ({} runs)", self.styles.len())
                }
            }
            Field::Weight(i) => {
                let share = self.shares().get(i).copied().unwrap_or(0.0);
                self.styles
                    .get(i)
                    .map(|m| format!("{} ({share:.2})", m.weight))
                    .unwrap_or_default()
            }
            Field::Param(i) => self
                .params()
                .get(i)
                .map(|p| (p.show)(self))
                .unwrap_or_default(),
        }
    }

    /// What Enter puts in the input line to edit a field.
    pub fn edit_text(&self, f: Field) -> String {
        match f {
            Field::Kind => self.kind.name().into(),
            Field::Preset => self
                .presets
                .get(self.preset)
                .map(|p| p.0.clone())
                .unwrap_or_default(),
            Field::Styles => if self.blend { "blend" } else { "each" }.into(),
            Field::Weight(i) => self
                .styles
                .get(i)
                .map(|m| m.weight.to_string())
                .unwrap_or_default(),
            Field::Param(i) => {
                let v = self.value(f);
                // A path not given yet (a mask's `none`, the clip's `none:
                // Enter, then its path`) is typed from empty, not after it.
                let path_row = self
                    .params()
                    .get(i)
                    .is_some_and(|p| p.name.contains("mask") || p.name == "clip");
                if path_row && (v == "none" || v.starts_with("none:")) {
                    String::new()
                } else {
                    v.trim_end_matches(" px").to_string()
                }
            }
        }
    }

    /// Marks a style, or unmarks it if marked; returns whether it is marked now.
    pub fn toggle_style(&mut self, item: LibItem) -> bool {
        if let Some(i) = self.styles.iter().position(|s| s.item.path == item.path) {
            self.styles.remove(i);
            false
        } else {
            self.styles.push(MarkedStyle { item, weight: 1.0 });
            true
        }
    }

    /// Fills the parameters from preset `i`.
    fn use_preset(&mut self, i: usize) {
        if let Some((_, p)) = self.presets.get(i) {
            self.spec = p.clone();
            self.preset = i;
        }
    }

    /// Steps the selected field up (`dir` = 1) or down (-1).
    pub fn nudge(&mut self, dir: i32) {
        self.error = None;
        let up = dir > 0;
        match self.selected() {
            Field::Kind => self.kind = self.kind.step(up),
            Field::Preset => {
                let n = self.presets.len();
                self.use_preset(if up {
                    (self.preset + 1) % n
                } else {
                    (self.preset + n - 1) % n
                });
            }
            Field::Styles => self.blend = !self.blend,
            Field::Weight(i) => {
                if let Some(m) = self.styles.get_mut(i) {
                    let w = m.weight + if up { 0.1 } else { -0.1 };
                    // Rounded so repeated steps do not show 0.30000000000000004.
                    m.weight = ((w * 100.0).round() / 100.0).max(MIN_WEIGHT);
                }
            }
            Field::Param(i) => {
                if let Some(p) = self.params().get(i) {
                    (p.nudge)(self, up);
                }
            }
        }
    }

    /// Sets a field from typed text; an error says why it was refused.
    pub fn set(&mut self, f: Field, text: &str) -> Result<(), String> {
        let t = text.trim();
        match f {
            Field::Kind => self.kind = Kind::from_name(t)?,
            Field::Preset => {
                let i = self
                    .presets
                    .iter()
                    .position(|p| p.0.eq_ignore_ascii_case(t))
                    .ok_or_else(|| {
                        let names: Vec<&str> = self.presets.iter().map(|p| p.0.as_str()).collect();
                        format!("no preset '{t}' (known: {})", names.join(", "))
                    })?;
                self.use_preset(i);
            }
            Field::Styles => {
                self.blend = match t {
                    "each" => false,
                    "blend" | "mix" => true,
                    _ => return Err(format!("'{t}' (use each or blend)")),
                }
            }
            Field::Weight(i) => {
                let w: f64 = t.parse().map_err(|_| format!("'{t}' is not a number"))?;
                if !w.is_finite() || w <= 0.0 {
                    return Err(format!("{t} (a blend weight must be above 0)"));
                }
                if let Some(m) = self.styles.get_mut(i) {
                    m.weight = w;
                }
            }
            Field::Param(i) => {
                let Some(p) = self.params().get(i).map(|p| p.parse) else {
                    return Ok(());
                };
                // Parsed into the form, validated whole, undone if refused.
                let before = self.kind_parts();
                if let Err(e) = p(self, t).and_then(|()| self.kind.check(self)) {
                    self.restore(before);
                    return Err(e);
                }
            }
        }
        self.error = None;
        Ok(())
    }

    /// The runs enqueueing makes, by kind ([`Kind::runs`]).
    pub fn runs(&self) -> Result<Vec<NewRun>, String> {
        self.kind.runs(self)
    }

    /// The parts of the form the kinds' tables write, to undo a refused edit.
    fn kind_parts(&self) -> KindParts {
        KindParts {
            spec: self.spec.clone(),
            square: self.square,
            analogy: self.analogy.clone(),
            train: self.train.clone(),
            apply_size: self.apply_size,
            apply_mix: self.apply_mix.clone(),
            forms: self.forms.clone(),
            masks: self.masks.clone(),
        }
    }

    fn restore(&mut self, p: KindParts) {
        self.spec = p.spec;
        self.square = p.square;
        self.analogy = p.analogy;
        self.train = p.train;
        self.apply_size = p.apply_size;
        self.apply_mix = p.apply_mix;
        self.forms = p.forms;
        self.masks = p.masks;
    }

    /// The apply runs, one per styling of [`Self::apply_stylings`], each
    /// built by the apply kind's one builder.
    pub(super) fn apply_runs(&self) -> Result<Vec<NewRun>, String> {
        let Some(content) = &self.content else {
            return Err("pick a photo first (Library: Enter on a photo)".into());
        };
        self.apply_runs_of(content)
    }

    /// The apply runs of `content` (a photo, or a clip a video makes of them).
    pub(super) fn apply_runs_of(&self, content: &LibItem) -> Result<Vec<NewRun>, String> {
        let Some(model) = &self.model else {
            return Err("pick a model first (Library: → to Models, Enter on one)".into());
        };
        if let Some(e) = &model.error {
            return Err(format!("model {}: {e}", model.name));
        }
        let mut stylings = self.apply_stylings()?;
        if stylings.is_empty() {
            // Nothing marked for a model that needs paintings: the builder says so.
            let none = apply::StyleChoice::default();
            stylings.push((self.apply_styling(model, &none)?, Vec::new()));
        }
        stylings
            .into_iter()
            .map(|(styling, style_names)| {
                let req = apply::Request {
                    model_name: model.name.clone(),
                    model: model.path.clone(),
                    contents: vec![content.path.clone()],
                    size: self.apply_size,
                    styling,
                };
                let mut spec = req.spec(&self.limits).map_err(|e| e.to_string())?;
                let paintings: Vec<&std::path::Path> = spec
                    .arbitrary
                    .iter()
                    .flat_map(|a| a.styles.iter().map(|s| s.path.as_path()))
                    .collect();
                spec.style_masks = self.masks.for_run(&paintings, &style_names)?;
                spec.content_mask = self.masks.content.clone();
                spec.validate().map_err(|e| e.to_string())?;
                Ok(NewRun {
                    job: Job::Apply(spec),
                    content_name: Some(content.name.clone()),
                    style_names,
                })
            })
            .collect()
    }

    /// Whether apply's model is an adain/wct one (it takes marked paintings).
    pub fn applies_arbitrary(&self) -> bool {
        self.kind == Kind::Apply && self.model.as_ref().is_some_and(|m| m.arbitrary.is_some())
    }

    /// What the apply runs are styled with, each with its paintings' names:
    /// an adain/wct model, a run per marked painting (none marked: none);
    /// a multi-style model, each of its styles, or the one choice typed
    /// (`name[:w],…`, where an MSG-Net also takes any painting), or for an
    /// MSG-Net a run per marked painting; a single-style model, one run.
    pub fn apply_stylings(&self) -> Result<Vec<(apply::Styling, Vec<String>)>, String> {
        apply::check_size(self.apply_size, self.limits.apply_max_size)
            .map_err(|e| e.to_string())?;
        let Some(model) = &self.model else {
            return Ok(Vec::new());
        };
        let one = |entries: Vec<String>| apply::StyleChoice {
            entries,
            ..Default::default()
        };
        let marked: Vec<(apply::StyleChoice, Vec<String>)> = self
            .styles
            .iter()
            .map(|m| {
                let path = m.item.path.display().to_string();
                (one(vec![path]), vec![m.item.name.clone()])
            })
            .collect();
        let typed = self.apply_mix.trim();
        let choices = match model_styles(model) {
            apply::ModelStyles::Arbitrary(_) if self.blends() => {
                // One run mixing the paintings with their weights.
                let entries = self
                    .styles
                    .iter()
                    .map(|m| format!("{}:{}", m.item.path.display(), m.weight))
                    .collect();
                let names = self.styles.iter().map(|m| m.item.name.clone()).collect();
                vec![(one(entries), names)]
            }
            apply::ModelStyles::Arbitrary(_) => marked,
            apply::ModelStyles::Msg(_) if typed.is_empty() && !marked.is_empty() => marked,
            apply::ModelStyles::Cin(s) | apply::ModelStyles::Msg(s) if typed.is_empty() => (0..s
                .len())
                .map(|i| (one(vec![i.to_string()]), Vec::new()))
                .collect(),
            apply::ModelStyles::Cin(_) | apply::ModelStyles::Msg(_) => {
                let entries = typed.split(',').map(|e| e.trim().to_string()).collect();
                vec![(one(entries), Vec::new())]
            }
            apply::ModelStyles::Single => vec![(one(Vec::new()), Vec::new())],
        };
        choices
            .into_iter()
            .map(|(c, names)| Ok((self.apply_styling(model, &c)?, names)))
            .collect()
    }

    fn apply_styling(
        &self,
        model: &ModelItem,
        choice: &apply::StyleChoice,
    ) -> Result<apply::Styling, String> {
        apply::styling(
            &model.name,
            &model_styles(model),
            choice,
            self.paintings.as_ref(),
        )
        .map_err(|e| e.to_string())
    }

    /// A training run per marked painting, each model named for its
    /// painting, or one MSG-Net of them all (named for the first and a count
    /// of the others); a name a model has is numbered when it is queued.
    pub(super) fn train_runs(&self) -> Result<Vec<NewRun>, String> {
        if self.styles.is_empty() {
            return Err("mark the painting(s) to train on (Library: Space on a painting)".into());
        }
        let painting = |m: &MarkedStyle| stylize::build::Painting {
            path: m.item.path.clone(),
            weight: 1.0,
            name: m.item.name.clone(),
        };
        let groups: Vec<Vec<stylize::build::Painting>> = match self.forms.train.msg {
            true => vec![self.styles.iter().map(painting).collect()],
            false => self.styles.iter().map(|m| vec![painting(m)]).collect(),
        };
        groups
            .into_iter()
            .map(|paintings| {
                let req = train::build::Request {
                    name: train::build::default_name(&paintings, None),
                    multi: self.forms.train.msg,
                    network: match self.forms.train.msg {
                        true => train::build::Network::Msg,
                        false => train::build::Network::Transformer,
                    },
                    extend: None,
                    options: TrainSpec {
                        dataset: crate::config::resolve(&self.train.dataset),
                        ..self.train.clone()
                    },
                    sample_every: 1,
                    paintings,
                };
                let mut spec = req.spec().map_err(|e| e.to_string())?;
                spec.pixel_limit = self.limits.pixel_limit;
                Ok(NewRun {
                    job: Job::Train(spec),
                    content_name: None,
                    style_names: req.paintings.iter().map(|p| p.name.clone()).collect(),
                })
            })
            .collect()
    }

    /// One analogy: A = the content, B′ = the first marked painting.
    pub(super) fn analogy_runs(&self) -> Result<Vec<NewRun>, String> {
        let Some(content) = &self.content else {
            return Err("pick the photo A first (Library: Enter on a photo)".into());
        };
        let Some(b) = self.styles.first() else {
            return Err("mark the painting B′ (Library: Space on a painting)".into());
        };
        if self.styles.len() > 1 {
            return Err(format!(
                "an analogy takes one painting B′, not {} (unmark the others)",
                self.styles.len()
            ));
        }
        let f = &self.analogy;
        let req = analogy::build::Request {
            a: content.path.clone(),
            b_prime: b.item.path.clone(),
            options: analogy::build::Options {
                size: Some(f.size),
                weight_level: Some(f.weight_level),
                iterations: Some(f.iterations),
                fast: f.fast,
                seed: Some(f.seed),
            },
        };
        let defaults = analogy::build::Defaults::default();
        let spec = req
            .spec(defaults, &self.limits)
            .map_err(|e| e.to_string())?;
        Ok(vec![NewRun {
            job: Job::Analogy(spec),
            content_name: Some(content.name.clone()),
            style_names: vec![b.item.name.clone()],
        }])
    }

    pub(super) fn stylize_runs(&self) -> Result<Vec<NewRun>, String> {
        let Some(content) = &self.content else {
            return Err("pick a content photo first (Library: Enter on a photo)".into());
        };
        self.stylize_runs_of(content)
    }

    /// The stylize runs of `content` (a photo, or a clip a video makes of
    /// them): one per marked style, or one blending them.
    pub(super) fn stylize_runs_of(&self, content: &LibItem) -> Result<Vec<NewRun>, String> {
        if self.styles.is_empty() {
            return Err("mark at least one style (Library: Space on a painting)".into());
        }
        let make = |styles: &[&MarkedStyle]| {
            let paintings: Vec<&std::path::Path> =
                styles.iter().map(|m| m.item.path.as_path()).collect();
            let names: Vec<String> = styles.iter().map(|m| m.item.name.clone()).collect();
            let req = stylize::build::Request {
                content: content.path.clone(),
                content_name: Some(content.name.clone()),
                paintings: styles
                    .iter()
                    .map(|m| stylize::build::Painting {
                        path: m.item.path.clone(),
                        weight: m.weight,
                        name: m.item.name.clone(),
                    })
                    .collect(),
                params: RunSpec {
                    style_masks: self.masks.for_run(&paintings, &names)?,
                    content_mask: self.masks.content.clone(),
                    ..self.spec.clone()
                },
            };
            Ok(NewRun {
                job: Job::Stylize(req.spec(&self.limits).map_err(|e| e.to_string())?),
                content_name: req.content_name.clone(),
                style_names: req.style_names(),
            })
        };
        if self.blends() {
            let all: Vec<&MarkedStyle> = self.styles.iter().collect();
            Ok(vec![make(&all)?])
        } else {
            self.styles.iter().map(|m| make(&[m])).collect()
        }
    }

    pub(super) fn texture_runs(&self) -> Result<Vec<NewRun>, String> {
        if self.styles.is_empty() {
            return Err("mark at least one style (Library: Space on a painting)".into());
        }
        self.styles
            .iter()
            .map(|m| {
                let req = texture::build::Request {
                    painting: stylize::build::Painting {
                        path: m.item.path.clone(),
                        weight: 1.0,
                        name: m.item.name.clone(),
                    },
                    square: self.square,
                    params: self.spec.clone(),
                };
                let spec = req.spec(&self.limits).map_err(|e| e.to_string())?;
                Ok(NewRun {
                    job: Job::Texture(spec),
                    content_name: None,
                    style_names: vec![m.item.name.clone()],
                })
            })
            .collect()
    }

    /// The peak-memory estimate of one run of the form (the engine's formula;
    /// no I/O): `content_size` is the content's (width, height) when known,
    /// else a square of the run's size is assumed (the largest it can be).
    pub fn estimate(
        &self,
        content_size: Option<&(PathBuf, u32, u32)>,
        memory: Option<DeviceMemory>,
    ) -> MemoryView {
        let known =
            content_size.filter(|(p, _, _)| self.content.as_ref().is_some_and(|c| &c.path == p));
        let (w, h) = known.map_or((self.spec.size, self.spec.size), |&(_, w, h)| (w, h));
        let run = run_bytes(&self.spec, w, h);
        let base = memory.map_or(0, |m| m.base);
        let available = memory.and_then(|m| m.available);
        MemoryView {
            run,
            peak: base + run,
            available,
            too_big: available.is_some_and(|a| run > a),
            assumed_square: known.is_none(),
        }
    }
}

/// Whether two specs have the same parameters (inputs aside).
/// The form's parts a kind's table writes (see `ComposeState::kind_parts`).
struct KindParts {
    spec: RunSpec,
    square: bool,
    analogy: AnalogySpec,
    train: TrainSpec,
    apply_size: Option<u32>,
    apply_mix: String,
    forms: super::kind::KindForms,
    masks: super::masks::FormMasks,
}

/// Input `role` of run `r` at `path`, named as when it was queued.
pub fn run_item(r: &Run, role: Role, path: &Path) -> LibItem {
    LibItem {
        name: r.input_name(role),
        ..LibItem::from_path(path)
    }
}

/// A run's paintings as Compose marks them, each named as when it was
/// queued (its style input of the same place), else by its file.
pub fn marked_styles(r: &Run, styles: &[StyleRef]) -> Vec<MarkedStyle> {
    let names: Vec<Option<String>> = r
        .inputs
        .iter()
        .filter(|i| i.role == Role::Style)
        .map(|i| i.name.clone())
        .collect();
    styles
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let lib = LibItem::from_path(&s.path);
            MarkedStyle {
                item: LibItem {
                    name: names.get(i).cloned().flatten().unwrap_or(lib.name.clone()),
                    ..lib
                },
                weight: s.weight,
            }
        })
        .collect()
}

fn same_params(a: &RunSpec, b: &RunSpec) -> bool {
    let a = RunSpec {
        content: b.content.clone(),
        styles: b.styles.clone(),
        ..a.clone()
    };
    a == *b
}

/// The memory estimate as Compose shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryView {
    /// What the run adds.
    pub run: u64,
    /// The process's estimated peak (with what it holds already).
    pub peak: u64,
    /// Free memory on the worker's device, if known.
    pub available: Option<u64>,
    /// The run needs more than is free (the worker would refuse it).
    pub too_big: bool,
    /// The content's dimensions were not known: a square was assumed.
    pub assumed_square: bool,
}

/// What a library model takes as its styles, from what the Library read of it.
fn model_styles(m: &ModelItem) -> apply::ModelStyles {
    match (m.arbitrary, m.msg, m.multi) {
        (Some(method), _, _) => apply::ModelStyles::Arbitrary(method),
        (None, true, _) => apply::ModelStyles::Msg(m.style_sources.clone()),
        (None, false, true) => apply::ModelStyles::Cin(m.style_sources.clone()),
        (None, false, false) => apply::ModelStyles::Single,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::gatys::pyramid::Scales;
    use crate::engine::gatys::spec::OptimizerKind;
    use crate::engine::nets::vgg::Padding;
    use std::path::Path;

    fn form(styles: &[&str]) -> ComposeState {
        let mut c = ComposeState::new(RunSpec {
            size: 256,
            steps: 200,
            ..RunSpec::default()
        });
        c.content = Some(LibItem::from_path(Path::new("/l/chelsea.png")));
        let folder = |label: &str, images| DatasetChoice {
            path: format!("/d/{label}").into(),
            label: label.into(),
            images,
        };
        c.set_datasets(vec![folder("photos", 0), folder("contents", 5)]);
        for s in styles {
            c.toggle_style(LibItem::from_path(Path::new(&format!("/l/{s}.png"))));
        }
        c
    }

    fn select(c: &mut ComposeState, f: Field) {
        c.field = c.fields().iter().position(|x| *x == f).unwrap();
    }

    #[test]
    fn style_rows_appear_with_a_second_style() {
        let c = form(&["irises"]);
        assert!(!c.fields().contains(&Field::Styles));
        let c = form(&["irises", "harvesters"]);
        assert_eq!(
            &c.fields()[..5],
            [
                Field::Kind,
                Field::Preset,
                Field::Styles,
                Field::Weight(0),
                Field::Weight(1)
            ]
        );
    }

    /// For every kind the build knows: each row of its table shows a value
    /// its own parser takes back unchanged, and stepping it changes the form
    /// (or it is a two-way toggle that steps back): the descriptors agree
    /// with themselves.
    #[test]
    fn every_parameter_row_of_every_kind_round_trips_and_steps() {
        let mut c = form(&["irises"]);
        assert_eq!(c.fields()[0], Field::Kind);
        // A multi-style model, so that apply's style row has choices to step.
        c.model = Some(ModelItem {
            name: "masters".into(),
            path: "/m.safetensors".into(),
            origin: "yours",
            styles: Vec::new(),
            style_sources: ["a", "b"]
                .iter()
                .map(|n| crate::engine::fast::model_file::StyleSource {
                    name: n.to_string(),
                    path: format!("/{n}.png").into(),
                    sha256: String::new(),
                })
                .collect(),
            multi: true,
            msg: false,
            arbitrary: None,
            about: Vec::new(),
            error: None,
            pace: None,
        });
        // A mask on file, so that the mask rows have one to step to.
        let dir = tempfile::tempdir().unwrap();
        let sky = dir.path().join("sky.png");
        image::GrayImage::from_pixel(16, 16, image::Luma([255]))
            .save(&sky)
            .unwrap();
        c.masks.content = Some(sky);
        let state = |c: &ComposeState| {
            (
                c.spec.clone(),
                c.square,
                c.analogy.clone(),
                c.train.clone(),
                c.apply_size,
                c.apply_mix.clone(),
                c.masks.clone(),
                c.forms.clone(),
            )
        };
        for kind in Kind::known() {
            c.kind = kind;
            let params = c.params();
            let names: std::collections::HashSet<&str> = params.iter().map(|p| p.name).collect();
            assert_eq!(names.len(), params.len(), "{kind:?}: row names are unique");
            for i in 0..params.len() {
                let row = Field::Param(i);
                let before = state(&c);
                let text = c.edit_text(row);
                assert_eq!(c.set(row, &text), Ok(()), "{}: '{text}'", c.label(row));
                assert_eq!(state(&c), before, "{} round-trips", c.label(row));
                select(&mut c, row);
                c.nudge(1);
                // A path is typed, not stepped.
                if c.label(row) != "clip" {
                    assert_ne!(state(&c), before, "{} steps", c.label(row));
                }
                (
                    c.spec,
                    c.square,
                    c.analogy,
                    c.train,
                    c.apply_size,
                    c.apply_mix,
                    c.masks,
                    c.forms,
                ) = before;
            }
        }
    }

    #[test]
    fn a_path_row_not_given_is_typed_from_empty() {
        let mut c = form(&["irises"]);
        for kind in [Kind::Video, Kind::Stylize] {
            c.kind = kind;
            let params = c.params();
            for (i, p) in params.iter().enumerate() {
                if p.name == "clip" || p.name.contains("mask") {
                    assert_eq!(c.edit_text(Field::Param(i)), "", "{kind:?} {}", p.name);
                }
            }
        }
        // A value that is a choice, not a missing path, is offered as it is.
        c.kind = Kind::Stylize;
        let colours = c.params().iter().position(|p| p.name == "colours").unwrap();
        assert_eq!(c.edit_text(Field::Param(colours)), "none");
    }

    #[test]
    fn the_kind_row_cycles_the_known_kinds_and_refuses_others() {
        let mut c = form(&["irises"]);
        select(&mut c, Field::Kind);
        let known = Kind::known();
        for k in known.iter().skip(1).chain(&known[..1]) {
            c.nudge(1);
            assert_eq!(c.kind, *k);
        }
        assert!(c.set(Field::Kind, "texture").is_ok());
        assert_eq!(c.kind, Kind::Texture);
        let e = c.set(Field::Kind, "fresco").unwrap_err();
        assert!(e.contains("stylize"), "{e}");
        assert_eq!(c.kind, Kind::Texture, "a refused kind changes nothing");
    }

    #[test]
    fn analogy_takes_the_content_as_a_and_the_one_painting_as_b_prime() {
        let mut c = form(&["irises", "harvesters"]);
        c.set(Field::Kind, "analogy").unwrap();
        assert!(c.runs().unwrap_err().contains("one painting"));
        c.styles.pop();
        let size = Field::Param(0);
        assert!(
            c.set(size, "8").is_err(),
            "below the analogy's smallest size"
        );
        c.set(size, "64").unwrap();
        let runs = c.runs().unwrap();
        match &runs[..] {
            [NewRun {
                job: Job::Analogy(a),
                ..
            }] => {
                assert_eq!(a.a, Path::new("/l/chelsea.png"));
                assert_eq!(a.b_prime, Path::new("/l/irises.png"));
                assert_eq!(a.size, 64);
            }
            other => panic!("expected one analogy, got {other:?}"),
        }
        assert_eq!(runs[0].style_names, ["irises"]);
        c.content = None;
        assert!(c.runs().unwrap_err().contains("photo A"));
    }

    #[test]
    fn texture_queues_one_texture_per_style_without_a_content() {
        let mut c = form(&["irises", "harvesters"]);
        c.content = None;
        c.blend = true;
        c.set(Field::Kind, "texture").unwrap();
        assert!(
            !c.fields()
                .iter()
                .any(|f| matches!(f, Field::Styles | Field::Weight(_))),
            "a texture does not blend"
        );
        let labels: Vec<String> = c.fields().iter().map(|f| c.label(*f)).collect();
        assert!(labels.iter().any(|l| l == "square"));
        assert!(!labels.iter().any(|l| l == "content weight"));
        let square = Field::Param(c.params().iter().position(|p| p.name == "square").unwrap());
        c.set(square, "on").unwrap();
        let runs = c.runs().unwrap();
        assert_eq!(runs.len(), 2);
        match &runs[1].job {
            Job::Texture(t) => {
                assert!(t.square);
                assert_eq!(t.gatys.styles.len(), 1);
                assert_eq!(t.gatys.content_weight, 0.0);
                assert_eq!(t.gatys.size, 256);
            }
            other => panic!("expected a texture, got {other:?}"),
        }
        assert_eq!(runs[1].style_names, ["harvesters"]);
        assert_eq!(runs[1].content_name, None);
        c.styles.clear();
        assert!(c.runs().unwrap_err().contains("style"));
    }

    #[test]
    fn padding_row_toggles_and_takes_typed_values() {
        let mut c = form(&["irises"]);
        let row = Field::Param(c.params().iter().position(|p| p.name == "padding").unwrap());
        assert_eq!(c.value(row), "zero");
        select(&mut c, row);
        c.nudge(1);
        assert_eq!(c.spec.padding, Padding::Replicate);
        c.set(row, "zero").unwrap();
        assert_eq!(c.spec.padding, Padding::Zero);
        let err = c.set(row, "mirror").unwrap_err();
        assert!(err.contains("zero or replicate"), "{err}");
        assert_eq!(c.spec.padding, Padding::Zero);
    }

    #[test]
    fn weights_edit_show_normalised_and_refuse_non_positive() {
        let mut c = form(&["irises", "harvesters"]);
        select(&mut c, Field::Weight(0));
        assert_eq!(c.set(Field::Weight(0), "0.7"), Ok(()));
        assert_eq!(c.set(Field::Weight(1), "0.3"), Ok(()));
        assert_eq!(c.shares_label(), "0.70 / 0.30");
        assert_eq!(c.value(Field::Weight(0)), "0.7 (0.70)");
        for bad in ["0", "-1", "nan", "inf", "x"] {
            assert!(c.set(Field::Weight(1), bad).is_err(), "{bad}");
        }
        assert_eq!(c.styles[1].weight, 0.3, "a refused value changes nothing");
        for _ in 0..10 {
            c.nudge(-1);
        }
        assert_eq!(c.styles[0].weight, MIN_WEIGHT, "- stops above 0");
        c.nudge(1);
        assert_eq!(c.styles[0].weight, 0.2);
    }

    #[test]
    fn each_makes_a_run_per_style_and_blend_one_run_with_the_weights() {
        let mut c = form(&["irises", "harvesters"]);
        c.set(Field::Weight(0), "3").unwrap();
        let each = c.runs().unwrap();
        assert_eq!(each.len(), 2);
        assert!(each
            .iter()
            .all(|r| r.job.gatys().unwrap().styles.len() == 1));
        assert_eq!(each[1].style_names, ["harvesters"]);
        select(&mut c, Field::Styles);
        c.nudge(1);
        assert!(c.blend);
        let blend = c.runs().unwrap();
        assert_eq!(blend.len(), 1);
        let weights: Vec<f64> = blend[0]
            .job
            .gatys()
            .unwrap()
            .styles
            .iter()
            .map(|s| s.weight)
            .collect();
        assert_eq!(weights, [3.0, 1.0]);
        assert_eq!(blend[0].style_names, ["irises", "harvesters"]);
        assert_eq!(c.set(Field::Styles, "each"), Ok(()));
        assert!(c.set(Field::Styles, "both").is_err());
        // An invalid combination is refused with a reason, not queued.
        c.spec.steps = 1;
        c.spec.scales = Scales::Count(3);
        assert!(c.runs().unwrap_err().contains("steps"));
    }

    #[test]
    fn presets_cycle_and_fill_the_form() {
        let mut c = form(&["irises"]);
        let tiny = RunSpec {
            size: 64,
            steps: 5,
            style_weight: 1e3,
            ..c.spec.clone()
        };
        c.presets.push(("tiny".into(), tiny));
        assert_eq!(c.selected(), Field::Kind, "the kind is the first row");
        select(&mut c, Field::Preset);
        c.nudge(1);
        assert_eq!(
            (c.spec.size, c.spec.steps, c.spec.style_weight),
            (64, 5, 1e3)
        );
        assert_eq!(c.value(Field::Preset), "tiny");
        c.spec.steps = 7;
        assert_eq!(c.value(Field::Preset), "tiny (edited)");
        c.nudge(1);
        assert_eq!(
            (c.spec.size, c.value(Field::Preset).as_str()),
            (256, "none")
        );
        c.nudge(-1);
        assert_eq!(c.spec.steps, 5, "left goes back round to tiny");
        assert!(c.set(Field::Preset, "huge").unwrap_err().contains("tiny"));
        assert_eq!(c.set(Field::Preset, "NONE"), Ok(()));
        assert_eq!(c.spec.size, 256);
    }

    #[test]
    fn the_estimate_follows_the_form_and_flags_too_little_memory() {
        let mut c = form(&["irises"]);
        let free = DeviceMemory {
            base: 100 << 20,
            available: Some(8 << 30),
        };
        let small = c.estimate(None, Some(free));
        assert!(small.assumed_square && !small.too_big);
        assert_eq!(small.peak, small.run + (100 << 20));
        // The content's real (wider than tall) shape needs less than a square.
        let dims = (PathBuf::from("/l/chelsea.png"), 451, 300);
        let real = c.estimate(Some(&dims), Some(free));
        assert!(!real.assumed_square && real.run < small.run);
        c.spec.size = 2048;
        let big = c.estimate(Some(&dims), Some(free));
        assert!(big.run > 3 * real.run, "{} vs {}", big.run, real.run);
        let tight = DeviceMemory {
            base: 0,
            available: Some(real.run),
        };
        assert!(c.estimate(Some(&dims), Some(tight)).too_big);
        assert!(
            !c.estimate(Some(&dims), None).too_big,
            "unknown free memory"
        );
        c.spec.optimizer = OptimizerKind::Adam;
        assert!(
            c.estimate(Some(&dims), None).run < big.run,
            "Adam keeps less"
        );
    }
}
