//! Runs that never end worse than they were: the guarded minimiser keeps the best
//! iterate, rolls back on divergence, and can stop on a plateau.
//!
//! L-BFGS without a line search (neural-style's setting) can overshoot: its
//! secant step grows without bound where the objective flattens, and a single
//! NaN ruins a long run. The guard watches every evaluation:
//! - **best iterate:** the lowest loss seen, with the point that produced it, kept
//!   on the device (an in-place copy on improvement, no host transfer);
//! - **divergence:** a non-finite loss or gradient, or a loss more than
//!   `divergence_factor` times the best, rolls back to the best point, clears the
//!   L-BFGS history and continues with a strong-Wolfe line search (or, when that is
//!   already on, half the step size); after `max_rollbacks` the run ends;
//! - **plateau:** with `plateau`, the run ends once the best loss improved by
//!   less than `rel` (relative) over the last `window` evaluations.

use tch::Tensor;

use super::{Adam, AdamConfig, Lbfgs, LbfgsConfig, Objective};
use crate::engine::infra::error::{Error, Result};
use crate::engine::infra::sink::Sink;

/// Why a guarded run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StopReason {
    /// The step budget was used up.
    Steps,
    /// The best loss stopped improving (plateau stop).
    Plateau,
    /// Divergence kept coming back after rollbacks.
    Diverged,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopReason::Steps => "steps done",
            StopReason::Plateau => "plateau",
            StopReason::Diverged => "diverged",
        })
    }
}

/// Plateau stop: end when the best loss improved by less than `rel` of itself
/// over the last `window` evaluations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plateau {
    pub rel: f64,
    pub window: usize,
}

#[derive(Clone, Debug)]
pub struct GuardConfig {
    /// A loss above this multiple of the best counts as divergence (∞: off).
    pub divergence_factor: f64,
    pub max_rollbacks: usize,
    pub plateau: Option<Plateau>,
}

impl Default for GuardConfig {
    fn default() -> Self {
        Self {
            divergence_factor: 10.0,
            max_rollbacks: 5,
            plateau: None,
        }
    }
}

/// The optimiser and its whole budget.
#[derive(Clone, Debug)]
pub enum Method {
    /// `max_iter` is the total number of iterations.
    Lbfgs(LbfgsConfig),
    Adam {
        config: AdamConfig,
        steps: usize,
    },
}

/// What the watcher is told after each accepted evaluation.
#[derive(Clone, Copy, Debug)]
pub struct Status {
    pub eval: usize,
    pub loss: f64,
    pub best_loss: f64,
    pub best_eval: usize,
    pub rollbacks: usize,
}

/// A rollback to the best iterate.
#[derive(Clone, Debug)]
pub struct Rollback {
    /// The evaluation that diverged.
    pub eval: usize,
    pub loss: f64,
    /// The evaluation rolled back to.
    pub to_eval: usize,
    pub reason: String,
    /// Rollbacks so far, this one included.
    pub count: usize,
    /// What changes for the rest of the run.
    pub remedy: String,
}

/// What a guarded run reports to its [`Sink`]: each accepted evaluation and
/// each rollback. A stop asked at either ends the run with
/// [`Error::Cancelled`].
#[derive(Clone, Debug)]
pub enum GuardEvent {
    Eval(Status),
    Rollback(Rollback),
}

pub struct GuardOutcome {
    /// The best point seen (on the objective's device); `x` itself when no
    /// evaluation succeeded.
    pub best: Tensor,
    pub best_loss: f64,
    pub best_eval: usize,
    pub evals: usize,
    pub rollbacks: usize,
    pub stop: StopReason,
}

enum Interrupt {
    Diverged { loss: f64, reason: String },
    Plateau,
}

/// The objective as the optimiser sees it: every evaluation is checked and
/// recorded before the optimiser gets its value.
struct Guarded<'a> {
    f: &'a mut dyn Objective,
    sink: &'a mut dyn Sink<GuardEvent>,
    config: &'a GuardConfig,
    evals: usize,
    best_loss: f64,
    best_eval: usize,
    best_x: Option<Tensor>,
    /// Best loss after each evaluation, for the plateau test.
    bests: Vec<f64>,
    rollbacks: usize,
    interrupt: Option<Interrupt>,
}

impl Guarded<'_> {
    fn divergence(&self, loss: f64, grad: &Tensor) -> Result<Option<String>> {
        if !loss.is_finite() {
            return Ok(Some(format!("loss is {loss}")));
        }
        if grad.f_isfinite()?.f_all()?.f_int64_value(&[])? == 0 {
            return Ok(Some("gradient is not finite".into()));
        }
        let f = self.config.divergence_factor;
        if self.best_x.is_some()
            && f.is_finite()
            && loss - self.best_loss > (f - 1.0) * self.best_loss.abs()
        {
            return Ok(Some(format!(
                "loss {loss:.4e} jumped above {f}× the best {:.4e}",
                self.best_loss
            )));
        }
        Ok(None)
    }
}

impl Objective for Guarded<'_> {
    fn evaluate(&mut self, x: &Tensor) -> Result<(f64, Tensor)> {
        let (loss, grad) = self.f.evaluate(x)?;
        self.evals += 1;
        if let Some(reason) = self.divergence(loss, &grad)? {
            self.interrupt = Some(Interrupt::Diverged { loss, reason });
            return Err(Error::Interrupted);
        }
        if loss < self.best_loss {
            self.best_loss = loss;
            self.best_eval = self.evals;
            match &self.best_x {
                Some(b) => tch::no_grad(|| b.shallow_clone().f_copy_(x))?,
                None => self.best_x = Some(x.f_detach_copy()?),
            }
        }
        self.bests.push(self.best_loss);
        let status = Status {
            eval: self.evals,
            loss,
            best_loss: self.best_loss,
            best_eval: self.best_eval,
            rollbacks: self.rollbacks,
        };
        self.sink.progress(&GuardEvent::Eval(status))?.or_cancel()?;
        if let Some(p) = self.config.plateau {
            let n = self.bests.len();
            if n > p.window {
                let before = self.bests[n - 1 - p.window];
                if before - self.best_loss <= p.rel * before.abs() {
                    self.interrupt = Some(Interrupt::Plateau);
                    return Err(Error::Interrupted);
                }
            }
        }
        Ok((loss, grad))
    }
}

/// Minimises `f` from `x` (updated in place) with `method`, guarded as described
/// in the module docs. The result's `best` is the point to keep.
pub fn minimize(
    x: &Tensor,
    method: Method,
    config: &GuardConfig,
    f: &mut dyn Objective,
    sink: &mut dyn Sink<GuardEvent>,
) -> Result<GuardOutcome> {
    let mut g = Guarded {
        f,
        sink,
        config,
        evals: 0,
        best_loss: f64::INFINITY,
        best_eval: 0,
        best_x: None,
        bests: Vec::new(),
        rollbacks: 0,
        interrupt: None,
    };
    let stop = match method {
        Method::Lbfgs(c) => run_lbfgs(x, c, &mut g)?,
        Method::Adam { config, steps } => run_adam(x, config, steps, &mut g)?,
    };
    Ok(GuardOutcome {
        best: match g.best_x {
            Some(b) => b,
            None => x.f_detach_copy()?,
        },
        best_loss: g.best_loss,
        best_eval: g.best_eval,
        evals: g.evals,
        rollbacks: g.rollbacks,
        stop,
    })
}

/// What an interrupted optimiser run means for the loop around it.
enum Next {
    Stop(StopReason),
    /// Rolled back: carry on with this remedy.
    Resume,
}

fn handle(result: Result<()>, x: &Tensor, g: &mut Guarded<'_>, remedy: &str) -> Result<Next> {
    match result {
        Ok(()) => Ok(Next::Stop(StopReason::Steps)),
        Err(Error::Interrupted) => match g.interrupt.take() {
            Some(Interrupt::Plateau) => Ok(Next::Stop(StopReason::Plateau)),
            Some(Interrupt::Diverged { loss, reason }) => {
                let Some(best) = &g.best_x else {
                    return Err(Error::Diverged(format!(
                        "at the first evaluation: {reason}"
                    )));
                };
                if g.rollbacks >= g.config.max_rollbacks {
                    return Ok(Next::Stop(StopReason::Diverged));
                }
                g.rollbacks += 1;
                tch::no_grad(|| x.shallow_clone().f_copy_(best))?;
                let rollback = Rollback {
                    eval: g.evals,
                    loss,
                    to_eval: g.best_eval,
                    reason,
                    count: g.rollbacks,
                    remedy: remedy.to_string(),
                };
                g.sink
                    .progress(&GuardEvent::Rollback(rollback))?
                    .or_cancel()?;
                Ok(Next::Resume)
            }
            None => Err(Error::Interrupted),
        },
        Err(e) => Err(e),
    }
}

fn run_lbfgs(x: &Tensor, mut c: LbfgsConfig, g: &mut Guarded<'_>) -> Result<StopReason> {
    let total = c.max_iter;
    let mut done = 0;
    loop {
        c.max_iter = total - done;
        let mut opt = Lbfgs::new(c.clone());
        let result = opt.step(x, g).map(drop);
        done += opt.iterations();
        let remedy = if c.strong_wolfe {
            format!("step size halved to {}", c.lr / 2.0)
        } else {
            "strong-Wolfe line search on".to_string()
        };
        match handle(result, x, g, &remedy)? {
            Next::Stop(r) => return Ok(r),
            Next::Resume if done >= total => return Ok(StopReason::Steps),
            Next::Resume => {
                if c.strong_wolfe {
                    c.lr /= 2.0;
                } else {
                    c.strong_wolfe = true;
                }
            }
        }
    }
}

fn run_adam(
    x: &Tensor,
    mut c: AdamConfig,
    steps: usize,
    g: &mut Guarded<'_>,
) -> Result<StopReason> {
    let mut done = 0;
    loop {
        let mut opt = Adam::new(c.clone());
        let mut result = Ok(());
        while done < steps {
            done += 1;
            if let Err(e) = opt.step(x, g) {
                result = Err(e);
                break;
            }
        }
        let remedy = format!("step size halved to {:.3e}", c.lr / 2.0);
        match handle(result, x, g, &remedy)? {
            Next::Stop(r) => return Ok(r),
            Next::Resume if done >= steps => return Ok(StopReason::Steps),
            Next::Resume => c.lr /= 2.0,
        }
    }
}
