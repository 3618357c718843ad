//! How long a training run will take, said before it is queued: the pace of
//! an earlier training on the same kind of device (a finished run in History,
//! or a model's own record), scaled by the new run's pixels. VGG runs on every
//! image of every batch and dominates; the network's width is left out, so
//! the figure is a rough one ("≈").

use crate::engine::fast::train::TrainSpec;

/// Seconds a training took per image of one megapixel, measured once.
#[derive(Clone, Debug, PartialEq)]
pub struct Pace {
    /// The device it ran on, as recorded ("cpu", "cuda:0 …").
    pub device: String,
    pub secs_per_mpx: f64,
    /// What it was measured on: a model's name or `run 12`.
    pub from: String,
}

impl Pace {
    /// The pace of a training of `iterations` batches of `batch` crops of
    /// `size` px that took `seconds`; `None` when a figure is missing.
    pub fn measured(
        device: &str,
        from: String,
        seconds: f64,
        (iterations, batch, size): (u64, usize, u32),
    ) -> Option<Pace> {
        let mpx = iterations as f64 * batch as f64 * f64::from(size).powi(2) / 1e6;
        (seconds.is_finite() && seconds > 0.0 && mpx > 0.0).then(|| Pace {
            device: device.to_string(),
            secs_per_mpx: seconds / mpx,
            from,
        })
    }
}

/// "cpu" or "cuda" of a device name: a pace on one GPU stands for another.
fn device_kind(name: &str) -> &str {
    name.split([':', ' ']).next().unwrap_or(name)
}

/// The seconds `spec` should take on `device`, at the first pace measured on
/// a device of its kind, with that pace.
pub fn train_seconds<'a>(
    spec: &TrainSpec,
    device: &str,
    paces: impl IntoIterator<Item = &'a Pace>,
) -> Option<(f64, &'a Pace)> {
    let pace = paces
        .into_iter()
        .find(|p| device_kind(&p.device) == device_kind(device))?;
    let mpx = spec.iterations as f64 * spec.batch as f64 * f64::from(spec.size).powi(2) / 1e6;
    Some((mpx * pace.secs_per_mpx, pace))
}

/// A duration as a person reads it: `40 s`, `12 min`, `3.5 h`.
pub fn duration(secs: f64) -> String {
    match secs {
        s if s < 90.0 => format!("{s:.0} s"),
        s if s < 90.0 * 60.0 => format!("{:.0} min", s / 60.0),
        s => format!("{:.1} h", s / 3600.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_scales_a_measured_pace_by_pixels_on_a_device_of_the_same_kind() {
        // irises: 2400 batches of 2 crops of 128 px in 1759 s on the CPU.
        let cpu = Pace::measured("cpu", "irises".into(), 1759.0, (2400, 2, 128)).unwrap();
        let gpu = Pace::measured("cuda:0 (H100)", "run 3".into(), 60.0, (2000, 4, 256)).unwrap();
        let spec = TrainSpec {
            iterations: 2400,
            batch: 2,
            size: 256,
            ..TrainSpec::default()
        };
        let (secs, pace) = train_seconds(&spec, "cpu", [&gpu, &cpu]).unwrap();
        assert_eq!(pace.from, "irises");
        assert!((secs - 4.0 * 1759.0).abs() < 1e-6, "{secs}");
        let (secs, pace) = train_seconds(&spec, "cuda:1", [&gpu, &cpu]).unwrap();
        assert_eq!(pace.from, "run 3");
        assert!((secs - 60.0 * 2400.0 * 2.0 / (2000.0 * 4.0)).abs() < 1e-6);
        assert!(train_seconds(&spec, "mps", [&gpu, &cpu]).is_none());
        assert!(Pace::measured("cpu", "x".into(), 0.0, (1, 1, 1)).is_none());
        assert_eq!(duration(40.0), "40 s");
        assert_eq!(duration(7036.0), "2.0 h");
        assert_eq!(duration(600.0), "10 min");
    }
}
