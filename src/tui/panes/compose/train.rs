//! The parameter table of training a fast-style model: one training run per
//! marked painting, on the default training set; the rows are the settings a
//! user tunes (the rest are `atelier train`'s defaults).

use super::form::ComposeState;
use super::params::{number, scale, Param};

/// The rows of the form, in order.
pub fn params() -> Vec<Param<ComposeState>> {
    vec![
        Param {
            name: "iterations",
            show: |s| s.train.iterations.to_string(),
            nudge: |s, up| {
                s.train.iterations = if up {
                    s.train.iterations.saturating_mul(2)
                } else {
                    (s.train.iterations / 2).max(1)
                }
            },
            parse: |s, t| {
                s.train.iterations = t.parse().map_err(|_| format!("'{t}' is not a count"))?;
                Ok(())
            },
        },
        Param {
            name: "crop size",
            show: |s| format!("{} px", s.train.size),
            nudge: |s, up| {
                let v = if up {
                    s.train.size + 32
                } else {
                    s.train.size.saturating_sub(32).max(32)
                };
                s.train.size = v;
                s.train.style_size = s.train.style_size.max(v);
            },
            parse: |s, t| {
                s.train.size = t
                    .trim_end_matches("px")
                    .trim()
                    .parse()
                    .map_err(|_| format!("'{t}' is not a size"))?;
                s.train.style_size = s.train.style_size.max(s.train.size);
                Ok(())
            },
        },
        Param {
            name: "batch",
            show: |s| s.train.batch.to_string(),
            nudge: |s, up| {
                s.train.batch = if up {
                    s.train.batch + 1
                } else {
                    s.train.batch.saturating_sub(1).max(1)
                }
            },
            parse: |s, t| {
                s.train.batch = t.parse().map_err(|_| format!("'{t}' is not a count"))?;
                Ok(())
            },
        },
        Param {
            name: "width",
            show: |s| format!("{}", s.train.arch.width),
            nudge: |s, up| s.train.arch.width = scale(s.train.arch.width, up),
            parse: |s, t| {
                s.train.arch.width = number(t)?;
                Ok(())
            },
        },
        Param {
            name: "style weight",
            show: |s| format!("{}", s.train.style_weight),
            nudge: |s, up| s.train.style_weight = scale(s.train.style_weight, up),
            parse: |s, t| {
                s.train.style_weight = number(t)?;
                Ok(())
            },
        },
        Param {
            name: "learning rate",
            show: |s| format!("{}", s.train.lr),
            nudge: |s, up| s.train.lr = scale(s.train.lr, up),
            parse: |s, t| {
                s.train.lr = number(t)?;
                Ok(())
            },
        },
    ]
}
