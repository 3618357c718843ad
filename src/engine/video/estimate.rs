//! How long a clip will take, before it starts: frames × the cost of one
//! frame at the run's size on this kind of device. They say whether a
//! request takes minutes or weeks, not to the second; the progress line's
//! ETA, from the frames done, replaces them once the run is going.

use std::time::Duration;

/// Seconds of one Gatys evaluation (forward and backward through VGG19) per
/// million pixels: CPU (measured: 0.35 s at 256×170 and 6.5 s at 1024×681
/// on 2 cores, docs/benchmarks.md), GPU (assumed a hundred times faster;
/// not measured on this project's machines).
const GATYS_EVAL_SECS_PER_MPX: (f64, f64) = (9.0, 0.09);
/// Seconds of one feed-forward frame per million pixels: CPU (measured:
/// 2 CPU-s at 512×512, docs/benchmarks.md), GPU (assumed as above).
const MODEL_SECS_PER_MPX: (f64, f64) = (8.0, 0.08);

/// A run longer than this is refused unless forced.
pub const REFUSE_ABOVE: Duration = Duration::from_secs(24 * 3600);

/// What one frame costs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PerFrame {
    /// Gatys with this many evaluations per frame on average.
    Gatys { evals: f64 },
    /// One pass of a feed-forward network.
    Model,
}

/// The time a clip of `frames` frames of `width`×`height` takes.
pub fn clip_time(frames: u64, width: u32, height: u32, per: PerFrame, gpu: bool) -> Duration {
    let mpx = f64::from(width) * f64::from(height) / 1e6;
    let pick = |(cpu, gpu_cost): (f64, f64)| if gpu { gpu_cost } else { cpu };
    let frame = match per {
        PerFrame::Gatys { evals } => evals * mpx * pick(GATYS_EVAL_SECS_PER_MPX),
        PerFrame::Model => mpx * pick(MODEL_SECS_PER_MPX),
    };
    Duration::from_secs_f64((frame * frames as f64).min(1e12))
}

/// `45 s`, `12 min`, `3.5 h`, `9 days`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    match s {
        s if s < 90.0 => format!("{s:.0} s"),
        s if s < 90.0 * 60.0 => format!("{:.0} min", s / 60.0),
        s if s < 48.0 * 3600.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.0} days", s / 86400.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_film_at_1024_px_takes_weeks_and_a_short_clip_minutes() {
        // Two hours at 24 fps, 1024×576, Gatys 300 evaluations a frame.
        let film = clip_time(
            2 * 3600 * 24,
            1024,
            576,
            PerFrame::Gatys { evals: 300.0 },
            true,
        );
        assert!(film > REFUSE_ABOVE, "{}", human(film));
        let clip = clip_time(48, 256, 144, PerFrame::Model, false);
        assert!(clip < Duration::from_secs(60), "{}", human(clip));
        assert_eq!(human(Duration::from_secs(30)), "30 s");
        assert_eq!(human(Duration::from_secs(3 * 86400)), "3 days");
    }
}
