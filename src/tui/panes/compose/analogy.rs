//! The parameter table of a Deep Image Analogy: A is the content photo, B′
//! the marked painting; the rows are the analogy's size, weight level and
//! whether to take the fast (fewer iterations) settings.

use super::form::ComposeState;
use super::params::Param;
use crate::engine::analogy::{MAX_SIZE, MIN_SIZE};

/// The rows of the form, in order.
pub fn params() -> Vec<Param<ComposeState>> {
    vec![
        Param {
            name: "size",
            show: |s| format!("{} px", s.analogy.size),
            nudge: |s, up| {
                let v = if up {
                    s.analogy.size + 32
                } else {
                    s.analogy.size.saturating_sub(32)
                };
                s.analogy.size = v.clamp(MIN_SIZE, MAX_SIZE);
            },
            parse: |s, t| {
                s.analogy.size = t
                    .trim_end_matches("px")
                    .trim()
                    .parse()
                    .map_err(|_| format!("'{t}' is not a size"))?;
                Ok(())
            },
        },
        Param {
            name: "weight level",
            show: |s| s.analogy.weight_level.to_string(),
            nudge: |s, up| {
                s.analogy.weight_level = match (s.analogy.weight_level, up) {
                    (3, true) => 1,
                    (1, false) => 3,
                    (l, true) => l + 1,
                    (l, false) => l - 1,
                }
            },
            parse: |s, t| {
                s.analogy.weight_level = t.parse().map_err(|_| format!("'{t}' (use 1, 2 or 3)"))?;
                Ok(())
            },
        },
        Param {
            name: "fast",
            show: |s| if s.analogy.fast { "on" } else { "off" }.into(),
            nudge: |s, _| s.analogy.fast = !s.analogy.fast,
            parse: |s, t| {
                s.analogy.fast = match t {
                    "on" | "yes" | "true" | "1" => true,
                    "off" | "no" | "false" | "0" => false,
                    _ => return Err(format!("'{t}' (use on or off)")),
                };
                Ok(())
            },
        },
    ]
}

/// An analogy run into the form: B′ marked, its parameters; A given back
/// to be chosen as the content.
pub fn load(
    c: &mut ComposeState,
    r: &crate::queue::Run,
    a: &crate::jobs::analogy::Spec,
) -> crate::tui::lib_item::LibItem {
    use super::form::run_item;
    use crate::jobs::Role;
    c.styles = vec![super::form::MarkedStyle {
        item: run_item(r, Role::BPrime, &a.b_prime),
        weight: 1.0,
    }];
    c.analogy = a.clone();
    run_item(r, Role::A, &a.a)
}
