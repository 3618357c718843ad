//! Peak-memory estimate for a run, and the guard that refuses a run that would
//! not fit in the device's free memory.
//!
//! The estimate is a model of what one evaluation keeps alive at the finest
//! scale: every VGG activation up to the deepest tap (autograd keeps them for the
//! backward pass) times a factor for the backward pass's gradients and
//! libtorch's workspace, plus the images, the optimiser's state (L-BFGS keeps
//! 2·history image-sized vectors) and the MRF patch matrices. The factor was
//! fitted to the peak resident memory measured on a CPU (see README, "Memory").
//! On a CPU the process's resident memory before the run (libtorch, the network)
//! is added; on CUDA the free memory already excludes the network.

use tch::Device;

use super::error::{Error, Result};
use super::image_io::fit_longer_side;
use super::mrf::StyleLoss;
use super::spec::{OptimizerKind, RunSpec};
use super::vgg::stage_numels;

/// Forward activations are kept for the backward pass, which allocates their
/// gradients as it goes; fitted on a CPU (README, "Memory").
const ACTIVATION_FACTOR: f64 = 2.0;

/// Bytes the run itself needs at its finest scale for a content of
/// `width`×`height` (before resizing), beyond what the process holds already.
pub fn run_bytes(spec: &RunSpec, width: u32, height: u32) -> u64 {
    let (w, h) = fit_longer_side(width, height, spec.size);
    let (w, h) = (i64::from(w), i64::from(h));
    let f32b = 4.0;
    let taps = spec
        .content_layers
        .iter()
        .chain(&spec.style_layers)
        .chain(if spec.style_loss.mrf() {
            spec.mrf_layers.as_slice()
        } else {
            &[]
        })
        .map(|l| l.layer);
    let Some(deepest) = taps.max() else {
        return 0;
    };
    let acts: i64 = stage_numels(h, w, deepest).iter().sum();
    let image = (3 * h * w) as f64 * f32b;
    // x, its gradient, the best iterate, the clamped copy, the content target.
    let mut bytes = ACTIVATION_FACTOR * acts as f64 * f32b + 6.0 * image;
    bytes += match spec.optimizer {
        // s and y history (it fills one pair per step), direction, previous
        // gradient.
        OptimizerKind::Lbfgs => (2 * spec.lbfgs_history.min(spec.steps) + 3) as f64 * image,
        OptimizerKind::Adam => 3.0 * image,
    };
    if spec.style_loss != StyleLoss::Gram {
        // Per MRF layer: style patches and kernels [Ls, 9C], the image's patches
        // and their matches [Lx, 9C], the response [Ls, Lx] (style ~ image size).
        let s = (spec.style_scale * spec.style_scale).max(1.0);
        for l in &spec.mrf_layers {
            let numels = stage_numels(h, w, l.layer);
            let c9 = 9.0 * *numels.last().unwrap_or(&0) as f64;
            let stride = f64::from(l.layer.stride());
            let positions = (h as f64 / stride) * (w as f64 / stride);
            bytes += f32b * (2.0 * s * c9 + 2.0 * c9 + s * positions * positions);
        }
    }
    bytes as u64
}

/// The process's resident memory now (CPU), from /proc/self/status.
pub fn resident_bytes() -> Option<u64> {
    status_kb("VmRSS:").map(|kb| kb * 1024)
}

/// The process's peak resident memory since start or the last [`reset_peak`].
pub fn peak_resident_bytes() -> Option<u64> {
    status_kb("VmHWM:").map(|kb| kb * 1024)
}

/// Resets the peak resident memory to the current (Linux ≥ 4.0), so a peak
/// read afterwards measures the run, not loading the weights.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn status_kb(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    kb_field(&text, key)
}

fn kb_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Memory the run can still take on `device`: MemAvailable on a CPU; on CUDA
/// the free memory `nvidia-smi` reports (tch has no call for it). `None` when
/// it cannot be told.
pub fn available_bytes(device: Device) -> Option<u64> {
    match device {
        Device::Cuda(i) => {
            let out = std::process::Command::new("nvidia-smi")
                .args([
                    "--query-gpu=memory.free",
                    "--format=csv,noheader,nounits",
                    &format!("--id={i}"),
                ])
                .output()
                .ok()?;
            let mib: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
            Some(mib * 1024 * 1024)
        }
        _ => {
            let text = std::fs::read_to_string("/proc/meminfo").ok()?;
            kb_field(&text, "MemAvailable:").map(|kb| kb * 1024)
        }
    }
}

/// The estimate of a run and what it is checked against.
#[derive(Clone, Copy, Debug)]
pub struct Estimate {
    /// What the run adds.
    pub run: u64,
    /// Estimated peak of the process (CPU: resident memory now plus `run`;
    /// CUDA: `run`).
    pub peak: u64,
    /// Free memory on the device, if known.
    pub available: Option<u64>,
}

pub fn estimate(spec: &RunSpec, width: u32, height: u32, device: Device) -> Estimate {
    let run = run_bytes(spec, width, height);
    let base = if device.is_cuda() {
        0
    } else {
        resident_bytes().unwrap_or(0)
    };
    Estimate {
        run,
        peak: base + run,
        available: available_bytes(device),
    }
}

/// `123 MiB`.
pub fn mib(b: u64) -> String {
    format!("{:.0} MiB", b as f64 / (1024.0 * 1024.0))
}

/// Refuses a run whose estimate exceeds the free memory, naming the largest
/// size that fits. Passes when the free memory cannot be told.
pub fn check(spec: &RunSpec, width: u32, height: u32, device: Device) -> Result<Estimate> {
    let e = estimate(spec, width, height, device);
    let Some(avail) = e.available else {
        return Ok(e);
    };
    if e.run <= avail {
        return Ok(e);
    }
    // Largest size (longer side) whose estimate fits, by bisection.
    let fits = |size: u32| {
        let s = RunSpec {
            size,
            ..spec.clone()
        };
        run_bytes(&s, width, height) <= avail
    };
    let (mut lo, mut hi) = (spec.deepest_stride().max(16), spec.size);
    let hint = if fits(lo) {
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if fits(mid) {
                lo = mid
            } else {
                hi = mid
            }
        }
        format!("--size {lo} fits")
    } else {
        "no size fits".to_string()
    };
    Err(Error::Memory(format!(
        "a {} px run needs about {} but only {} is free on {}; {hint} (or pass --force to try anyway)",
        spec.size,
        mib(e.run),
        mib(avail),
        super::device::device_name(device)
    )))
}

/// Turns libtorch's out-of-memory failure into a clear error.
pub fn explain_oom(e: Error, spec: &RunSpec, device: Device) -> Error {
    match e {
        Error::Torch(msg) if msg.to_lowercase().contains("out of memory") => Error::Memory(
            format!(
                "{} ran out of memory during the {} px run; lower --size (or the other runs on that device)",
                super::device::device_name(device),
                spec.size
            ),
        ),
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_grows_with_pixels() {
        let s = |size| RunSpec {
            size,
            ..RunSpec::default()
        };
        let (a, b) = (run_bytes(&s(128), 400, 300), run_bytes(&s(256), 400, 300));
        assert!(b > 3 * a && b < 5 * a, "{a} {b}");
        assert_eq!(kb_field("VmHWM:\t  1234 kB\n", "VmHWM:"), Some(1234));
    }
}
