//! The parameter table of a stylize run (Gatys: the form's `spec`, a `RunSpec`).

use super::form::ComposeState;
use super::params::{number, scale, Param};
use crate::engine::gatys::pyramid::Scales;
use crate::engine::gatys::spec::{Init, OptimizerKind};
use crate::engine::nets::color::ColorMode;
use crate::engine::nets::vgg::{Padding, Pooling};

fn engine(e: crate::engine::Error) -> String {
    e.to_string()
}

fn lower(v: impl std::fmt::Debug) -> String {
    format!("{v:?}").to_lowercase()
}

/// The rows of the form, in order (the mask rows last).
pub fn params() -> Vec<Param<ComposeState>> {
    let mut rows: Vec<Param<ComposeState>> = vec![
        Param {
            name: "size",
            show: |s| format!("{} px", s.spec.size),
            nudge: |s, up| {
                s.spec.size = if up {
                    (s.spec.size + 64).min(4096)
                } else {
                    s.spec.size.saturating_sub(64).max(64)
                }
            },
            parse: |s, t| {
                s.spec.size = t
                    .trim_end_matches("px")
                    .trim()
                    .parse()
                    .map_err(|_| format!("'{t}' is not a size"))?;
                Ok(())
            },
        },
        Param {
            name: "steps",
            show: |s| s.spec.steps.to_string(),
            nudge: |s, up| {
                s.spec.steps = if up {
                    s.spec.steps + 50
                } else {
                    s.spec.steps.saturating_sub(50).max(1)
                }
            },
            parse: |s, t| {
                s.spec.steps = t
                    .parse()
                    .map_err(|_| format!("'{t}' is not a step count"))?;
                Ok(())
            },
        },
        Param {
            name: "style weight",
            show: |s| format!("{}", s.spec.style_weight),
            nudge: |s, up| s.spec.style_weight = scale(s.spec.style_weight, up),
            parse: |s, t| {
                s.spec.style_weight = number(t)?;
                Ok(())
            },
        },
        Param {
            name: "content weight",
            show: |s| format!("{}", s.spec.content_weight),
            nudge: |s, up| s.spec.content_weight = scale(s.spec.content_weight, up),
            parse: |s, t| {
                s.spec.content_weight = number(t)?;
                Ok(())
            },
        },
        Param {
            name: "tv weight",
            show: |s| format!("{}", s.spec.tv_weight),
            nudge: |s, up| s.spec.tv_weight = scale(s.spec.tv_weight, up),
            parse: |s, t| {
                s.spec.tv_weight = number(t)?;
                Ok(())
            },
        },
        Param {
            name: "optimizer",
            show: |s| lower(s.spec.optimizer),
            nudge: |s, _| {
                s.spec.optimizer = match s.spec.optimizer {
                    OptimizerKind::Lbfgs => OptimizerKind::Adam,
                    OptimizerKind::Adam => OptimizerKind::Lbfgs,
                }
            },
            parse: |s, t| {
                s.spec.optimizer = t.parse().map_err(engine)?;
                Ok(())
            },
        },
        Param {
            name: "init",
            show: |s| lower(s.spec.init),
            nudge: |s, up| {
                s.spec.init = match (s.spec.init, up) {
                    (Init::Content, true) | (Init::Style, false) => Init::Noise,
                    (Init::Noise, true) | (Init::Content, false) => Init::Style,
                    (Init::Style, true) | (Init::Noise, false) => Init::Content,
                }
            },
            parse: |s, t| {
                s.spec.init = t.parse().map_err(engine)?;
                Ok(())
            },
        },
        Param {
            name: "pooling",
            show: |s| lower(s.spec.pooling),
            nudge: |s, _| {
                s.spec.pooling = match s.spec.pooling {
                    Pooling::Max => Pooling::Avg,
                    Pooling::Avg => Pooling::Max,
                }
            },
            parse: |s, t| {
                s.spec.pooling = t.parse().map_err(engine)?;
                Ok(())
            },
        },
        Param {
            name: "seed",
            show: |s| s.spec.seed.to_string(),
            nudge: |s, up| {
                s.spec.seed = if up {
                    s.spec.seed + 1
                } else {
                    s.spec.seed.saturating_sub(1)
                }
            },
            parse: |s, t| {
                s.spec.seed = t.parse().map_err(|_| format!("'{t}' is not a seed"))?;
                Ok(())
            },
        },
        Param {
            name: "line search",
            show: |s| if s.spec.line_search { "on" } else { "off" }.into(),
            nudge: |s, _| s.spec.line_search = !s.spec.line_search,
            parse: |s, t| {
                s.spec.line_search = matches!(t, "on" | "yes" | "true" | "1");
                Ok(())
            },
        },
        Param {
            name: "colours",
            show: |s| lower(s.spec.preserve_colors),
            nudge: |s, up| {
                s.spec.preserve_colors = match (s.spec.preserve_colors, up) {
                    (ColorMode::None, true) | (ColorMode::Histogram, false) => ColorMode::Luminance,
                    (ColorMode::Luminance, true) | (ColorMode::None, false) => ColorMode::Histogram,
                    (ColorMode::Histogram, true) | (ColorMode::Luminance, false) => ColorMode::None,
                }
            },
            parse: |s, t| {
                s.spec.preserve_colors = t.parse().map_err(engine)?;
                Ok(())
            },
        },
        Param {
            name: "scales",
            show: |s| match s.spec.scales {
                Scales::Auto => "auto".into(),
                Scales::Count(n) => n.to_string(),
            },
            nudge: |s, up| {
                s.spec.scales = match (s.spec.scales, up) {
                    (Scales::Count(n), true) if n < 6 => Scales::Count(n + 1),
                    (Scales::Count(n), false) if n > 1 => Scales::Count(n - 1),
                    (Scales::Count(_), _) => Scales::Auto,
                    (Scales::Auto, true) => Scales::Count(1),
                    (Scales::Auto, false) => Scales::Count(6),
                }
            },
            parse: |s, t| {
                s.spec.scales = t.parse().map_err(engine)?;
                Ok(())
            },
        },
        Param {
            name: "style scale",
            show: |s| format!("{}", s.spec.style_scale),
            nudge: |s, up| {
                let v = s.spec.style_scale + if up { 0.25 } else { -0.25 };
                s.spec.style_scale = v.clamp(0.5, 2.0);
            },
            parse: |s, t| {
                s.spec.style_scale = number(t)?;
                Ok(())
            },
        },
        Param {
            name: "padding",
            show: |s| lower(s.spec.padding),
            nudge: |s, _| {
                s.spec.padding = match s.spec.padding {
                    Padding::Zero => Padding::Replicate,
                    Padding::Replicate => Padding::Zero,
                }
            },
            parse: |s, t| {
                s.spec.padding = t.parse().map_err(engine)?;
                Ok(())
            },
        },
    ];
    rows.extend(super::masks::rows());
    rows
}

/// A Gatys run into the form: its paintings and parameters, and for a
/// stylize run (`square` `None`) its content, given back to be chosen; a
/// texture (`Some(square)`) has none, so the form's content stays.
pub fn load(
    c: &mut ComposeState,
    r: &crate::queue::Run,
    square: Option<bool>,
) -> Option<crate::tui::lib_item::LibItem> {
    let spec = r.params();
    c.styles = super::form::marked_styles(r, &spec.styles);
    c.blend = c.styles.len() > 1;
    c.spec = spec.clone();
    // The masks are rows of their own, not parameters of a preset.
    let style_masks = std::mem::take(&mut c.spec.style_masks);
    c.masks = super::masks::FormMasks::of_run(&c.styles, &style_masks, c.spec.content_mask.take());
    c.square = square.unwrap_or(false);
    c.match_preset();
    square
        .is_none()
        .then(|| super::form::run_item(r, crate::jobs::Role::Content, &spec.content))
}
