//! Benchmark: the L-BFGS direction with a full history, batched ([m, n] ring
//! buffers, compact form: engine::optim) against the former per-pair two-loop
//! recursion (~9 vector kernels per stored pair, kept here only), on the same
//! objective, in the same process, alternating rounds so load hits both alike.
//!
//! The objective is a cheap ill-conditioned quadratic (0.5·Σ aᵢxᵢ², aᵢ from 1 to
//! 1e4) on n = 3·size² floats, so the time per iteration is the optimiser's
//! own: history update, direction, step. Each run is one `step` call of
//! history + 5 + iters iterations; the median is over the last `iters`
//! iteration intervals (history full). Prints one line per size × history and,
//! with --json PATH, writes the figures.
//!
//! usage: cargo run --release --example lbfgs_history -- [--sizes 256,512]
//!        [--history 10,100] [--iters 15] [--rounds 2] [--threads 1]
//!        [--device cpu|cuda|cuda:N] [--json PATH]

use std::collections::VecDeque;
use std::time::Instant;

use atelier::engine::infra::device::{device_name, parse_device};
use atelier::engine::optim::{in_place, Lbfgs, LbfgsConfig, Objective};
use atelier::engine::Result;
use tch::{Device, Kind, Tensor};

/// The former implementation (before the batched history), plain steps only:
/// PyTorch's two-loop over VecDeques of per-pair tensors.
struct OldLbfgs {
    c: LbfgsConfig,
    old_dirs: VecDeque<Tensor>,
    old_stps: VecDeque<Tensor>,
    ro: VecDeque<Tensor>,
    h_diag: Option<Tensor>,
    d: Option<Tensor>,
    prev_flat_grad: Option<Tensor>,
    t: f64,
    n_iter: usize,
}

fn abs_max(t: &Tensor) -> Result<f64> {
    Ok(t.f_abs()?.f_max()?.f_double_value(&[])?)
}

impl OldLbfgs {
    fn new(c: LbfgsConfig) -> Self {
        Self {
            c,
            old_dirs: VecDeque::new(),
            old_stps: VecDeque::new(),
            ro: VecDeque::new(),
            h_diag: None,
            d: None,
            prev_flat_grad: None,
            t: 0.0,
            n_iter: 0,
        }
    }

    fn step(&mut self, x: &Tensor, f: &mut dyn Objective) -> Result<()> {
        let c = self.c.clone();
        let xf = x.f_view([-1])?;
        let (mut loss, g) = f.evaluate(x)?;
        let mut flat_grad = g.f_view([-1])?;
        if abs_max(&flat_grad)? <= c.tolerance_grad {
            return Ok(());
        }
        let mut n_iter = 0;
        while n_iter < c.max_iter {
            n_iter += 1;
            self.n_iter += 1;
            let d = match (&self.d, &self.prev_flat_grad) {
                (Some(prev_d), Some(prev_g)) if self.n_iter > 1 => {
                    let y = flat_grad.f_sub(prev_g)?;
                    let s = prev_d.f_mul_scalar(self.t)?;
                    let ys = y.f_dot(&s)?;
                    if ys.f_double_value(&[])? > 1e-10 {
                        if self.old_dirs.len() == c.history_size {
                            self.old_dirs.pop_front();
                            self.old_stps.pop_front();
                            self.ro.pop_front();
                        }
                        self.h_diag = Some(ys.f_div(&y.f_dot(&y)?)?);
                        self.ro.push_back(ys.f_reciprocal()?);
                        self.old_dirs.push_back(y);
                        self.old_stps.push_back(s);
                    }
                    let n = self.old_dirs.len();
                    let mut al = Vec::with_capacity(n);
                    let mut q = flat_grad.f_neg()?;
                    for i in (0..n).rev() {
                        let a = self.old_stps[i].f_dot(&q)?.f_mul(&self.ro[i])?;
                        q = q.f_sub(&self.old_dirs[i].f_mul(&a)?)?;
                        al.push(a);
                    }
                    al.reverse();
                    let mut r = match &self.h_diag {
                        Some(h) => q.f_mul(h)?,
                        None => q,
                    };
                    for (i, a) in al.iter().enumerate() {
                        let be = self.old_dirs[i].f_dot(&r)?.f_mul(&self.ro[i])?;
                        r = r.f_add(&self.old_stps[i].f_mul(&a.f_sub(&be)?)?)?;
                    }
                    r
                }
                _ => flat_grad.f_neg()?,
            };
            self.prev_flat_grad = Some(flat_grad.f_detach_copy()?);
            let prev_loss = loss;
            let t = if self.n_iter == 1 {
                let l1 = flat_grad
                    .f_abs()?
                    .f_sum(Kind::Double)?
                    .f_double_value(&[])?;
                (1.0f64).min(1.0 / l1) * c.lr
            } else {
                c.lr
            };
            let gtd = flat_grad.f_dot(&d)?.f_double_value(&[])?;
            if gtd > -c.tolerance_change {
                self.d = Some(d);
                self.t = t;
                break;
            }
            in_place(|| xf.shallow_clone().f_add_(&d.f_mul_scalar(t)?))?;
            let mut opt_cond = false;
            if n_iter != c.max_iter {
                let (l, g) = f.evaluate(x)?;
                loss = l;
                flat_grad = g.f_view([-1])?;
                opt_cond = abs_max(&flat_grad)? <= c.tolerance_grad;
            }
            let step_max = abs_max(&d)? * t.abs();
            self.d = Some(d);
            self.t = t;
            if n_iter == c.max_iter
                || opt_cond
                || step_max <= c.tolerance_change
                || (loss - prev_loss).abs() < c.tolerance_change
            {
                break;
            }
        }
        Ok(())
    }
}

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn list(s: &str) -> Vec<usize> {
    s.split(',').filter_map(|v| v.trim().parse().ok()).collect()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One run; returns the last `iters` iteration times (s) and the pairs held.
fn run(old: bool, n: i64, m: usize, iters: usize, device: Device) -> Result<(Vec<f64>, usize)> {
    let opts = (Kind::Float, device);
    let a = Tensor::f_logspace(0.0, 4.0, n, 10.0, opts)?;
    let x = Tensor::f_full([n], 100.0, opts)?;
    let mut stamps: Vec<Instant> = Vec::new();
    let mut f = |x: &Tensor| -> Result<(f64, Tensor)> {
        let g = a.f_mul(x)?;
        let loss = g.f_dot(x)?.f_double_value(&[])? * 0.5;
        stamps.push(Instant::now());
        Ok((loss, g))
    };
    let c = LbfgsConfig {
        lr: 1.0,
        max_iter: m + 5 + iters,
        max_eval: Some(usize::MAX),
        tolerance_grad: -1.0,
        tolerance_change: -1.0,
        history_size: m,
        strong_wolfe: false,
    };
    let held = if old {
        let mut o = OldLbfgs::new(c);
        o.step(&x, &mut f)?;
        o.old_dirs.len()
    } else {
        let mut o = Lbfgs::new(c);
        o.step(&x, &mut f)?;
        o.history_len()
    };
    let times: Vec<f64> = stamps
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    let tail = times[times.len().saturating_sub(iters)..].to_vec();
    Ok((tail, held))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let sizes = list(&arg(&args, "--sizes", "256,512"));
    let histories = list(&arg(&args, "--history", "10,100"));
    let iters: usize = arg(&args, "--iters", "15").parse().unwrap_or(15);
    let rounds: usize = arg(&args, "--rounds", "2").parse().unwrap_or(2);
    let device = parse_device(&arg(&args, "--device", "cpu"))?;
    // One thread by default: on a loaded CPU, OpenMP's parallel regions stall
    // on descheduled threads (a 0.05 ms vector op took 24 ms at 2 threads
    // under load), which swamps the comparison.
    if let Ok(t) = arg(&args, "--threads", "1").parse::<i32>() {
        if t > 0 {
            tch::set_num_threads(t);
        }
    }
    let json = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1));
    println!(
        "L-BFGS iteration time, history full, on {} ({} threads): old = per-pair two-loop, new = batched",
        device_name(device),
        tch::get_num_threads()
    );
    println!("size   n        history  old ms/iter  new ms/iter  new/old  pairs held");
    let mut rows = Vec::new();
    for &size in &sizes {
        let n = 3 * (size as i64) * (size as i64);
        for &m in &histories {
            let (mut old_t, mut new_t) = (Vec::new(), Vec::new());
            let mut held = (0, 0);
            for _ in 0..rounds {
                let (t, h) = run(true, n, m, iters, device)?;
                old_t.extend(t);
                held.0 = h;
                let (t, h) = run(false, n, m, iters, device)?;
                new_t.extend(t);
                held.1 = h;
            }
            let (o, nw) = (median(&mut old_t) * 1e3, median(&mut new_t) * 1e3);
            println!(
                "{size:<6} {n:<8} {m:<8} {o:>11.2} {nw:>12.2} {:>8.3}  {}/{}",
                nw / o,
                held.0,
                held.1
            );
            rows.push(format!(
                "{{\"size\": {size}, \"n\": {n}, \"history\": {m}, \"old_ms\": {o:.4}, \"new_ms\": {nw:.4}, \"ratio\": {:.4}, \"held_old\": {}, \"held_new\": {}}}",
                nw / o,
                held.0,
                held.1
            ));
        }
    }
    if let Some(path) = json {
        let text = format!(
            "{{\"device\": \"{}\", \"threads\": {}, \"iters\": {iters}, \"rounds\": {rounds}, \"rows\": [{}]}}\n",
            device_name(device),
            tch::get_num_threads(),
            rows.join(", ")
        );
        std::fs::write(path, text).map_err(|e| atelier::engine::Error::Write {
            path: path.into(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}
