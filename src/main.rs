use clap::Parser;

fn main() {
    // Die quietly on a closed pipe (`atelier runs ls | head`), as Unix tools do,
    // instead of panicking in println!.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    keep_freed_memory();
    let cli = atelier::cli::Cli::parse();
    let code = match atelier::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

/// Every evaluation frees and reallocates the same feature maps (megabytes
/// each). glibc hands blocks above its mmap threshold back to the kernel on
/// free, so each evaluation page-faults them in again, zero-filled. Raising the
/// threshold to its maximum (32 MiB) and the trim threshold keeps them in the
/// heap for reuse; bench/run.py --baseline-bin shows the effect.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}
