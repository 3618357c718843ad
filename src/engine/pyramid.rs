//! Coarse-to-fine multi-scale runs: the sizes of the image pyramid and how the
//! steps are shared out over them.
//!
//! Each scale is a full run at its size, started from the previous scale's
//! result upscaled (bilinear), with fresh optimiser history. Coarse scales are
//! cheap and settle the large structures; the finest only refines.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::error::{Error, Result};

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

/// Steps per scale: `steps` split evenly, the remainder to the finest scales.
pub fn split_steps(steps: usize, scales: usize) -> Vec<usize> {
    let (each, rest) = (steps / scales, steps % scales);
    (0..scales)
        .map(|i| each + usize::from(i >= scales - rest))
        .collect()
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
        assert_eq!(split_steps(10, 3), [3, 3, 4]);
        assert_eq!(split_steps(7, 2), [3, 4]);
        assert_eq!("auto".parse::<Scales>().unwrap(), Scales::Auto);
        assert_eq!("3".parse::<Scales>().unwrap(), Scales::Count(3));
        assert!("0".parse::<Scales>().is_err());
    }
}
