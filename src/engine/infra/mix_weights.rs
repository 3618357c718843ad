//! The one check of style-mix weights, for every model kind (fast CIN,
//! MSG-Net, adain/wct) and every front end (CLI, queue, drop-folder rules,
//! the TUI): each weight finite and ≥ 0, their sum finite and > 0. Weights
//! are normalised to sum 1, so a sum that overflows to infinity would
//! otherwise scale every weight to 0 and give a flat image.

use crate::engine::infra::error::{Error, Result};

/// One weight: a finite number ≥ 0.
pub fn check_weight(w: f64) -> Result<()> {
    if w.is_finite() && w >= 0.0 {
        return Ok(());
    }
    Err(Error::invalid(
        "style weight",
        format!("{w} (must be a finite number ≥ 0)"),
    ))
}

/// `weights` checked and scaled to sum 1.
pub fn normalised(weights: &[f64]) -> Result<Vec<f64>> {
    if weights.is_empty() {
        return Err(Error::invalid("style", "none given"));
    }
    for &w in weights {
        check_weight(w)?;
    }
    let sum: f64 = weights.iter().sum();
    if !sum.is_finite() {
        return Err(Error::invalid(
            "style weights",
            "their sum overflows: use smaller weights (only their ratios matter)",
        ));
    }
    if sum <= 0.0 {
        return Err(Error::invalid(
            "style weights",
            "all are 0 (at least one must be > 0)",
        ));
    }
    Ok(weights.iter().map(|w| w / sum).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_normalised_or_refused_with_the_reason() {
        assert_eq!(normalised(&[1.0, 3.0]).unwrap(), [0.25, 0.75]);
        let reason = |w: &[f64]| normalised(w).unwrap_err().to_string();
        assert!(reason(&[9e307, 9e307]).contains("overflows"));
        assert!(reason(&[0.0, 0.0]).contains("all are 0"));
        assert!(reason(&[1.0, -1.0]).contains("-1"));
        assert!(reason(&[f64::NAN]).contains("NaN"));
        assert!(reason(&[f64::INFINITY]).contains("inf"));
        assert!(reason(&[]).contains("none given"));
    }
}
