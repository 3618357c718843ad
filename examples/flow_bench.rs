//! atelier's optical flow on bench/flow.py's cases (not a test): prints, per
//! preset and size, the mean end-point error per motion and the median
//! milliseconds per frame (wall and CPU), in the same form as `bench/flow.py opencv`.
//!
//!     flow_bench DIR [THREADS]     (DIR from `bench/flow.py cases DIR`; 1 thread by default)

use std::collections::BTreeMap;
use std::time::Instant;

use atelier::engine::infra::image_io::{load_rgb, to_tensor, DEFAULT_PIXEL_LIMIT};
use atelier::engine::motion::{end_point_error, estimate, FlowOptions};
use tch::{Device, Tensor};

/// This process's user + system seconds: the machine is shared, so wall
/// time alone says more about the neighbours than about the code.
fn cpu_seconds() -> f64 {
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes into the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(r.ru_utime) + t(r.ru_stime)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let Some(dir) = args.get(1) else {
        anyhow::bail!("usage: flow_bench DIR [THREADS]");
    };
    tch::set_num_threads(args.get(2).map_or(Ok(1), |t| t.parse())?);
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let load = |f: &str| to_tensor(&load_rgb(&p.join(f), DEFAULT_PIXEL_LIMIT)?, Device::Cpu);
        let truth = Tensor::read_npy(p.join("flow.npy"))?;
        cases.push((name, load("a.png")?, load("b.png")?, truth));
    }
    cases.sort_by(|x, y| x.0.cmp(&y.0));
    let light = |o: FlowOptions| FlowOptions {
        lighting: true,
        ..o
    };
    let presets = [
        ("atelier-fast", FlowOptions::fast()),
        ("atelier-medium", FlowOptions::medium()),
        ("atelier-fast+light", light(FlowOptions::fast())),
        ("atelier-medium+light", light(FlowOptions::medium())),
    ];
    if let Some((_, a, b, _)) = cases.first() {
        let _ = estimate(a, b, &presets[0].1)?; // warm-up
    }
    for (method, opts) in &presets {
        for size in [256, 512] {
            // motion -> EPEs; all times at this size.
            let mut per: BTreeMap<String, Vec<f64>> = BTreeMap::new();
            let (mut times, mut cpu) = (Vec::new(), Vec::new());
            for (name, a, b, truth) in cases.iter().filter(|c| c.0.ends_with(&format!("_{size}"))) {
                let (t, c) = (Instant::now(), cpu_seconds());
                let est = tch::no_grad(|| estimate(a, b, opts))?;
                times.push(t.elapsed().as_secs_f64());
                cpu.push(cpu_seconds() - c);
                let motion = name.split('_').next().unwrap_or_default();
                let motion = motion.trim_end_matches(|c: char| c.is_ascii_digit());
                per.entry(motion.to_string())
                    .or_default()
                    .push(end_point_error(&est, truth)?);
            }
            if times.is_empty() {
                continue;
            }
            times.sort_by(f64::total_cmp);
            cpu.sort_by(f64::total_cmp);
            let means: Vec<(String, f64)> = per
                .into_iter()
                .map(|(k, v)| (k, v.iter().sum::<f64>() / v.len() as f64))
                .collect();
            let mean = means.iter().map(|m| m.1).sum::<f64>() / means.len() as f64;
            let cells: Vec<String> = means.iter().map(|(k, e)| format!("{k}={e:.2}")).collect();
            println!(
                "{method:18} {size:4} mean={mean:.2} {} ms={:.0} cpu_ms={:.0}",
                cells.join(" "),
                1000.0 * times[times.len() / 2],
                1000.0 * cpu[cpu.len() / 2]
            );
        }
    }
    Ok(())
}
