//! One timed side of bench/fast.py (not a test): prints one JSON line.
//!
//!     fast_time apply MODEL IMAGE PASSES THREADS
//!         loads MODEL and IMAGE, one untimed warm-up pass, then PASSES forward
//!         passes timed one by one (the forward pass only: no process start,
//!         model loading, PNG decoding or writing), wall and CPU seconds each.
//!     fast_time train STYLE DATASET SIZE BATCH ITERATIONS WIDTH THREADS
//!         `atelier train`'s engine function (`fast::train::train`, which the
//!         binary calls) with its defaults, timed per iteration through the
//!         observer; the first iteration is the warm-up and is left out.
//!
//! CPU seconds are this process's user + system time: the machine is shared,
//! so wall time alone says more about the neighbours than about the code.

use std::path::PathBuf;
use std::time::Instant;

use atelier::engine::fast::apply::forward_padded;
use atelier::engine::fast::model_file::Model;
use atelier::engine::fast::train::{train, TrainProgress, TrainSpec};
use atelier::engine::fast::transformer::{Arch, Norm};
use atelier::engine::infra::flow::Flow;
use atelier::engine::infra::image_io::{load_rgb, to_tensor, DEFAULT_PIXEL_LIMIT};
use atelier::engine::infra::sink::Sink;
use atelier::engine::nets::vgg::{Pooling, Vgg19};
use atelier::engine::nets::weights::Weights;
use tch::Device;

fn cpu_seconds() -> f64 {
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes into the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(r.ru_utime) + t(r.ru_stime)
}

/// Wall and CPU clock at the end of each iteration.
struct Marks(Vec<(Instant, f64)>);
impl Sink<TrainProgress> for Marks {
    fn progress(&mut self, _: &TrainProgress) -> atelier::engine::Result<Flow> {
        self.0.push((Instant::now(), cpu_seconds()));
        Ok(Flow::Continue)
    }
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> anyhow::Result<T> {
    args.get(i)
        .ok_or_else(|| anyhow::anyhow!("missing argument {what}"))?
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid {what}: {}", args[i]))
}

fn main() -> anyhow::Result<()> {
    // As `atelier` itself does at start (src/main.rs): freed feature maps stay
    // in the heap, so the timing is that of the binary.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; no thread has started yet.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
    let args: Vec<String> = std::env::args().collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    match args.get(1).map(String::as_str) {
        Some("apply") => {
            let model = PathBuf::from(arg::<String>(&args, 2, "MODEL")?);
            let image = PathBuf::from(arg::<String>(&args, 3, "IMAGE")?);
            let passes: usize = arg(&args, 4, "PASSES")?;
            tch::set_num_threads(arg(&args, 5, "THREADS")?);
            let m = Model::load(&model, Device::Cpu)?;
            let x = to_tensor(&load_rgb(&image, DEFAULT_PIXEL_LIMIT)?, Device::Cpu)?
                .f_mul_scalar(255.0)?;
            let _ = tch::no_grad(|| forward_padded(&m, &x))?;
            let (mut wall, mut cpu) = (Vec::new(), Vec::new());
            for _ in 0..passes {
                let (t0, c0) = (Instant::now(), cpu_seconds());
                let _ = tch::no_grad(|| forward_padded(&m, &x))?;
                wall.push(t0.elapsed().as_secs_f64());
                cpu.push(cpu_seconds() - c0);
            }
            println!("{}", serde_json::json!({"wall": wall, "cpu": cpu}));
        }
        Some("train") => {
            let style = PathBuf::from(arg::<String>(&args, 2, "STYLE")?);
            let dataset = PathBuf::from(arg::<String>(&args, 3, "DATASET")?);
            let size: u32 = arg(&args, 4, "SIZE")?;
            let batch: usize = arg(&args, 5, "BATCH")?;
            let iterations: u64 = arg(&args, 6, "ITERATIONS")?;
            let width: f64 = arg(&args, 7, "WIDTH")?;
            tch::set_num_threads(arg(&args, 8, "THREADS")?);
            let vgg = Vgg19::new(
                &Weights::load(&root.join("weights/vgg19.safetensors"))?,
                Pooling::Max,
                Device::Cpu,
            )?;
            // `atelier train`'s defaults (src/cli/fast.rs), style resized to --size.
            let spec = TrainSpec {
                style,
                dataset,
                size,
                style_size: size,
                batch,
                iterations,
                content_weight: 1.0,
                style_weight: 0.5,
                tv_weight: 0.0,
                lr: 1e-3,
                arch: Arch {
                    norm: Norm::Instance,
                    width,
                },
                seed: 1,
                checkpoint_every: iterations + 1,
                preview_every: 0,
                preview: None,
                more_styles: Vec::new(),
                extend: None,
                style_names: Vec::new(),
            };
            let ck = tempfile::tempdir()?;
            let mut marks = Marks(Vec::new());
            train(&spec, &vgg, &ck.path().join("ck"), None, &mut marks)?;
            let (wall, cpu): (Vec<f64>, Vec<f64>) = marks
                .0
                .windows(2)
                .map(|w| ((w[1].0 - w[0].0).as_secs_f64(), w[1].1 - w[0].1))
                .unzip();
            println!("{}", serde_json::json!({"wall": wall, "cpu": cpu}));
        }
        _ => anyhow::bail!(
            "usage: fast_time apply MODEL IMAGE PASSES THREADS | \
             train STYLE DATASET SIZE BATCH ITERATIONS WIDTH THREADS"
        ),
    }
    Ok(())
}
