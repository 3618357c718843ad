//! Benchmark (not a test): the apply time of a multi-style (CIN) network
//! against the single-style network of the same width and size, in one
//! process, interleaved pass by pass (single, CIN one style, CIN mix, …) so a
//! change of machine load hits all three alike. Random weights: speed does
//! not depend on them. Prints a JSON line with the medians and the ratios.
//!
//!     cargo run --release --example cin_time -- [SIZE 256] [WIDTH 0.5]
//!         [STYLES 8] [PASSES 7] [THREADS 1]

use std::time::Instant;

use atelier::engine::fast::apply::forward_padded_mix;
use atelier::engine::fast::mix::StyleMix;
use atelier::engine::fast::model_file::{blank_info, Model, StyleSource};
use atelier::engine::fast::transformer::{Arch, Norm};
use tch::{Device, Kind, Tensor};

fn arg<T: std::str::FromStr>(args: &[String], i: usize, default: T) -> T {
    args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let size: i64 = arg(&args, 0, 256);
    let width: f64 = arg(&args, 1, 0.5);
    let styles: usize = arg(&args, 2, 8);
    let passes: usize = arg(&args, 3, 7);
    let threads: i32 = arg(&args, 4, 1);
    tch::set_num_threads(threads);
    tch::manual_seed(16);
    let single = Model::new(
        blank_info(Arch {
            norm: Norm::Instance,
            width,
        }),
        Device::Cpu,
    )?;
    let mut info = blank_info(Arch {
        norm: Norm::Conditional { styles },
        width,
    });
    info.styles = (0..styles)
        .map(|i| StyleSource {
            name: format!("s{i}"),
            path: format!("s{i}.png").into(),
            sha256: String::new(),
        })
        .collect();
    let cin = Model::new(info, Device::Cpu)?;
    let one = StyleMix::single(&cin.info.styles, 1)?;
    let entries: Vec<String> = (0..styles).map(|i| format!("{i}:{}", i + 1)).collect();
    let mix = StyleMix::parse(&entries, &cin.info.styles)?;
    let x = Tensor::f_rand([1, 3, size, size], (Kind::Float, Device::Cpu))? * 255.0;
    let time = |m: &Model, s: Option<&StyleMix>| -> anyhow::Result<f64> {
        let t0 = Instant::now();
        let y = tch::no_grad(|| forward_padded_mix(m, &x, s))?;
        let _ = y.f_sum(Kind::Float)?.f_double_value(&[])?;
        Ok(t0.elapsed().as_secs_f64())
    };
    // Warm-up, untimed.
    time(&single, None)?;
    time(&cin, Some(&one))?;
    time(&cin, Some(&mix))?;
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..passes {
        a.push(time(&single, None)?);
        b.push(time(&cin, Some(&one))?);
        c.push(time(&cin, Some(&mix))?);
    }
    let (a, b, c) = (median(a), median(b), median(c));
    println!(
        "{}",
        serde_json::json!({
            "size": size, "width": width, "styles": styles, "passes": passes,
            "threads": threads,
            "single_s": a, "cin_one_style_s": b, "cin_mix_s": c,
            "ratio_cin_one_style": b / a, "ratio_cin_mix": c / a,
        })
    );
    Ok(())
}
