//! The parameter table of applying a trained model: the model comes from the
//! Library (Enter on a model), the photo is the content; the one row is the
//! output size.

use super::form::ComposeState;
use super::params::Param;

/// Step of the +/- keys on the size row.
const STEP: u32 = 128;

/// The rows of the form, in order.
pub fn params() -> Vec<Param<ComposeState>> {
    vec![Param {
        name: "size",
        show: |s| match s.apply_size {
            Some(n) => format!("{n} px"),
            None => "the photo's own".into(),
        },
        nudge: |s, up| {
            s.apply_size = match (s.apply_size, up) {
                (None, true) => Some(STEP * 2),
                (None, false) => None,
                (Some(n), true) => Some((n + STEP).min(8192)),
                (Some(n), false) if n <= STEP => None,
                (Some(n), false) => Some(n - STEP),
            }
        },
        parse: |s, t| {
            let t = t.trim().trim_end_matches("px").trim();
            s.apply_size = match t {
                "" | "own" | "none" | "0" => None,
                _ => Some(
                    t.parse()
                        .map_err(|_| format!("'{t}' is not a size (or 'own')"))?,
                ),
            };
            Ok(())
        },
    }]
}
