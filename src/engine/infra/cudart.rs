//! Free memory straight from the CUDA runtime that libtorch has already loaded:
//! `dlopen(RTLD_NOLOAD)` of its libcudart, then `cudaSetDevice` and
//! `cudaMemGetInfo`. tch has no such call, and `nvidia-smi` numbers GPUs
//! physically, which is not `cuda:N` under `CUDA_VISIBLE_DEVICES`; the runtime
//! answers for exactly the device libtorch calls `cuda:N`.

use std::ffi::{c_int, c_void, CString};

type MemGetInfo = unsafe extern "C" fn(*mut usize, *mut usize) -> c_int;
type SetDevice = unsafe extern "C" fn(c_int) -> c_int;
type GetDevice = unsafe extern "C" fn(*mut c_int) -> c_int;

/// Shared objects named `libcudart*` mapped into this process, from the text
/// of /proc/self/maps (one path per library).
pub(crate) fn cudart_paths(maps: &str) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    for line in maps.lines() {
        let Some(path) = line.split_whitespace().nth(5) else {
            continue;
        };
        let file = path.rsplit('/').next().unwrap_or("");
        if file.starts_with("libcudart") && !paths.iter().any(|p| p == path) {
            paths.push(path.to_string());
        }
    }
    paths
}

/// A handle on an already-loaded libcudart, or why there is none.
fn loaded_cudart() -> Result<*mut c_void, String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let mut names = cudart_paths(&maps);
    names.extend(
        [
            "libcudart.so.13",
            "libcudart.so.12",
            "libcudart.so.11.0",
            "libcudart.so",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    for name in names {
        let Ok(c) = CString::new(name) else {
            continue;
        };
        // SAFETY: RTLD_NOLOAD never loads (so runs no initialisers); it only
        // returns a counted handle on a library that is already mapped.
        let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD) };
        if !h.is_null() {
            return Ok(h);
        }
    }
    Err("the CUDA runtime (libcudart) is not loaded in this process".into())
}

fn symbol(h: *mut c_void, name: &str) -> Result<*mut c_void, String> {
    let c = CString::new(name).map_err(|e| e.to_string())?;
    // SAFETY: h is a live handle from dlopen; the name is NUL-terminated.
    let p = unsafe { libc::dlsym(h, c.as_ptr()) };
    if p.is_null() {
        Err(format!("libcudart has no {name}"))
    } else {
        Ok(p)
    }
}

/// (free, total) bytes on CUDA device `index` as libtorch numbers it. Memory
/// held by libtorch's caching allocator counts as used.
pub fn mem_get_info(index: usize) -> Result<(u64, u64), String> {
    let h = loaded_cudart()?;
    let result = (|| {
        let get_info = symbol(h, "cudaMemGetInfo")?;
        let set = symbol(h, "cudaSetDevice")?;
        let get = symbol(h, "cudaGetDevice")?;
        // SAFETY: these are the runtime's own entry points with the C
        // signatures of cuda_runtime_api.h (cudaError_t is a C enum: int).
        let (get_info, set, get): (MemGetInfo, SetDevice, GetDevice) = unsafe {
            (
                std::mem::transmute::<*mut c_void, MemGetInfo>(get_info),
                std::mem::transmute::<*mut c_void, SetDevice>(set),
                std::mem::transmute::<*mut c_void, GetDevice>(get),
            )
        };
        let dev = c_int::try_from(index).map_err(|e| e.to_string())?;
        let mut previous: c_int = 0;
        let (mut free, mut total) = (0usize, 0usize);
        // SAFETY: plain runtime calls with valid out-pointers; the thread's
        // current device is put back afterwards.
        unsafe {
            let had = get(&mut previous) == 0;
            let code = set(dev);
            if code != 0 {
                return Err(format!("cudaSetDevice({index}) failed (cudaError {code})"));
            }
            let code = get_info(&mut free, &mut total);
            if had && previous != dev {
                set(previous);
            }
            if code != 0 {
                return Err(format!(
                    "cudaMemGetInfo on cuda:{index} failed (cudaError {code})"
                ));
            }
        }
        Ok((free as u64, total as u64))
    })();
    // SAFETY: drops the reference RTLD_NOLOAD took; the library stays loaded
    // by libtorch.
    unsafe { libc::dlclose(h) };
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cudart_in_proc_maps() {
        let maps = "\
7f1c00000000-7f1c00100000 r-xp 00000000 08:01 123 /venv/lib/python3.12/site-packages/nvidia/cuda_runtime/lib/libcudart.so.12
7f1c00100000-7f1c00200000 r--p 00100000 08:01 123 /venv/lib/python3.12/site-packages/nvidia/cuda_runtime/lib/libcudart.so.12
7f1c00200000-7f1c00300000 r-xp 00000000 08:01 124 /venv/torch/lib/libtorch_cuda.so
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0 [stack]
7f1c00400000-7f1c00500000 rw-p 00000000 00:00 0
";
        assert_eq!(
            cudart_paths(maps),
            vec!["/venv/lib/python3.12/site-packages/nvidia/cuda_runtime/lib/libcudart.so.12"]
        );
        assert!(cudart_paths("").is_empty());
    }

    #[test]
    fn says_why_without_a_cuda_runtime() {
        // This test process has no CUDA runtime loaded (CPU libtorch): a clear
        // reason, not a crash. With one loaded, cuda:4096 is refused.
        let e = mem_get_info(4096).unwrap_err();
        assert!(
            e.contains("libcudart") || e.contains("cudaSetDevice"),
            "{e}"
        );
    }
}
