//! A job's own parameters, for every screen that lists or shows runs
//! (Queue, History, Compare, `runs ls/show`): each kind says what its size
//! and length are and which settings matter, so no list shows one kind's
//! parameters for another.

/// What a run of one kind is, for display.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// The list's size column, in the kind's own unit (output px, crop px).
    pub size: String,
    /// The list's length column: steps, iterations, photos.
    pub length: String,
    /// The settings a detail view prints, in order.
    pub pairs: Vec<(&'static str, String)>,
}

impl Params {
    /// The pairs as one line: `crop 128 px · iterations 2000 · …`.
    pub fn line(&self) -> String {
        self.pairs
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(" · ")
    }
}

/// A number as the command line would take it (`0.001`, `100`, `5e-6`).
pub fn num(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e6) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}
