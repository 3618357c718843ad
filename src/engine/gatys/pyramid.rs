//! Coarse-to-fine multi-scale runs: the sizes of the image pyramid and how the
//! steps are shared out over them.
//!
//! Each scale is a full run at its size, started from the previous scale's
//! result upscaled (bilinear), with fresh optimiser history. Coarse scales are
//! cheap and settle the large structures; the finest only refines.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::engine::infra::error::{Error, Result};

/// Size of the first scale of an `auto` pyramid (or the network's minimum, if
/// that is larger).
pub const AUTO_START: u32 = 128;

/// How many scales a run has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ScalesRepr", into = "ScalesRepr")]
pub enum Scales {
    /// From [`AUTO_START`] up to the size in √2 steps.
    Auto,
    /// This many scales, √2 apart, the last at the size (1: single-scale).
    Count(u32),
}

impl Default for Scales {
    fn default() -> Self {
        Scales::Count(1)
    }
}

/// On disk: `scales = 3` or `scales = "auto"`.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum ScalesRepr {
    Count(u32),
    Word(String),
}

impl TryFrom<ScalesRepr> for Scales {
    type Error = Error;
    fn try_from(r: ScalesRepr) -> Result<Self> {
        match r {
            ScalesRepr::Count(n) => Ok(Scales::Count(n)),
            ScalesRepr::Word(w) => w.parse(),
        }
    }
}

impl From<Scales> for ScalesRepr {
    fn from(s: Scales) -> Self {
        match s {
            Scales::Auto => ScalesRepr::Word("auto".into()),
            Scales::Count(n) => ScalesRepr::Count(n),
        }
    }
}

impl std::fmt::Display for ScalesRepr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScalesRepr::Count(n) => write!(f, "{n}"),
            ScalesRepr::Word(w) => f.write_str(w),
        }
    }
}

impl FromStr for Scales {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s == "auto" {
            return Ok(Scales::Auto);
        }
        match s.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(Scales::Count(n)),
            _ => Err(Error::invalid(
                "scales",
                format!("'{s}' (use auto or a number of scales ≥ 1)"),
            )),
        }
    }
}

/// The sizes (longer side, px) of the pyramid ending at `size`, coarsest first.
/// `min` is the smallest size the network takes.
pub fn sizes(size: u32, scales: Scales, min: u32) -> Result<Vec<u32>> {
    let at = |k: u32| (f64::from(size) / 2f64.sqrt().powi(k as i32)).round() as u32;
    match scales {
        Scales::Count(0) => Err(Error::invalid("scales", "0 (use auto or at least 1)")),
        Scales::Count(n) => {
            let first = at(n - 1);
            if first < min {
                return Err(Error::invalid(
                    "scales",
                    format!(
                        "{n} scales up to {size} px start at {first} px, below the first usable scale ({min} px); use fewer scales or a larger --size"
                    ),
                ));
            }
            Ok((0..n).rev().map(at).collect())
        }
        Scales::Auto => {
            let start = AUTO_START.max(min);
            if size < start {
                return Err(Error::invalid(
                    "scales",
                    format!(
                        "auto: size {size} px is smaller than the first pyramid scale ({start} px); use --scales 1 or --size {start} or more"
                    ),
                ));
            }
            let mut v: Vec<u32> = (0..).map(at).take_while(|&s| s >= start).collect();
            v.reverse();
            Ok(v)
        }
    }
}

/// The share of a multi-scale run's time that the coarser scales take
/// together (their evaluations cost less by their pixel count).
///
/// Why this little: the finest scale starts from an upscaled coarse result
/// whose missing fine texture the shallow style layers score high, so the
/// coarse scales buy a better start, not a finished image; the README's
/// multi-scale benchmark gives the figures.
pub const COARSE_SHARE: f64 = 0.1;

/// Steps per scale for `sizes` (coarsest first), `steps` in all: each coarser
/// scale gets the same time (steps inversely proportional to its pixel count),
/// `COARSE_SHARE` of the run's time together, the finest scale the rest. Every
/// scale gets at least one step (`steps` must be at least `sizes.len()`).
pub fn split_steps(steps: usize, sizes: &[u32]) -> Vec<usize> {
    let Some((&last, coarse)) = sizes.split_last() else {
        return Vec::new();
    };
    if coarse.is_empty() {
        return vec![steps];
    }
    // Finest-scale evaluations that one coarse scale costs, per finest step.
    let each = COARSE_SHARE / (1.0 - COARSE_SHARE) / coarse.len() as f64;
    let area = |s: u32| (f64::from(s) / f64::from(last)).powi(2);
    let per_fine: f64 = 1.0 + coarse.iter().map(|&s| each / area(s)).sum::<f64>();
    let fine = steps as f64 / per_fine;
    let mut v: Vec<usize> = coarse
        .iter()
        .map(|&s| ((fine * each / area(s)).round() as usize).max(1))
        .collect();
    // Leave the finest scale at least one step, taking from the coarsest first.
    let mut spare = v.iter().sum::<usize>() + 1;
    for n in v.iter_mut() {
        if spare <= steps {
            break;
        }
        let cut = (*n - 1).min(spare - steps);
        *n -= cut;
        spare -= cut;
    }
    let used: usize = v.iter().sum();
    v.push(steps.saturating_sub(used));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyramids() {
        assert_eq!(
            sizes(512, Scales::Auto, 16).unwrap(),
            [128, 181, 256, 362, 512]
        );
        assert_eq!(sizes(128, Scales::Auto, 16).unwrap(), [128]);
        assert!(sizes(100, Scales::Auto, 16).is_err());
        assert_eq!(sizes(64, Scales::Count(2), 16).unwrap(), [45, 64]);
        assert_eq!(sizes(64, Scales::Count(1), 16).unwrap(), [64]);
        assert!(sizes(32, Scales::Count(4), 16).is_err());
        assert!(sizes(32, Scales::Count(0), 16).is_err());
        // 10% of the time on the coarse scales, the same for each.
        let v = split_steps(500, &[128, 181, 256, 362, 512]);
        assert_eq!(v.iter().sum::<usize>(), 500);
        let cost = |v: &[usize]| -> Vec<f64> {
            v.iter()
                .zip([128.0f64, 181.0, 256.0, 362.0, 512.0])
                .map(|(&n, s)| n as f64 * (s / 512.0).powi(2))
                .collect()
        };
        let c = cost(&v);
        let total: f64 = c.iter().sum();
        let coarse: f64 = c[..4].iter().sum();
        assert!((coarse / total - COARSE_SHARE).abs() < 0.01, "{v:?}");
        assert!(
            c[..4].iter().all(|&x| (x - coarse / 4.0).abs() < 0.5),
            "{v:?}"
        );
        assert_eq!(split_steps(7, &[64]), [7]);
        // Few steps: one for each coarse scale, the rest to the finest.
        assert_eq!(split_steps(3, &[128, 181, 256]), [1, 1, 1]);
        assert_eq!(split_steps(12, &[45, 64]), [2, 10]);
        assert_eq!("auto".parse::<Scales>().unwrap(), Scales::Auto);
        assert_eq!("3".parse::<Scales>().unwrap(), Scales::Count(3));
        assert!("0".parse::<Scales>().is_err());
    }
}
