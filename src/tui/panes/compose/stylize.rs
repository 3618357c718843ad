//! The parameter table of a stylize run (Gatys: `RunSpec`).

use super::params::{number, scale, Param};
use crate::engine::color::ColorMode;
use crate::engine::pyramid::Scales;
use crate::engine::spec::{Init, OptimizerKind, RunSpec};
use crate::engine::vgg::{Padding, Pooling};

fn engine(e: crate::engine::Error) -> String {
    e.to_string()
}

fn lower(v: impl std::fmt::Debug) -> String {
    format!("{v:?}").to_lowercase()
}

/// The rows of the form, in order.
pub fn params() -> Vec<Param<RunSpec>> {
    vec![
        Param {
            name: "size",
            show: |s| format!("{} px", s.size),
            nudge: |s, up| {
                s.size = if up {
                    (s.size + 64).min(4096)
                } else {
                    s.size.saturating_sub(64).max(64)
                }
            },
            parse: |s, t| {
                s.size = t
                    .trim_end_matches("px")
                    .trim()
                    .parse()
                    .map_err(|_| format!("'{t}' is not a size"))?;
                Ok(())
            },
        },
        Param {
            name: "steps",
            show: |s| s.steps.to_string(),
            nudge: |s, up| {
                s.steps = if up {
                    s.steps + 50
                } else {
                    s.steps.saturating_sub(50).max(1)
                }
            },
            parse: |s, t| {
                s.steps = t
                    .parse()
                    .map_err(|_| format!("'{t}' is not a step count"))?;
                Ok(())
            },
        },
        Param {
            name: "style weight",
            show: |s| format!("{}", s.style_weight),
            nudge: |s, up| s.style_weight = scale(s.style_weight, up),
            parse: |s, t| {
                s.style_weight = number(t)?;
                Ok(())
            },
        },
        Param {
            name: "content weight",
            show: |s| format!("{}", s.content_weight),
            nudge: |s, up| s.content_weight = scale(s.content_weight, up),
            parse: |s, t| {
                s.content_weight = number(t)?;
                Ok(())
            },
        },
        Param {
            name: "tv weight",
            show: |s| format!("{}", s.tv_weight),
            nudge: |s, up| s.tv_weight = scale(s.tv_weight, up),
            parse: |s, t| {
                s.tv_weight = number(t)?;
                Ok(())
            },
        },
        Param {
            name: "optimizer",
            show: |s| lower(s.optimizer),
            nudge: |s, _| {
                s.optimizer = match s.optimizer {
                    OptimizerKind::Lbfgs => OptimizerKind::Adam,
                    OptimizerKind::Adam => OptimizerKind::Lbfgs,
                }
            },
            parse: |s, t| {
                s.optimizer = t.parse().map_err(engine)?;
                Ok(())
            },
        },
        Param {
            name: "init",
            show: |s| lower(s.init),
            nudge: |s, up| {
                s.init = match (s.init, up) {
                    (Init::Content, true) | (Init::Style, false) => Init::Noise,
                    (Init::Noise, true) | (Init::Content, false) => Init::Style,
                    (Init::Style, true) | (Init::Noise, false) => Init::Content,
                }
            },
            parse: |s, t| {
                s.init = t.parse().map_err(engine)?;
                Ok(())
            },
        },
        Param {
            name: "pooling",
            show: |s| lower(s.pooling),
            nudge: |s, _| {
                s.pooling = match s.pooling {
                    Pooling::Max => Pooling::Avg,
                    Pooling::Avg => Pooling::Max,
                }
            },
            parse: |s, t| {
                s.pooling = t.parse().map_err(engine)?;
                Ok(())
            },
        },
        Param {
            name: "seed",
            show: |s| s.seed.to_string(),
            nudge: |s, up| {
                s.seed = if up {
                    s.seed + 1
                } else {
                    s.seed.saturating_sub(1)
                }
            },
            parse: |s, t| {
                s.seed = t.parse().map_err(|_| format!("'{t}' is not a seed"))?;
                Ok(())
            },
        },
        Param {
            name: "line search",
            show: |s| if s.line_search { "on" } else { "off" }.into(),
            nudge: |s, _| s.line_search = !s.line_search,
            parse: |s, t| {
                s.line_search = matches!(t, "on" | "yes" | "true" | "1");
                Ok(())
            },
        },
        Param {
            name: "colours",
            show: |s| lower(s.preserve_colors),
            nudge: |s, up| {
                s.preserve_colors = match (s.preserve_colors, up) {
                    (ColorMode::None, true) | (ColorMode::Histogram, false) => ColorMode::Luminance,
                    (ColorMode::Luminance, true) | (ColorMode::None, false) => ColorMode::Histogram,
                    (ColorMode::Histogram, true) | (ColorMode::Luminance, false) => ColorMode::None,
                }
            },
            parse: |s, t| {
                s.preserve_colors = t.parse().map_err(engine)?;
                Ok(())
            },
        },
        Param {
            name: "scales",
            show: |s| match s.scales {
                Scales::Auto => "auto".into(),
                Scales::Count(n) => n.to_string(),
            },
            nudge: |s, up| {
                s.scales = match (s.scales, up) {
                    (Scales::Count(n), true) if n < 6 => Scales::Count(n + 1),
                    (Scales::Count(n), false) if n > 1 => Scales::Count(n - 1),
                    (Scales::Count(_), _) => Scales::Auto,
                    (Scales::Auto, true) => Scales::Count(1),
                    (Scales::Auto, false) => Scales::Count(6),
                }
            },
            parse: |s, t| {
                s.scales = t.parse().map_err(engine)?;
                Ok(())
            },
        },
        Param {
            name: "style scale",
            show: |s| format!("{}", s.style_scale),
            nudge: |s, up| {
                let v = s.style_scale + if up { 0.25 } else { -0.25 };
                s.style_scale = v.clamp(0.5, 2.0);
            },
            parse: |s, t| {
                s.style_scale = number(t)?;
                Ok(())
            },
        },
        Param {
            name: "padding",
            show: |s| lower(s.padding),
            nudge: |s, _| {
                s.padding = match s.padding {
                    Padding::Zero => Padding::Replicate,
                    Padding::Replicate => Padding::Zero,
                }
            },
            parse: |s, t| {
                s.padding = t.parse().map_err(engine)?;
                Ok(())
            },
        },
    ]
}
