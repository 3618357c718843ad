//! Reading a `torch.save` file: a zip of `<top>/data.pkl` and one record per
//! storage, read by libtorch. libtorch must never see an unchecked file (its
//! zip reader crashes on a truncated one, and tch aborts the process on a
//! tensor name that is not UTF-8), so the file is read once, checked here
//! with the `zip` crate (every entry read to its end, CRC verified), and
//! libtorch reads a private copy of exactly the bytes checked, through a
//! callback that cannot panic.

use std::collections::HashSet;
use std::ffi::{c_char, c_void, CStr, CString};
use std::io::{Cursor, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use tch::{Kind, Tensor};
use zip::{CompressionMethod, ZipArchive};

use crate::engine::fast::safetensors_file::non_finite;
use crate::engine::infra::error::{Error, Result};

/// The most a state dict may declare, all entries together. The importers
/// read at most pytorch-AdaIN's `vgg_normalised.pth` (80 MB; a TransformerNet
/// is 6.7 MB): six times that is no model they take. torch.save stores its
/// entries, so their declared size is their size on disk; a file declaring
/// more is refused before anything is inflated (a 4 MB file can declare a
/// 4 GiB deflated entry).
pub const MAX_DECLARED: u64 = 512 << 20;
/// A file's central-directory header without its name, extra field and comment.
const CENTRAL_HEADER: u64 = 46;
/// Where a local header keeps its name's length, and where the name starts.
const LOCAL_NAME_LEN: usize = 26;
const LOCAL_NAME: usize = 30;

fn model_err(path: &Path, reason: impl Into<String>) -> Error {
    Error::Model {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The tensors of the state dict at `path` as f32 on the CPU, after
/// [`check`]; `hint` says what to do with a file libtorch cannot read (an
/// old non-zip format).
pub fn load_state_dict(path: &Path, hint: &str) -> Result<Vec<(String, Tensor)>> {
    let bytes = read_checked(path, hint)?;
    let copy = private_copy(&bytes).map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let raw = loadz(copy.path()).map_err(|e| {
        model_err(
            path,
            format!(
                "not a readable PyTorch state dict ({}); {hint}",
                e.lines().next().unwrap_or("")
            ),
        )
    })?;
    raw.into_iter()
        .map(|(name, t)| {
            let name = String::from_utf8(name)
                .map_err(|_| model_err(path, "a tensor name that is not UTF-8"))?
                .replace('|', ".");
            let t = t.f_to_kind(Kind::Float)?;
            if t.f_isfinite()?.f_all()?.f_int64_value(&[])? == 0 {
                return Err(model_err(path, non_finite(&name)));
            }
            Ok((name, t))
        })
        .collect()
}

/// The bytes of the file at `path` once [`check`] passes them.
fn read_checked(path: &Path, hint: &str) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NotFound(path.to_path_buf()),
        _ => Error::io(path, e),
    })?;
    if !meta.is_file() {
        return Err(Error::NotFound(path.to_path_buf()));
    }
    if meta.len() > MAX_DECLARED {
        return Err(model_err(
            path,
            format!(
                "{} MiB, larger than any state dict this imports ({} MiB at most)",
                meta.len() >> 20,
                MAX_DECLARED >> 20
            ),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if !bytes.starts_with(b"PK\x03\x04") {
        return Err(model_err(
            path,
            format!("not a zip archive as torch.save writes; {hint}"),
        ));
    }
    check(&bytes)
        .map_err(|reason| model_err(path, format!("damaged or not a torch.save file: {reason}")))?;
    Ok(bytes)
}

/// The checked bytes in a temporary file only this process writes.
fn private_copy(bytes: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
    let mut f = tempfile::Builder::new()
        .prefix(".atelier-import-")
        .tempfile()?;
    f.write_all(bytes)?;
    f.flush()?;
    Ok(f)
}

/// libtorch's reader of torch.save zips, with a callback that keeps names as
/// bytes: tch's own unwraps them as UTF-8, a panic inside C++ that aborts.
fn loadz(file: &Path) -> std::result::Result<Vec<(Vec<u8>, Tensor)>, String> {
    extern "C" fn collect(data: *mut c_void, name: *const c_char, t: *mut torch_sys::C_tensor) {
        // SAFETY: `data` is the vector `loadz` passes, alive for the call;
        // `name` is a NUL-terminated string and `t` a tensor libtorch hands
        // over to the callee, which now owns it.
        let v = unsafe { &mut *(data as *mut Vec<(Vec<u8>, Tensor)>) };
        let name = unsafe { CStr::from_ptr(name) }.to_bytes().to_vec();
        v.push((name, unsafe { Tensor::from_ptr(t) }));
    }
    let c_path = CString::new(file.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    let mut v: Vec<(Vec<u8>, Tensor)> = Vec::new();
    // SAFETY: the path is a valid C string and `v` outlives the call; libtorch
    // reports failure through its last-error slot, read (and freed) below.
    let err = unsafe {
        torch_sys::at_loadz_callback(c_path.as_ptr(), &mut v as *mut _ as *mut c_void, collect);
        torch_sys::get_and_reset_last_err()
    };
    if err.is_null() {
        return Ok(v);
    }
    // SAFETY: a non-null last error is a malloc'd C string this side frees.
    let msg = unsafe {
        let s = CStr::from_ptr(err).to_string_lossy().into_owned();
        libc::free(err as *mut c_void);
        s
    };
    Err(msg)
}

/// One zip entry's directory facts.
struct Entry {
    name: String,
    size: u64,
    compressed: u64,
    method: CompressionMethod,
    central: u64,
    central_len: u64,
    local: u64,
    data: u64,
}

/// Why `bytes` is not a torch.save zip fit to hand to libtorch, if it is
/// not: the central directory readable and contiguous up to the end record,
/// every name UTF-8 and the same in its local header, one top folder holding
/// a `data.pkl`, no duplicate, entries stored or deflated, declared sizes
/// within [`MAX_DECLARED`] and within the file, and every entry read to its
/// end with its CRC verified.
pub fn check(bytes: &[u8]) -> std::result::Result<(), String> {
    let mut zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("{e}"))?;
    if zip.offset() != 0 {
        return Err("bytes before the zip archive".into());
    }
    let mut entries = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        entries.push(entry(&mut zip, i, bytes)?);
    }
    layout(&entries)?;
    extents(&entries, bytes)?;
    declared(&entries)?;
    for (i, e) in entries.iter().enumerate() {
        verify(&mut zip, i, e)?;
    }
    Ok(())
}

/// Entry `i`'s facts, without inflating it.
fn entry(
    zip: &mut ZipArchive<Cursor<&[u8]>>,
    i: usize,
    bytes: &[u8],
) -> std::result::Result<Entry, String> {
    let f = zip.by_index_raw(i).map_err(|e| format!("entry {i}: {e}"))?;
    let name = std::str::from_utf8(f.name_raw())
        .map_err(|_| format!("entry {i}: its name is not UTF-8"))?
        .to_string();
    if !f.comment().is_empty() {
        return Err(format!("entry {name}: a comment (torch.save writes none)"));
    }
    let local = f.header_start();
    let local_name = usize::try_from(local)
        .ok()
        .and_then(|h| {
            let len = bytes.get(h + LOCAL_NAME_LEN..h + LOCAL_NAME)?;
            let n = u16::from_le_bytes([len[0], len[1]]) as usize;
            bytes.get(h + LOCAL_NAME..h + LOCAL_NAME + n)
        })
        .unwrap_or_default();
    if local_name != f.name_raw() {
        return Err(format!("entry {name}: its local header names another file"));
    }
    Ok(Entry {
        size: f.size(),
        compressed: f.compressed_size(),
        method: f.compression(),
        central: f.central_header_start(),
        central_len: CENTRAL_HEADER + f.name_raw().len() as u64 + f.extra_data().len() as u64,
        local,
        data: f.data_start(),
        name,
    })
}

/// One top folder holding a `data.pkl`, no name twice.
fn layout(entries: &[Entry]) -> std::result::Result<(), String> {
    let top = entries
        .first()
        .and_then(|e| e.name.split_once('/'))
        .map(|(t, _)| t)
        .filter(|t| !t.is_empty())
        .ok_or("no top folder (torch.save puts every entry in one)")?;
    let mut seen = HashSet::new();
    for e in entries {
        if e.name.split_once('/').map(|(t, _)| t) != Some(top) {
            return Err(format!("entry {} is outside the top folder {top}/", e.name));
        }
        if !seen.insert(e.name.as_str()) {
            return Err(format!("entry {} appears twice", e.name));
        }
    }
    if !seen.contains(format!("{top}/data.pkl").as_str()) {
        return Err(format!("no {top}/data.pkl"));
    }
    Ok(())
}

/// Central headers one after another up to the end record; every entry's
/// data inside the file, before the central directory.
fn extents(entries: &[Entry], bytes: &[u8]) -> std::result::Result<(), String> {
    let mut by_pos: Vec<&Entry> = entries.iter().collect();
    by_pos.sort_by_key(|e| e.central);
    let cd_start = by_pos.first().map_or(0, |e| e.central);
    let mut next = cd_start;
    for e in &by_pos {
        if e.central != next {
            return Err("the central directory has gaps or overlaps".into());
        }
        next = e.central + e.central_len;
        let end = e.data.checked_add(e.compressed);
        if e.local >= cd_start || end.is_none_or(|end| end > cd_start) {
            return Err(format!(
                "entry {} extends past its place in the file (truncated?)",
                e.name
            ));
        }
        if e.method == CompressionMethod::Stored && e.compressed != e.size {
            return Err(format!(
                "entry {} is stored but declares {} bytes in {}",
                e.name, e.size, e.compressed
            ));
        }
    }
    let end_record = usize::try_from(next).ok().and_then(|n| bytes.get(n..n + 4));
    if !matches!(end_record, Some(b"PK\x06\x06") | Some(b"PK\x05\x06")) {
        return Err("the central directory does not end where its end record says".into());
    }
    Ok(())
}

/// Stored or deflated entries declaring [`MAX_DECLARED`] at most in all.
fn declared(entries: &[Entry]) -> std::result::Result<(), String> {
    let mut total = 0u64;
    for e in entries {
        if !matches!(
            e.method,
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            return Err(format!(
                "entry {} uses compression {} (torch.save stores entries)",
                e.name, e.method
            ));
        }
        total = total.saturating_add(e.size);
        if total > MAX_DECLARED {
            return Err(format!(
                "entry {} declares {} MiB uncompressed, over the {} MiB a state dict may hold; refused before inflating",
                e.name,
                e.size >> 20,
                MAX_DECLARED >> 20
            ));
        }
    }
    Ok(())
}

/// Reads entry `i` to its end: the zip crate checks its CRC there; the
/// count must be the declared size.
fn verify(
    zip: &mut ZipArchive<Cursor<&[u8]>>,
    i: usize,
    e: &Entry,
) -> std::result::Result<(), String> {
    let bad = |why: String| format!("entry {}: {why}", e.name);
    let f = zip.by_index(i).map_err(|err| bad(err.to_string()))?;
    let got = std::io::copy(&mut f.take(e.size + 1), &mut std::io::sink())
        .map_err(|err| bad(err.to_string()))?;
    if got != e.size {
        return Err(bad(format!("{got} bytes, its header says {}", e.size)));
    }
    Ok(())
}
