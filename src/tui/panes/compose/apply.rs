//! The parameter table of applying a trained model: the model comes from the
//! Library (Enter on a model), the photo is the content; the rows are the
//! output size and, for a multi-style model, which of its styles: each (a run
//! per style), one, or a mix typed as `name:w,name:w` (weights normalised).
//! An adain or wct model takes any paintings: the marked ones, a run each or
//! one run mixing them (the form's style rows).

use super::form::ComposeState;
use super::params::Param;

/// Step of the +/- keys on the size row.
const STEP: u32 = 128;

/// The row of a multi-style model's choice (not shown for an adain/wct
/// model, whose paintings are the marked ones).
pub const MODEL_STYLES: &str = "model styles";

/// The rows of the form, in order (the mask rows last: an adain/wct
/// model's paintings each take one, every model the content mask).
pub fn params() -> Vec<Param<ComposeState>> {
    let mut rows = vec![size(), styles()];
    rows.extend(super::masks::rows());
    rows
}

fn styles() -> Param<ComposeState> {
    Param {
        name: MODEL_STYLES,
        show: |s| match &s.model {
            Some(m) if m.multi => match s.apply_mix.as_str() {
                "" => format!("each ({} runs)", m.style_sources.len()),
                t => t.to_string(),
            },
            Some(m) if m.arbitrary.is_some() => "the marked paintings".into(),
            Some(_) => "its one style".into(),
            None => "-".into(),
        },
        // Steps each → the first style → … → the last → each.
        nudge: |s, up| {
            let Some(m) = s.model.as_ref().filter(|m| m.multi) else {
                return;
            };
            let names: Vec<&str> = m.style_sources.iter().map(|x| x.name.as_str()).collect();
            let n = names.len() as i64;
            let at = names
                .iter()
                .position(|x| *x == s.apply_mix)
                .map_or(-1, |i| i as i64);
            let next = if up { at + 1 } else { at - 1 };
            s.apply_mix = match next {
                i if i < 0 && !up => names.last().map_or("", |x| x).to_string(),
                i if i >= n || i < 0 => String::new(),
                i => names[i as usize].to_string(),
            };
        },
        parse: |s, t| {
            s.apply_mix = match t.trim() {
                t if t.starts_with("each") || t == "all" || t == "its one style" || t == "-" => {
                    String::new()
                }
                t => t.to_string(),
            };
            Ok(())
        },
    }
}

fn size() -> Param<ComposeState> {
    Param {
        name: "size",
        show: |s| match s.apply_size {
            Some(n) => format!("{n} px"),
            None => "the photo's own".into(),
        },
        nudge: |s, up| {
            s.apply_size = match (s.apply_size, up) {
                (None, true) => Some(STEP * 2),
                (None, false) => None,
                (Some(n), true) => Some((n + STEP).min(s.limits.apply_max_size)),
                (Some(n), false) if n <= STEP => None,
                (Some(n), false) => Some(n - STEP),
            }
        },
        parse: |s, t| {
            let t = t.trim().trim_end_matches("px").trim();
            s.apply_size = match t {
                "" | "own" | "the photo's own" | "none" | "0" => None,
                _ => Some(
                    t.parse()
                        .map_err(|_| format!("'{t}' is not a size (or 'own')"))?,
                ),
            };
            Ok(())
        },
    }
}

/// An apply run into the form: its model and settings ([`load_model`]),
/// its first photo given back to be chosen.
pub fn load(
    c: &mut ComposeState,
    r: &crate::queue::Run,
    a: &crate::jobs::apply::Spec,
    models: &[crate::tui::lib_item::ModelItem],
) -> Result<Option<crate::tui::lib_item::LibItem>, String> {
    load_model(c, r, a, models)?;
    c.masks = super::masks::FormMasks::of_run(&c.styles, &a.style_masks, a.content_mask.clone());
    Ok(a.contents
        .first()
        .map(|p| super::form::run_item(r, crate::jobs::Role::Content, p)))
}

/// A model's settings into the form: the model (found in the Library by
/// its file: refused when it is gone), size, and paintings or mix.
pub fn load_model(
    c: &mut ComposeState,
    r: &crate::queue::Run,
    a: &crate::jobs::apply::Spec,
    models: &[crate::tui::lib_item::ModelItem],
) -> Result<(), String> {
    let Some(model) = models.iter().find(|m| m.path == a.model).cloned() else {
        return Err(format!(
            "its model {} is not in the Library any more",
            a.model.display()
        ));
    };
    c.styles = a
        .arbitrary
        .as_ref()
        .map_or(Vec::new(), |s| super::form::marked_styles(r, &s.styles));
    c.blend = c.styles.len() > 1;
    // A multi-style model's mix as it is typed: `name:w,…`.
    c.apply_mix = a.mix.as_ref().map_or(String::new(), |m| {
        m.weights
            .iter()
            .zip(&model.style_sources)
            .filter(|(w, _)| **w > 0.0)
            .map(|(w, s)| format!("{}:{w}", s.name))
            .collect::<Vec<_>>()
            .join(",")
    });
    c.apply_size = a.size;
    c.model = Some(model);
    Ok(())
}
