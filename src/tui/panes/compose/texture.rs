//! The parameter table of a texture run: the optimisation rows a texture
//! uses (no content weight, init or colours: it has no content and starts
//! from noise) and whether the canvas is square.

use super::form::ComposeState;
use super::params::Param;

/// The stylize rows that mean something for a texture.
const GATYS_ROWS: [&str; 11] = [
    "size",
    "steps",
    "style weight",
    "tv weight",
    "optimizer",
    "pooling",
    "seed",
    "line search",
    "scales",
    "style scale",
    "padding",
];

/// The rows of the form, in order.
pub fn params() -> Vec<Param<ComposeState>> {
    let mut v: Vec<Param<ComposeState>> = super::stylize::params()
        .into_iter()
        .filter(|p| GATYS_ROWS.contains(&p.name))
        .collect();
    v.push(Param {
        name: "square",
        show: |s| {
            if s.square {
                "on"
            } else {
                "off (style's aspect)"
            }
            .into()
        },
        nudge: |s, _| s.square = !s.square,
        parse: |s, t| {
            s.square = match t.trim_end_matches(" (style's aspect)") {
                "on" | "yes" | "true" | "1" => true,
                "off" | "no" | "false" | "0" => false,
                _ => return Err(format!("'{t}' (use on or off)")),
            };
            Ok(())
        },
    });
    v
}
