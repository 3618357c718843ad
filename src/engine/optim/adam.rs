//! Adam (Kingma & Ba), with `torch.optim.Adam`'s update rule.

use tch::Tensor;

use super::{in_place, Objective};
use crate::engine::infra::error::Result;

#[derive(Clone, Debug)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

pub struct Adam {
    config: AdamConfig,
    step: i32,
    m: Option<Tensor>,
    v: Option<Tensor>,
}

impl Adam {
    pub fn new(config: AdamConfig) -> Self {
        Self {
            config,
            step: 0,
            m: None,
            v: None,
        }
    }

    /// One evaluation and one update of `x` in place. Returns the loss at `x`
    /// before the update.
    pub fn step(&mut self, x: &Tensor, f: &mut dyn Objective) -> Result<f64> {
        let (loss, grad) = f.evaluate(x)?;
        let c = &self.config;
        self.step += 1;
        let m = match self.m.take() {
            None => grad.f_mul_scalar(1.0 - c.beta1)?,
            Some(m) => m
                .f_mul_scalar(c.beta1)?
                .f_add(&grad.f_mul_scalar(1.0 - c.beta1)?)?,
        };
        let g2 = grad.f_square()?;
        let v = match self.v.take() {
            None => g2.f_mul_scalar(1.0 - c.beta2)?,
            Some(v) => v
                .f_mul_scalar(c.beta2)?
                .f_add(&g2.f_mul_scalar(1.0 - c.beta2)?)?,
        };
        let bc1 = 1.0 - c.beta1.powi(self.step);
        let bc2 = 1.0 - c.beta2.powi(self.step);
        let denom = v.f_sqrt()?.f_div_scalar(bc2.sqrt())?.f_add_scalar(c.eps)?;
        let update = m.f_div(&denom)?.f_mul_scalar(c.lr / bc1)?;
        in_place(|| x.shallow_clone().f_sub_(&update))?;
        self.m = Some(m);
        self.v = Some(v);
        Ok(loss)
    }
}
