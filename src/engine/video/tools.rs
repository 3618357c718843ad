//! The ffmpeg programs: found on PATH (or in `ATELIER_FFMPEG_DIR`, for a
//! build of one's own), run with their errors cut to one line.

use std::path::PathBuf;
use std::process::Command;

use crate::engine::Error;

/// How to install ffmpeg, for the one line a missing one gets.
const INSTALL: &str =
    "install it (Debian/Ubuntu: apt-get install ffmpeg; macOS: brew install ffmpeg) or run scripts/setup.sh";

/// `ffmpeg` or `ffprobe`, ready to run; one clear line when it is missing.
pub fn command(tool: &'static str) -> Result<Command, Error> {
    let path = find(tool).ok_or_else(|| {
        Error::Library(format!(
            "{tool} is not installed (not found on PATH): video needs ffmpeg; {INSTALL}"
        ))
    })?;
    let mut c = Command::new(path);
    c.arg("-hide_banner").args(["-v", "error"]);
    Ok(c)
}

fn find(tool: &str) -> Option<PathBuf> {
    let dirs = std::env::var_os("ATELIER_FFMPEG_DIR")
        .into_iter()
        .chain(std::env::var_os("PATH"))
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    dirs.map(|d| d.join(tool)).find(|p| p.is_file())
}

/// Lines ffmpeg ends with after the error that matters.
const GENERIC: [&str; 3] = [
    "Error marking filters as finished",
    "Conversion failed!",
    "Cannot determine format of input stream",
];

/// The last telling line a tool wrote on stderr (its error), or `fallback`.
pub fn last_line(stderr: &[u8], fallback: &str) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !GENERIC.iter().any(|g| l.starts_with(g)))
        .map(str::to_string)
        .unwrap_or_else(|| fallback.to_string())
}
