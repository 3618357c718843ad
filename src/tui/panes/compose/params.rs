//! A job kind's parameter table: one descriptor per row, so the form needs no
//! parallel index matches and a second kind's table is a second list.

/// One parameter of a spec `S`: its name, how it shows, how +/- step it, and
/// how typed text sets it (the spec is validated as a whole afterwards).
pub struct Param<S> {
    pub name: &'static str,
    pub show: fn(&S) -> String,
    /// `up` is true for + / →.
    pub nudge: fn(&mut S, bool),
    pub parse: fn(&mut S, &str) -> Result<(), String>,
}

/// `t` as a number, or why not.
pub fn number(t: &str) -> Result<f64, String> {
    t.parse::<f64>()
        .map_err(|_| format!("'{t}' is not a number"))
}

/// Doubles or halves `v`: the weights span decades.
pub fn scale(v: f64, up: bool) -> f64 {
    if up {
        v * 2.0
    } else {
        v / 2.0
    }
}
