//! Peak-memory estimate for a run, and the guard that refuses a run that would
//! not fit in the device's free memory.
//!
//! The estimate is a model of what one evaluation keeps alive at the finest
//! scale: every VGG activation up to the deepest tap (autograd keeps them for the
//! backward pass) times a factor for the backward pass's gradients and
//! libtorch's workspace, plus the images, the optimiser's state (L-BFGS keeps
//! 2·history image-sized vectors) and the MRF patch matrices. The factor was
//! fitted to the peak resident memory measured on a CPU (see docs/methods.md, "Memory").
//! On a CPU the process's resident memory before the run (libtorch, the network)
//! is added; on CUDA the free memory already excludes the network.
//!
//! Free memory on CUDA comes from the CUDA runtime libtorch loaded
//! (`cudaMemGetInfo` for exactly `cuda:N`), else from nvidia-smi mapped
//! through `CUDA_VISIBLE_DEVICES`; [`device_memory`] says why when neither answers.

use tch::Device;

use crate::engine::gatys::mrf::StyleLoss;
use crate::engine::gatys::spec::{OptimizerKind, RunSpec};
use crate::engine::infra::error::{Error, ErrorClass, Result};
use crate::engine::infra::image_io::fit_longer_side;
use crate::engine::nets::vgg::stage_numels;

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
    if spec.masked() {
        // Per region and style layer: the guided feature map and its gradient;
        // per mask: itself at the image's size.
        let per_style = if spec.per_style_masks() {
            spec.styles.len()
        } else {
            0
        };
        let regions = per_style.max(1) as f64;
        let masks = (per_style + usize::from(spec.content_mask.is_some())) as f64;
        for l in &spec.style_layers {
            let numel = *stage_numels(h, w, l.layer).last().unwrap_or(&0) as f64;
            bytes += regions * 2.0 * numel * f32b;
        }
        bytes += masks * (h * w) as f64 * f32b;
    }
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

/// Where a free-memory figure came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeSource {
    /// `cudaMemGetInfo` in the CUDA runtime libtorch loaded (exactly `cuda:N`).
    CudaRuntime,
    /// `nvidia-smi`, its physical GPU found through `CUDA_VISIBLE_DEVICES`.
    NvidiaSmi,
    /// MemAvailable in /proc/meminfo (CPU).
    MemInfo,
}

/// Free (and, where known, total) memory of one device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceMemory {
    pub free: u64,
    pub total: Option<u64>,
    pub source: FreeSource,
}

/// One row of `nvidia-smi --query-gpu=index,uuid,name,memory.free,memory.total
/// --format=csv,noheader,nounits`: a physical GPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmiGpu {
    pub index: usize,
    pub uuid: String,
    pub name: String,
    pub free: u64,
    pub total: u64,
}

/// The query [`parse_smi`] reads.
pub const SMI_QUERY: &str = "--query-gpu=index,uuid,name,memory.free,memory.total";

/// Parses nvidia-smi's CSV (see [`SMI_QUERY`]; MiB figures); rows it cannot
/// read (e.g. `[N/A]` memory) are skipped.
pub fn parse_smi(csv: &str) -> Vec<SmiGpu> {
    csv.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let [index, uuid, name, free, total] = f.as_slice() else {
                return None;
            };
            let mib = 1024 * 1024;
            Some(SmiGpu {
                index: index.parse().ok()?,
                uuid: uuid.to_string(),
                name: name.to_string(),
                free: free.parse::<u64>().ok()? * mib,
                total: total.parse::<u64>().ok()? * mib,
            })
        })
        .collect()
}

/// Which nvidia-smi row each `cuda:N` is, for a `CUDA_VISIBLE_DEVICES` value
/// (`None`: unset, every GPU in nvidia-smi's order). Follows the CUDA
/// runtime's reading: entries are indices or (prefixes of) `GPU-` UUIDs, and
/// the list ends at the first entry that names no GPU or repeats one. MIG
/// instances have no nvidia-smi row of their own: an error. Indices assume
/// `CUDA_DEVICE_ORDER=PCI_BUS_ID` (nvidia-smi's order); the CUDA runtime
/// path, tried first, does not depend on it.
pub fn visible_rows(cvd: Option<&str>, gpus: &[SmiGpu]) -> Result<Vec<usize>, String> {
    let Some(cvd) = cvd else {
        let mut rows: Vec<usize> = (0..gpus.len()).collect();
        rows.sort_by_key(|&r| gpus[r].index);
        return Ok(rows);
    };
    let mut rows = Vec::new();
    for entry in cvd.split(',').map(str::trim) {
        let row = if let Ok(i) = entry.parse::<usize>() {
            gpus.iter().position(|g| g.index == i)
        } else if entry.starts_with("MIG-") {
            return Err(format!(
                "CUDA_VISIBLE_DEVICES names a MIG instance ({entry}); nvidia-smi cannot tell its free memory"
            ));
        } else if entry.starts_with("GPU-") {
            let matching: Vec<usize> = (0..gpus.len())
                .filter(|&r| gpus[r].uuid.starts_with(entry))
                .collect();
            match matching.as_slice() {
                [r] => Some(*r),
                _ => None,
            }
        } else {
            None
        };
        match row {
            Some(r) if !rows.contains(&r) => rows.push(r),
            _ => break,
        }
    }
    Ok(rows)
}

/// The nvidia-smi row of `cuda:index` and its free memory, or why not.
pub fn smi_memory(
    index: usize,
    cvd: Option<&str>,
    gpus: &[SmiGpu],
) -> Result<DeviceMemory, String> {
    let rows = visible_rows(cvd, gpus)?;
    let row = rows.get(index).ok_or_else(|| {
        format!(
            "cuda:{index} is not among the {} GPU(s) nvidia-smi shows through CUDA_VISIBLE_DEVICES={}",
            rows.len(),
            cvd.unwrap_or("(unset)")
        )
    })?;
    Ok(DeviceMemory {
        free: gpus[*row].free,
        total: Some(gpus[*row].total),
        source: FreeSource::NvidiaSmi,
    })
}

/// Every GPU nvidia-smi lists, or why it cannot be asked.
pub fn query_smi() -> Result<Vec<SmiGpu>, String> {
    let out = std::process::Command::new("nvidia-smi")
        .args([SMI_QUERY, "--format=csv,noheader,nounits"])
        .output()
        .map_err(|e| format!("nvidia-smi: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().next().unwrap_or("").trim();
        return Err(format!("nvidia-smi failed ({}): {first}", out.status));
    }
    Ok(parse_smi(&String::from_utf8_lossy(&out.stdout)))
}

/// Free memory of `device`, or a one-line reason it cannot be read. On CUDA
/// the CUDA runtime libtorch has loaded is asked first, then nvidia-smi
/// through `CUDA_VISIBLE_DEVICES`.
pub fn device_memory(device: Device) -> Result<DeviceMemory, String> {
    match device {
        Device::Cuda(i) => {
            // Makes sure libtorch has loaded (and initialised) its CUDA side.
            let _ = tch::Cuda::device_count();
            let runtime = match crate::engine::infra::cudart::mem_get_info(i) {
                Ok((free, total)) => {
                    return Ok(DeviceMemory {
                        free,
                        total: Some(total),
                        source: FreeSource::CudaRuntime,
                    })
                }
                Err(e) => e,
            };
            let cvd = std::env::var("CUDA_VISIBLE_DEVICES").ok();
            query_smi()
                .and_then(|gpus| smi_memory(i, cvd.as_deref(), &gpus))
                .map_err(|smi| format!("free memory of cuda:{i} unknown: {runtime}; {smi}"))
        }
        _ => {
            let text = std::fs::read_to_string("/proc/meminfo")
                .map_err(|e| format!("free memory unknown: /proc/meminfo: {e}"))?;
            let free = kb_field(&text, "MemAvailable:")
                .ok_or("free memory unknown: no MemAvailable in /proc/meminfo")?
                * 1024;
            let total = kb_field(&text, "MemTotal:").map(|kb| kb * 1024);
            Ok(DeviceMemory {
                free,
                total,
                source: FreeSource::MemInfo,
            })
        }
    }
}

/// Memory the run can still take on `device` ([`device_memory`]); `None` when
/// it cannot be told (the reason is in `device_memory`'s error).
pub fn available_bytes(device: Device) -> Option<u64> {
    device_memory(device).ok().map(|m| m.free)
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
    Estimate {
        available: available_bytes(device),
        ..estimate_run(spec, width, height, device)
    }
}

/// [`estimate`] without asking for the free memory.
fn estimate_run(spec: &RunSpec, width: u32, height: u32, device: Device) -> Estimate {
    let run = run_bytes(spec, width, height);
    let base = if device.is_cuda() {
        0
    } else {
        resident_bytes().unwrap_or(0)
    };
    Estimate {
        run,
        peak: base + run,
        available: None,
    }
}

/// `123 MiB`.
pub fn mib(b: u64) -> String {
    format!("{:.0} MiB", b as f64 / (1024.0 * 1024.0))
}

/// Refuses a run whose estimate exceeds the free memory, naming the largest
/// size that fits. Passes when the free memory cannot be told.
pub fn check(spec: &RunSpec, width: u32, height: u32, device: Device) -> Result<Estimate> {
    check_against(spec, width, height, device, available_bytes(device)).map_err(|e| match e {
        Error::Memory(m) => Error::Memory(format!("{m} (or pass --force to try anyway)")),
        e => e,
    })
}

/// [`check`] against `available` free bytes (`None`: unknown, the run
/// passes), without the CLI's `--force` hint: the worker's check, whose
/// free figure a test can set.
pub fn check_against(
    spec: &RunSpec,
    width: u32,
    height: u32,
    device: Device,
    available: Option<u64>,
) -> Result<Estimate> {
    let e = Estimate {
        available,
        ..estimate_run(spec, width, height, device)
    };
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
        "a {} px run needs about {} but only {} is free on {}; {hint}",
        spec.size,
        mib(e.run),
        mib(avail),
        crate::engine::infra::device::device_name(device)
    )))
}

/// Turns libtorch's out-of-memory failure (CUDA caching allocator, cuDNN or
/// cuBLAS workspace, CPU allocator) into a clear error; other errors pass.
pub fn explain_oom(e: Error, spec: &RunSpec, device: Device) -> Error {
    match e {
        Error::Torch(msg)
            if crate::engine::infra::error::classify_message(&msg) == ErrorClass::OutOfMemory =>
        {
            let detail: String = msg.chars().take(160).collect();
            Error::Memory(format!(
                "{} ran out of memory during the {} px run; lower --size (or the other runs on that device) [{detail}]",
                crate::engine::infra::device::device_name(device),
                spec.size
            ))
        }
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

    #[test]
    fn each_masked_style_adds_its_guided_style_layers_and_its_mask() {
        let plain = RunSpec::default();
        let masked = |n: usize| RunSpec {
            styles: vec!["a.png".parse().unwrap(); n],
            style_masks: vec!["m.png".into(); n],
            ..RunSpec::default()
        };
        let (p, one, two) = (
            run_bytes(&plain, 400, 300),
            run_bytes(&masked(1), 400, 300),
            run_bytes(&masked(2), 400, 300),
        );
        assert!(one > p, "{p} {one}");
        assert_eq!(two - one, one - p, "each masked style adds the same");
    }

    const SMI: &str = "\
0, GPU-aaaa1111-0000-0000-0000-000000000000, NVIDIA H200, 1000, 143771
1, GPU-bbbb2222-0000-0000-0000-000000000000, NVIDIA H200, 2000, 143771
2, GPU-cccc3333-0000-0000-0000-000000000000, NVIDIA H200, 3000, 143771
3, GPU-dddd4444-0000-0000-0000-000000000000, NVIDIA H200, [N/A], 143771
";

    #[test]
    fn parses_nvidia_smi_rows() {
        let g = parse_smi(SMI);
        assert_eq!(g.len(), 3, "the [N/A] row is skipped");
        assert_eq!(g[1].index, 1);
        assert_eq!(g[1].name, "NVIDIA H200");
        assert_eq!(g[1].free, 2000 * 1024 * 1024);
        assert_eq!(g[2].total, 143771 * 1024 * 1024);
        assert!(parse_smi("").is_empty());
        assert!(parse_smi("garbage\n0, x\n").is_empty());
    }

    #[test]
    fn cuda_visible_devices_maps_cuda_n_to_the_physical_gpu() {
        let g = parse_smi(SMI);
        assert_eq!(visible_rows(None, &g), Ok(vec![0, 1, 2]));
        assert_eq!(visible_rows(Some("2,0"), &g), Ok(vec![2, 0]));
        // UUIDs, whole or by a unique prefix.
        assert_eq!(
            visible_rows(
                Some("GPU-cccc3333-0000-0000-0000-000000000000,GPU-aaaa"),
                &g
            ),
            Ok(vec![2, 0])
        );
        // The list ends at the first entry naming no GPU, or a repeat.
        assert_eq!(visible_rows(Some("1,7,0"), &g), Ok(vec![1]));
        assert_eq!(visible_rows(Some("1,1,0"), &g), Ok(vec![1]));
        assert_eq!(
            visible_rows(Some("GPU-,0"), &g),
            Ok(vec![]),
            "ambiguous prefix"
        );
        assert_eq!(visible_rows(Some(""), &g), Ok(vec![]));
        assert_eq!(visible_rows(Some("-1"), &g), Ok(vec![]));
        assert!(visible_rows(Some("MIG-1234"), &g)
            .unwrap_err()
            .contains("MIG"));

        // cuda:0 under CUDA_VISIBLE_DEVICES=2 is physical GPU 2 (3000 MiB free).
        let m = smi_memory(0, Some("2"), &g).unwrap();
        assert_eq!(m.free, 3000 * 1024 * 1024);
        assert_eq!(m.source, FreeSource::NvidiaSmi);
        assert_eq!(
            smi_memory(1, Some("GPU-bbbb,GPU-aaaa"), &g).unwrap().free,
            1000 * 1024 * 1024
        );
        let e = smi_memory(1, Some("2"), &g).unwrap_err();
        assert!(
            e.contains("cuda:1") && e.contains("CUDA_VISIBLE_DEVICES=2"),
            "{e}"
        );
    }

    #[test]
    fn the_check_refuses_what_does_not_fit_and_names_a_size_that_does() {
        let spec = RunSpec {
            size: 256,
            ..RunSpec::default()
        };
        let need = run_bytes(&spec, 400, 300);
        let e = check_against(&spec, 400, 300, Device::Cpu, Some(need / 2))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("not enough memory: a 256 px run needs about") && e.contains("fits"),
            "{e}"
        );
        let fits: u32 = e
            .split("--size ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        let smaller = RunSpec {
            size: fits,
            ..spec.clone()
        };
        assert!(fits < 256 && run_bytes(&smaller, 400, 300) <= need / 2);
        let tiny = check_against(&spec, 400, 300, Device::Cpu, Some(1)).unwrap_err();
        assert!(tiny.to_string().ends_with("no size fits"), "{tiny}");
        assert!(check_against(&spec, 400, 300, Device::Cpu, Some(need)).is_ok());
        assert!(check_against(&spec, 400, 300, Device::Cpu, None).is_ok());
    }

    #[test]
    fn cpu_free_memory_comes_from_meminfo() {
        let m = device_memory(Device::Cpu).unwrap();
        assert_eq!(m.source, FreeSource::MemInfo);
        assert!(m.free > 0 && m.free <= m.total.unwrap());
    }
}
