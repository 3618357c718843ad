//! Choosing the compute device: `auto`, `cpu`, `cuda` or `cuda:N`.

use tch::Device;

use super::error::{Error, Result};

/// Parses a device name. `auto` picks the first CUDA device when there is one.
/// Asking for CUDA on a machine without it is an error, not a silent fallback.
pub fn parse_device(s: &str) -> Result<Device> {
    let s = s.trim();
    match s {
        "auto" => Ok(Device::cuda_if_available()),
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
            let count = tch::Cuda::device_count();
            if count == 0 {
                return Err(Error::Device(format!(
                    "'{s}' requested but no CUDA device is available (use --device cpu)"
                )));
            }
            if index as i64 >= count {
                return Err(Error::Device(format!(
                    "'{s}' requested but only {count} CUDA device(s) exist"
                )));
            }
            Ok(Device::Cuda(index))
        }
    }
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
