//! Fast-style timings on this machine (not a test): apply seconds per image at
//! 256/512 px and training images/s at 128/192/256 px, batch 2/4, width 0.5/1.
//! Random weights (the time does not depend on them).
//!
//!     cargo run --release --example fast_bench [-- apply|train]

use std::time::Instant;

use atelier::engine::fast::apply::forward_padded;
use atelier::engine::fast::model_file::{blank_info, Model};
use atelier::engine::fast::train::{train, TrainProgress, TrainSpec};
use atelier::engine::fast::transformer::{Arch, Norm};
use atelier::engine::infra::flow::Flow;
use atelier::engine::infra::sink::Sink;
use atelier::engine::nets::vgg::{Pooling, Vgg19};
use atelier::engine::nets::weights::Weights;
use tch::{Device, Kind, Tensor};

/// CPU seconds of this process (user + system): the machine is shared, so
/// wall time alone says more about the neighbours than about the code.
fn cpu_seconds() -> f64 {
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes into the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(r.ru_utime) + t(r.ru_stime)
}

struct Last(f64);
impl Sink<TrainProgress> for Last {
    fn progress(&mut self, p: &TrainProgress) -> atelier::engine::Result<Flow> {
        self.0 = p.images_per_second;
        Ok(Flow::Continue)
    }
}

fn main() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let what = std::env::args().nth(1).unwrap_or_default();
    if what.is_empty() || what == "apply" {
        for width in [0.5, 1.0] {
            let m = Model::new(
                blank_info(Arch {
                    norm: Norm::Instance,
                    width,
                }),
                Device::Cpu,
            )
            .unwrap();
            for size in [256i64, 512] {
                let x = Tensor::rand([1, 3, size, size], (Kind::Float, Device::Cpu)) * 255.0;
                let _ = tch::no_grad(|| forward_padded(&m, &x).unwrap());
                let (t0, c0) = (Instant::now(), cpu_seconds());
                for _ in 0..3 {
                    let _ = tch::no_grad(|| forward_padded(&m, &x).unwrap());
                }
                println!(
                    "apply width {width} {size} px: wall {:.3} s/image, cpu {:.3} s/image",
                    t0.elapsed().as_secs_f64() / 3.0,
                    (cpu_seconds() - c0) / 3.0
                );
            }
        }
    }
    if what.is_empty() || what == "train" {
        let dir = tempfile::tempdir().unwrap();
        for name in ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"] {
            let img = image::open(root.join("contents").join(name))
                .unwrap()
                .to_rgb8();
            atelier::engine::infra::image_io::resize_longer_side(&img, 320)
                .save(dir.path().join(format!("{name}.png")))
                .unwrap();
        }
        let vgg = Vgg19::new(
            &Weights::load(&root.join("weights/vgg19.safetensors")).unwrap(),
            Pooling::Max,
            Device::Cpu,
        )
        .unwrap();
        let only: Vec<String> = std::env::args().skip(2).collect();
        for width in [0.5, 1.0] {
            for size in [128u32, 192, 256] {
                for batch in [2usize, 4] {
                    let tag = format!("{width}/{size}/{batch}");
                    if !only.is_empty() && !only.contains(&tag) {
                        continue;
                    }
                    let spec = TrainSpec {
                        style: root.join("styles/36029.jpg"),
                        dataset: dir.path().to_path_buf(),
                        size,
                        style_size: size,
                        batch,
                        iterations: 3,
                        content_weight: 1.0,
                        style_weight: 30.0,
                        tv_weight: 0.0,
                        lr: 1e-3,
                        arch: Arch {
                            norm: Norm::Instance,
                            width,
                        },
                        seed: 1,
                        checkpoint_every: 1000,
                        preview_every: 0,
                        preview: None,
                        more_styles: Vec::new(),
                        extend: None,
                        style_names: Vec::new(),
                    };
                    // The first iteration warms up; images/s is over all three.
                    let mut obs = Last(0.0);
                    let c0 = cpu_seconds();
                    train(&spec, &vgg, &dir.path().join("ck"), None, &mut obs).unwrap();
                    let cpu = cpu_seconds() - c0;
                    println!(
                        "train width {width} {size} px batch {batch}: wall {:.2} images/s, {:.2} images per cpu-second",
                        obs.0,
                        (3 * batch) as f64 / cpu
                    );
                }
            }
        }
    }
}
