//! Choosing the compute device: `auto`, `cpu`, `cuda` or `cuda:N`, and for
//! `auto` the freest GPU that no other worker has taken.

use tch::Device;

use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::memory;

/// Parses a device name. `auto` picks the freest CUDA device ([`resolve_auto`]
/// with no device taken), the CPU when there is none. Asking for CUDA on a
/// machine without it is an error, not a silent fallback.
pub fn parse_device(s: &str) -> Result<Device> {
    let s = s.trim();
    match s {
        "auto" => Ok(resolve_auto(&[])),
        "cpu" => Ok(Device::Cpu),
        _ => {
            let index = match s {
                "cuda" | "gpu" => 0,
                _ => s
                    .strip_prefix("cuda:")
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| {
                        Error::Device(format!("'{s}' unknown: use auto, cpu, cuda or cuda:N"))
                    })?,
            };
            let count = cuda_count();
            if count == 0 {
                return Err(Error::Device(format!(
                    "'{s}' requested but no CUDA device is available (use --device cpu)"
                )));
            }
            if index >= count {
                return Err(Error::Device(format!(
                    "'{s}' requested but only {count} CUDA device(s) exist"
                )));
            }
            configure_cuda();
            Ok(Device::Cuda(index))
        }
    }
}

/// Whether cuDNN's autotuner is on: our runs convolve the same shapes
/// thousands of times, the case it is for. `ATELIER_CUDNN_BENCHMARK=0` turns it
/// off (`scripts/gpu_check.sh` measures both).
pub fn cudnn_benchmark_wanted() -> bool {
    std::env::var("ATELIER_CUDNN_BENCHMARK").map_or(true, |v| v.trim() != "0")
}

/// Process-wide CUDA settings, once, when a CUDA device is first chosen.
fn configure_cuda() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| tch::Cuda::cudnn_set_benchmark(cudnn_benchmark_wanted()));
}

/// Human-readable device name, e.g. `cpu` or `cuda:0`.
pub fn device_name(d: Device) -> String {
    match d {
        Device::Cuda(i) => format!("cuda:{i}"),
        Device::Mps => "mps".into(),
        Device::Vulkan => "vulkan".into(),
        _ => "cpu".into(),
    }
}

/// A CUDA device as libtorch numbers it, with its free memory when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gpu {
    pub device: Device,
    /// nvidia-smi's name, when it could be asked.
    pub name: Option<String>,
    pub free: Option<u64>,
    pub total: Option<u64>,
}

/// The environment variable that fakes the GPU list, for tests on a machine
/// without one: `0:80000,1:80000` is two GPUs with 80000 MiB free each.
/// Only the device choice reads it (`list_gpus`, the device count that
/// `parse_device` checks); a run on a faked GPU fails in libtorch.
pub const FAKE_GPUS: &str = "ATELIER_FAKE_GPUS";

/// Parses a [`FAKE_GPUS`] value: `index:free_mib` entries, comma-separated;
/// `None` when an entry is not of that form.
pub fn parse_fake_gpus(s: &str) -> Option<Vec<Gpu>> {
    s.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (i, free) = e.split_once(':')?;
            let free = free.trim().parse::<u64>().ok()? << 20;
            Some(Gpu {
                device: Device::Cuda(i.trim().parse().ok()?),
                name: Some("fake GPU".into()),
                free: Some(free),
                total: Some(free),
            })
        })
        .collect()
}

fn fake_gpus() -> Option<Vec<Gpu>> {
    parse_fake_gpus(&std::env::var(FAKE_GPUS).ok()?)
}

/// How many CUDA devices libtorch sees ([`FAKE_GPUS`] when set).
pub fn cuda_count() -> usize {
    match fake_gpus() {
        Some(g) => g.len(),
        None => usize::try_from(tch::Cuda::device_count()).unwrap_or(0),
    }
}

/// Every CUDA device libtorch sees (`cuda:0` …), with free memory from
/// nvidia-smi mapped through `CUDA_VISIBLE_DEVICES` (it opens no CUDA context
/// on the GPUs; the CUDA runtime would open one on each). Without nvidia-smi,
/// the free memory is unknown (`None`). Empty on a machine without CUDA.
/// [`FAKE_GPUS`], when set, is the list instead.
pub fn list_gpus() -> Vec<Gpu> {
    if let Some(fake) = fake_gpus() {
        return fake;
    }
    let count = usize::try_from(tch::Cuda::device_count()).unwrap_or(0);
    let smi = memory::query_smi().unwrap_or_default();
    let cvd = std::env::var("CUDA_VISIBLE_DEVICES").ok();
    gpus_from(count, &smi, cvd.as_deref())
}

/// [`list_gpus`] from its inputs (for tests: a faked nvidia-smi).
pub fn gpus_from(count: usize, smi: &[memory::SmiGpu], cvd: Option<&str>) -> Vec<Gpu> {
    let rows = memory::visible_rows(cvd, smi).unwrap_or_default();
    (0..count)
        .map(|i| {
            let row = rows.get(i).map(|&r| &smi[r]);
            Gpu {
                device: Device::Cuda(i),
                name: row.map(|g| g.name.clone()),
                free: row.map(|g| g.free),
                total: row.map(|g| g.total),
            }
        })
        .collect()
}

/// The device `auto` means for a worker, given the GPUs and the devices live
/// workers already hold: the untaken GPU with the most free memory (unknown
/// free memory ranks last, ties go to the lower index); the CPU when every GPU
/// is taken or there is none.
pub fn choose_auto(gpus: &[Gpu], taken: &[Device]) -> Device {
    gpus.iter()
        .filter(|g| !taken.contains(&g.device))
        .min_by_key(|g| {
            let index = match g.device {
                Device::Cuda(i) => i,
                _ => usize::MAX,
            };
            (std::cmp::Reverse(g.free.map(|f| f + 1).unwrap_or(0)), index)
        })
        .map(|g| g.device)
        .unwrap_or(Device::Cpu)
}

/// [`choose_auto`] on this machine's GPUs ([`list_gpus`]).
pub fn resolve_auto(taken: &[Device]) -> Device {
    if cuda_count() == 0 {
        return Device::Cpu;
    }
    choose_auto(&list_gpus(), taken)
}

/// The kind of device a queued run asks for (`queue add --device`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    Cpu,
    Cuda,
}

impl DeviceKind {
    /// The kind a device name asks for, without checking that such a device
    /// exists here (a run may be queued for a GPU box's workers): `auto`
    /// asks for none (`None`), `cpu` for the CPU, `cuda`, `gpu` and `cuda:N`
    /// for a GPU.
    pub fn of_name(s: &str) -> Result<Option<DeviceKind>> {
        let s = s.trim();
        match s {
            "auto" | "any" => Ok(None),
            "cpu" => Ok(Some(DeviceKind::Cpu)),
            "cuda" | "gpu" => Ok(Some(DeviceKind::Cuda)),
            _ if s
                .strip_prefix("cuda:")
                .is_some_and(|n| n.parse::<usize>().is_ok()) =>
            {
                Ok(Some(DeviceKind::Cuda))
            }
            _ => Err(Error::Device(format!(
                "'{s}' unknown: use auto, cpu, cuda or cuda:N"
            ))),
        }
    }

    /// The kind of `device`.
    pub fn of(device: Device) -> DeviceKind {
        if device.is_cuda() {
            DeviceKind::Cuda
        } else {
            DeviceKind::Cpu
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Cpu => "cpu",
            DeviceKind::Cuda => "cuda",
        }
    }
}

/// A device name as the store records it (`cpu`, `cuda:1`), back as a device.
pub fn device_of_name(s: &str) -> Option<Device> {
    match s {
        "cpu" => Some(Device::Cpu),
        _ => s
            .strip_prefix("cuda:")
            .and_then(|n| n.parse().ok())
            .map(Device::Cuda),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::infra::memory::parse_smi;

    fn gpu(i: usize, free_mib: Option<u64>) -> Gpu {
        Gpu {
            device: Device::Cuda(i),
            name: Some("NVIDIA H200".into()),
            free: free_mib.map(|m| m << 20),
            total: Some(143_771 << 20),
        }
    }

    #[test]
    fn auto_picks_the_freest_untaken_gpu() {
        let gpus = [
            gpu(0, Some(10_000)),
            gpu(1, Some(90_000)),
            gpu(2, Some(50_000)),
        ];
        assert_eq!(choose_auto(&gpus, &[]), Device::Cuda(1));
        assert_eq!(choose_auto(&gpus, &[Device::Cuda(1)]), Device::Cuda(2));
        let all = [Device::Cuda(0), Device::Cuda(1), Device::Cuda(2)];
        assert_eq!(choose_auto(&gpus, &all), Device::Cpu);
        assert_eq!(choose_auto(&[], &[]), Device::Cpu);
        // Unknown free memory ranks after any known figure; ties: lower index.
        let unknown = [gpu(0, None), gpu(1, Some(0)), gpu(2, None)];
        assert_eq!(choose_auto(&unknown, &[]), Device::Cuda(1));
        assert_eq!(choose_auto(&unknown, &[Device::Cuda(1)]), Device::Cuda(0));
        // A CPU worker takes no GPU.
        assert_eq!(choose_auto(&gpus, &[Device::Cpu]), Device::Cuda(1));
    }

    #[test]
    fn two_workers_on_auto_spread_over_two_gpus() {
        // Two GPUs, the second busier: the first worker takes the freer one,
        // the second worker (seeing the first's device as taken) the other.
        let smi = parse_smi(
            "0, GPU-aaaa, NVIDIA H200, 140000, 143771\n1, GPU-bbbb, NVIDIA H200, 60000, 143771\n",
        );
        let gpus = gpus_from(2, &smi, None);
        let mut taken = Vec::new();
        for _ in 0..2 {
            taken.push(choose_auto(&gpus, &taken));
        }
        assert_eq!(taken, vec![Device::Cuda(0), Device::Cuda(1)]);
        // A third worker finds no free GPU.
        assert_eq!(choose_auto(&gpus, &taken), Device::Cpu);
    }

    #[test]
    fn fake_gpus_and_device_kinds_parse() {
        let g = parse_fake_gpus("0:80000, 1:40000").unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[1].device, Device::Cuda(1));
        assert_eq!(g[1].free, Some(40_000 << 20));
        assert_eq!(choose_auto(&g, &[]), Device::Cuda(0));
        assert!(parse_fake_gpus("0").is_none());
        assert!(parse_fake_gpus("x:1").is_none());
        assert_eq!(DeviceKind::of_name("auto").unwrap(), None);
        assert_eq!(DeviceKind::of_name("cpu").unwrap(), Some(DeviceKind::Cpu));
        assert_eq!(
            DeviceKind::of_name("cuda:3").unwrap(),
            Some(DeviceKind::Cuda)
        );
        assert!(DeviceKind::of_name("tpu").is_err());
        assert_eq!(device_of_name("cuda:2"), Some(Device::Cuda(2)));
        assert_eq!(device_of_name("cpu"), Some(Device::Cpu));
        assert_eq!(device_of_name("mps"), None);
    }

    #[test]
    fn gpu_list_follows_cuda_visible_devices() {
        let smi = parse_smi(
            "0, GPU-aaaa, A, 100, 200\n1, GPU-bbbb, B, 300, 400\n2, GPU-cccc, C, 500, 600\n",
        );
        // CUDA_VISIBLE_DEVICES=2,0: libtorch's cuda:0 is physical GPU 2.
        let gpus = gpus_from(2, &smi, Some("2,0"));
        assert_eq!(gpus[0].name.as_deref(), Some("C"));
        assert_eq!(gpus[0].free, Some(500 << 20));
        assert_eq!(gpus[1].name.as_deref(), Some("A"));
        assert_eq!(choose_auto(&gpus, &[]), Device::Cuda(0));
        // No nvidia-smi: the devices are still listed, memory unknown.
        let blind = gpus_from(2, &[], None);
        assert_eq!(blind.len(), 2);
        assert_eq!(blind[1].free, None);
        assert_eq!(choose_auto(&blind, &[]), Device::Cuda(0));
    }
}
