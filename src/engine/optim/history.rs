//! The L-BFGS curvature history as two [m, n] ring buffers (S and Y) plus the
//! small Gram matrices SᵀY and YᵀY, so that the direction is a handful of
//! batched kernels (the compact representation of Byrd, Nocedal & Schnabel,
//! 1994) instead of ~9 vector kernels per stored pair: on CUDA the two-loop
//! recursion's launch count, not its arithmetic, dominates at history 100.

use tch::{Kind, Tensor};

use crate::engine::infra::error::Result;

/// Sᵀq and Yᵀq over the stored slots (slot order), for [`History::apply`].
pub(crate) struct Projections {
    sq: Tensor,
    yq: Tensor,
}

pub(crate) struct History {
    /// Most pairs kept.
    limit: usize,
    /// Rows allocated in `s` and `y` (grows up to `limit`, so a short run does
    /// not allocate a full history: the memory estimate counts min(history, steps)).
    cap: usize,
    /// Stored pairs.
    len: usize,
    /// Slot of the oldest pair once the ring has wrapped (0 before).
    start: usize,
    s: Option<Tensor>,
    y: Option<Tensor>,
    /// `sty[i, j] = s_i·y_j` and `yty[i, j] = y_i·y_j` over slots, in float64:
    /// the triangular solves are small and float32 would lose the run's accuracy.
    sty: Option<Tensor>,
    yty: Option<Tensor>,
}

impl History {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            cap: 0,
            len: 0,
            start: 0,
            s: None,
            y: None,
            sty: None,
            yty: None,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Forgets every pair, keeping the buffers for reuse.
    pub fn clear(&mut self) {
        self.len = 0;
        self.start = 0;
    }

    /// Makes room for at least one more pair, allocating `hint` more rows
    /// (at most up to the limit) when full and below the limit.
    fn reserve(&mut self, like: &Tensor, hint: usize) -> Result<()> {
        if self.len < self.cap || self.cap >= self.limit {
            return Ok(());
        }
        let n = like.size()[0];
        // At least doubling, so callers stepping one iteration at a time do not
        // reallocate on every pair.
        let cap = (self.cap + hint.max(self.cap).max(1)).min(self.limit);
        let (ci, li) = (cap as i64, self.len as i64);
        let grow = |old: &Option<Tensor>, rows: i64, cols: i64, kind: Kind| -> Result<Tensor> {
            let t = Tensor::f_zeros([rows, cols], (kind, like.device()))?;
            if let Some(o) = old {
                if li > 0 {
                    let (src, dst) = if cols == n {
                        (o.f_narrow(0, 0, li)?, t.f_narrow(0, 0, li)?)
                    } else {
                        (
                            o.f_narrow(0, 0, li)?.f_narrow(1, 0, li)?,
                            t.f_narrow(0, 0, li)?.f_narrow(1, 0, li)?,
                        )
                    };
                    tch::no_grad(|| dst.shallow_clone().f_copy_(&src))?;
                }
            }
            Ok(t)
        };
        // The ring only wraps once cap == limit, so here the pairs sit in 0..len.
        let s = grow(&self.s, ci, n, like.kind())?;
        let y = grow(&self.y, ci, n, like.kind())?;
        let sty = grow(&self.sty, ci, ci, Kind::Double)?;
        let yty = grow(&self.yty, ci, ci, Kind::Double)?;
        (self.s, self.y, self.sty, self.yty) = (Some(s), Some(y), Some(sty), Some(yty));
        self.cap = cap;
        Ok(())
    }

    /// Stores the pair (s, y), dropping the oldest when full; `hint` is how many
    /// more pairs the caller may still push (to size a first allocation). With
    /// `q`, also returns (Sᵀq, Yᵀq) for [`History::apply`], taken in the same
    /// pass over the buffers as the new pair's products: one read of S and one
    /// of Y per iteration here, one of each in `apply`.
    pub fn push(
        &mut self,
        s: &Tensor,
        y: &Tensor,
        hint: usize,
        q: Option<&Tensor>,
    ) -> Result<Option<Projections>> {
        if self.limit == 0 {
            return Ok(None);
        }
        self.reserve(s, hint)?;
        let (Some(sb), Some(yb), Some(sty), Some(yty)) = (&self.s, &self.y, &self.sty, &self.yty)
        else {
            return Ok(None);
        };
        let slot = if self.len < self.cap {
            self.len += 1;
            self.len - 1
        } else {
            let k = self.start;
            self.start = (self.start + 1) % self.cap;
            k
        };
        let (k, l) = (slot as i64, self.len as i64);
        let pre = tch::no_grad(
            || -> std::result::Result<Option<Projections>, tch::TchError> {
                sb.f_select(0, k)?.f_copy_(s)?;
                yb.f_select(0, k)?.f_copy_(y)?;
                let sv = sb.f_narrow(0, 0, l)?;
                let yv = yb.f_narrow(0, 0, l)?;
                // Column k of SᵀY is s_i·y_new, row k is s_new·y_i; YᵀY is symmetric.
                let mut for_s = vec![y.shallow_clone()];
                let mut for_y = vec![s.shallow_clone(), y.shallow_clone()];
                if let Some(q) = q {
                    for_s.push(q.shallow_clone());
                    for_y.push(q.shallow_clone());
                }
                // [l, n]·[n, j] products (gemm; a transposed gemv is slow on MKL).
                let ps = sv.f_mm(&Tensor::f_stack(&for_s, 0)?.f_transpose(0, 1)?)?;
                let py = yv.f_mm(&Tensor::f_stack(&for_y, 0)?.f_transpose(0, 1)?)?;
                let yy = py.f_select(1, 1)?;
                sty.f_narrow(0, 0, l)?
                    .f_select(1, k)?
                    .f_copy_(&ps.f_select(1, 0)?)?;
                sty.f_select(0, k)?
                    .f_narrow(0, 0, l)?
                    .f_copy_(&py.f_select(1, 0)?)?;
                yty.f_narrow(0, 0, l)?.f_select(1, k)?.f_copy_(&yy)?;
                yty.f_select(0, k)?.f_narrow(0, 0, l)?.f_copy_(&yy)?;
                Ok(match q {
                    Some(_) => Some(Projections {
                        sq: ps.f_select(1, 1)?,
                        yq: py.f_select(1, 2)?,
                    }),
                    None => None,
                })
            },
        )?;
        Ok(pre)
    }

    /// `H q` for the L-BFGS inverse Hessian with H₀ = γI (`gamma`, a 0-dim
    /// tensor; `None`: the identity), the same as PyTorch's two-loop recursion:
    /// H q = γq + S c₁ + Y c₂ with p = R⁻¹Sᵀq, c₁ = R⁻ᵀ((D + γYᵀY)p − γYᵀq),
    /// c₂ = −γp, R = triu(SᵀY) and D its diagonal, pairs in chronological order.
    /// `pre`: the projections [`History::push`] returned for this `q`.
    pub fn apply(
        &self,
        q: &Tensor,
        gamma: Option<&Tensor>,
        pre: Option<Projections>,
    ) -> Result<Tensor> {
        let (Some(sb), Some(yb), Some(sty), Some(yty), Some(g)) =
            (&self.s, &self.y, &self.sty, &self.yty, gamma)
        else {
            return Ok(match gamma {
                Some(g) => q.f_mul(g)?,
                None => q.shallow_clone(),
            });
        };
        if self.len == 0 {
            return Ok(q.f_mul(g)?);
        }
        let l = self.len as i64;
        let sv = sb.f_narrow(0, 0, l)?;
        let yv = yb.f_narrow(0, 0, l)?;
        // Slot order → chronological order: the oldest pair sits at `start`.
        let shift = -(self.start as i64);
        let chrono = |t: Tensor, dims: &[i64]| -> Result<Tensor> {
            Ok(if shift == 0 {
                t
            } else {
                t.f_roll(vec![shift; dims.len()], dims)?
            })
        };
        let sty_c = chrono(sty.f_narrow(0, 0, l)?.f_narrow(1, 0, l)?, &[0, 1])?;
        let yty_c = chrono(yty.f_narrow(0, 0, l)?.f_narrow(1, 0, l)?, &[0, 1])?;
        let (sq, yq) = match pre {
            Some(p) => (p.sq, p.yq),
            None => (sv.f_mv(q)?, yv.f_mv(q)?),
        };
        let a = chrono(sq.f_to_kind(Kind::Double)?, &[0])?;
        let b = chrono(yq.f_to_kind(Kind::Double)?, &[0])?;
        let gd = g.f_to_kind(Kind::Double)?;
        let r = sty_c.f_triu(0)?;
        let dd = sty_c.f_diagonal(0, 0, 1)?;
        let p = r
            .f_linalg_solve_triangular(&a.f_unsqueeze(1)?, true, true, false)?
            .f_squeeze_dim(1)?;
        let w = dd
            .f_mul(&p)?
            .f_add(&yty_c.f_mv(&p)?.f_sub(&b)?.f_mul(&gd)?)?;
        let c1 = r
            .f_transpose(0, 1)?
            .f_linalg_solve_triangular(&w.f_unsqueeze(1)?, false, true, false)?
            .f_squeeze_dim(1)?;
        let c2 = p.f_mul(&gd)?.f_neg()?;
        let back = |t: Tensor| -> Result<Tensor> {
            let t = if shift == 0 {
                t
            } else {
                t.f_roll([-shift], [0])?
            };
            Ok(t.f_to_kind(q.kind())?)
        };
        let (c1, c2) = (back(c1)?, back(c2)?);
        // Row vector × matrix: on MKL a transposed matrix-vector product
        // (addmv with Sᵀ) is ~20× slower than this [1, m]·[m, n] product.
        let combine = |c: &Tensor, m: &Tensor| -> Result<Tensor> {
            Ok(c.f_unsqueeze(0)?.f_mm(m)?.f_squeeze_dim(0)?)
        };
        Ok(q.f_mul(g)?
            .f_add(&combine(&c1, &sv)?)?
            .f_add(&combine(&c2, &yv)?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PyTorch's two-loop recursion, pair by pair (oldest first).
    fn two_loop(pairs: &[(Tensor, Tensor)], q: &Tensor, gamma: &Tensor) -> Tensor {
        let ro: Vec<Tensor> = pairs.iter().map(|(s, y)| y.dot(s).reciprocal()).collect();
        let mut q = q.copy();
        let mut al = vec![];
        for i in (0..pairs.len()).rev() {
            let a = pairs[i].0.dot(&q) * &ro[i];
            q = &q - &pairs[i].1 * &a;
            al.push(a);
        }
        al.reverse();
        let mut r = q * gamma;
        for (i, a) in al.iter().enumerate() {
            let be = pairs[i].1.dot(&r) * &ro[i];
            r += &pairs[i].0 * (a - be);
        }
        r
    }

    #[test]
    fn batched_direction_equals_the_two_loop_through_growth_and_wrap() {
        tch::manual_seed(3);
        let n = 12;
        let opts = (Kind::Double, tch::Device::Cpu);
        // y = A s with A symmetric positive definite, so every y·s > 0.
        let m = Tensor::randn([n, n], opts);
        let a = m.matmul(&m.tr()) + Tensor::eye(n, opts) * 0.5;
        let mut h = History::new(4);
        let mut pairs = Vec::new();
        for k in 0..9 {
            let s = Tensor::randn([n], opts);
            let y = a.mv(&s);
            // A hint of 1 grows the buffers one row at a time up to the limit.
            // Odd pairs: projections from the push; even: computed in apply.
            let q = Tensor::randn([n], opts);
            let pre = h.push(&s, &y, 1, (k % 2 == 1).then_some(&q)).unwrap();
            assert_eq!(pre.is_some(), k % 2 == 1);
            pairs.push((s, y));
            let kept = &pairs[pairs.len().saturating_sub(4)..];
            assert_eq!(h.len(), kept.len());
            let gamma = Tensor::from(0.3 + 0.1 * k as f64);
            let want = two_loop(kept, &q, &gamma);
            let got = h.apply(&q, Some(&gamma), pre).unwrap();
            let err = (&got - &want).abs().max().double_value(&[]);
            let scale = want.abs().max().double_value(&[]);
            assert!(
                err <= 1e-9 * scale,
                "after {} pairs: {err} vs {scale}",
                k + 1
            );
        }
        h.clear();
        let q = Tensor::randn([n], opts);
        let g = Tensor::from(2.0f64);
        let got = h.apply(&q, Some(&g), None).unwrap();
        assert!((got - &q * 2.0).abs().max().double_value(&[]) == 0.0);
    }
}
