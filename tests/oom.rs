//! Allocation failures inside a run are a clean error, never a panic: a real
//! libtorch allocation that cannot succeed (more bytes than the address space,
//! so it fails at once on any machine, with or without overcommit) inside
//! L-BFGS's history and inside the objective under the guard.

use atelier::engine::gatys::spec::RunSpec;
use atelier::engine::infra::error::{Error, ErrorClass};
use atelier::engine::infra::flow::Flow;
use atelier::engine::infra::memory::explain_oom;
use atelier::engine::infra::sink::Sink;
use atelier::engine::optim::{minimize, AdamConfig, GuardConfig, GuardEvent, LbfgsConfig, Method};
use atelier::engine::Result;
use tch::{Device, Kind, Tensor};

/// 2^47 floats: 512 TiB, beyond any address space.
const HUGE: i64 = 1 << 47;

struct Quiet;
impl Sink<GuardEvent> for Quiet {
    fn progress(&mut self, _: &GuardEvent) -> Result<Flow> {
        Ok(Flow::Continue)
    }
}

/// f(x) = Σ (x − 1)²; from `fail_at` on, each evaluation first tries to
/// allocate `HUGE` floats, as an activation too large for the device would.
fn objective(fail_at: Option<usize>) -> impl FnMut(&Tensor) -> Result<(f64, Tensor)> {
    let mut evals = 0;
    move |x: &Tensor| {
        evals += 1;
        if fail_at.is_some_and(|k| evals >= k) {
            let _big = Tensor::f_zeros([HUGE], (Kind::Float, Device::Cpu))?;
        }
        let xg = x.detach().requires_grad_(true);
        let loss = (&xg - 1.0).square().sum(Kind::Double);
        loss.backward();
        Ok((loss.double_value(&[]), xg.grad()))
    }
}

fn assert_clean_oom(e: Error) {
    assert_eq!(e.class(), ErrorClass::OutOfMemory, "{e}");
    let spec = RunSpec::default();
    match explain_oom(e, &spec, Device::Cpu) {
        Error::Memory(m) => assert!(m.contains("cpu ran out of memory"), "{m}"),
        other => panic!("not a memory error: {other}"),
    }
}

/// After a failed run, the same process runs the next one to the end.
fn next_run_works() {
    let x = Tensor::zeros([4], (Kind::Float, Device::Cpu));
    let mut f = objective(None);
    let out = minimize(
        &x,
        Method::Lbfgs(LbfgsConfig {
            max_iter: 10,
            ..LbfgsConfig::default()
        }),
        &GuardConfig::default(),
        &mut f,
        &mut Quiet,
    )
    .unwrap();
    assert!(out.best_loss < 1e-6, "{}", out.best_loss);
}

#[test]
fn lbfgs_history_that_cannot_be_allocated_is_a_memory_error() {
    // The history is sized for min(history, iterations): 2^47 rows of 4 floats.
    let x = Tensor::zeros([4], (Kind::Float, Device::Cpu));
    let mut f = objective(None);
    let config = LbfgsConfig {
        max_iter: 1 << 47,
        history_size: 1 << 47,
        ..LbfgsConfig::default()
    };
    let r = minimize(
        &x,
        Method::Lbfgs(config),
        &GuardConfig::default(),
        &mut f,
        &mut Quiet,
    );
    let Err(e) = r else {
        panic!("the history allocation succeeded")
    };
    assert!(e.to_string().to_lowercase().contains("allocat"), "{e}");
    assert_clean_oom(e);
    next_run_works();
}

#[test]
fn allocation_failure_in_an_evaluation_under_the_guard_is_a_memory_error() {
    let methods = [
        Method::Lbfgs(LbfgsConfig {
            max_iter: 20,
            ..LbfgsConfig::default()
        }),
        Method::Lbfgs(LbfgsConfig {
            max_iter: 20,
            strong_wolfe: true,
            ..LbfgsConfig::default()
        }),
        Method::Adam {
            config: AdamConfig {
                lr: 0.1,
                ..AdamConfig::default()
            },
            steps: 20,
        },
    ];
    for method in methods {
        // Fails at the third evaluation, once the guard holds a best iterate.
        let x = Tensor::full([4], 3.0, (Kind::Float, Device::Cpu));
        let mut f = objective(Some(3));
        let r = minimize(
            &x,
            method.clone(),
            &GuardConfig::default(),
            &mut f,
            &mut Quiet,
        );
        match r {
            Err(e) => assert_clean_oom(e),
            Ok(o) => panic!("{method:?}: ended ({:?}) despite the failure", o.stop),
        }
        assert!(
            x.isfinite().all().int64_value(&[]) == 1,
            "{method:?}: x left broken"
        );
    }
    next_run_works();
}

#[test]
fn a_device_fault_passes_through_as_itself() {
    // A sticky CUDA error (faked: this machine has no GPU) is not a memory
    // error: the worker must see it as a device fault.
    let x = Tensor::zeros([4], (Kind::Float, Device::Cpu));
    let mut calls = 0;
    let mut f = |x: &Tensor| -> Result<(f64, Tensor)> {
        calls += 1;
        if calls == 2 {
            return Err(Error::Torch(
                "CUDA error: an illegal memory access was encountered".into(),
            ));
        }
        Ok((x.sum(Kind::Double).double_value(&[]), x.ones_like()))
    };
    let r = minimize(
        &x,
        Method::Lbfgs(LbfgsConfig::default()),
        &GuardConfig::default(),
        &mut f,
        &mut Quiet,
    );
    let e = r.err().expect("the fault is an error");
    assert_eq!(e.class(), ErrorClass::DeviceFault);
    let e = explain_oom(e, &RunSpec::default(), Device::Cpu);
    assert!(
        matches!(e, Error::Torch(ref m) if m.contains("illegal memory access")),
        "{e}"
    );
}
