//! Optical flow estimation between two frames: coarse-to-fine TV-L1 on an
//! image pyramid (see `tvl1`), in tch so that it runs where the frames are.
//! Chosen by measurement against OpenCV's DIS and Farneback on synthetic
//! motion with known flow (bench/flow.py, docs/motion.md).

use tch::{Kind, Tensor};

use super::filters::{all_finite, gaussian, half, resize_flow};
use super::tvl1::{refine, Level};
use crate::engine::nets::color::rgb_to_yiq;
use crate::engine::Error;

/// The pyramid stops before a level's shorter side falls under this.
const COARSEST_SIDE: i64 = 16;
/// σ of the blur that `lighting` takes away, in pixels of each level (of
/// 3, 6 and 10, 6 did best on bench/flow.py's cases at 256 px).
const LIGHTING_BLUR: f64 = 6.0;
/// Frames smaller than this on either side have no flow to speak of.
pub const MIN_SIDE: i64 = 4;

/// Settings of the estimator. `Default` is `medium`.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowOptions {
    /// How closely the flow follows the images against how smooth it is
    /// (TV-L1's λ, for grey levels in 0..255): higher keeps finer detail
    /// and more noise.
    pub lambda: f64,
    /// Linearisations per pyramid level (each re-warps the second frame).
    pub warps: usize,
    /// Solver iterations per linearisation.
    pub iterations: usize,
    /// Most pyramid levels, each half the size of the one above; fewer are
    /// used when the coarsest would be under 16 pixels. Motions larger than
    /// about 2^(levels−1) pixels are missed.
    pub levels: usize,
    /// The frames may differ in lighting (exposure changes, flicker): match
    /// their fine structure only, each pyramid level less a wide blur of
    /// itself.
    /// Far steadier when the light changes; about twice the error when it
    /// does not (docs/motion.md).
    pub lighting: bool,
}

impl FlowOptions {
    /// About three times faster than `medium`, half again its error.
    pub fn fast() -> Self {
        Self {
            iterations: 10,
            ..Self::medium()
        }
    }

    pub fn medium() -> Self {
        Self {
            lambda: 0.3,
            warps: 3,
            iterations: 20,
            levels: 8,
            lighting: false,
        }
    }

    fn check(&self) -> Result<(), Error> {
        if !(self.lambda.is_finite() && self.lambda > 0.0) {
            return Err(Error::invalid(
                "flow",
                format!("lambda must be a positive number, not {}", self.lambda),
            ));
        }
        if self.warps == 0 || self.iterations == 0 || self.levels == 0 {
            return Err(Error::invalid(
                "flow",
                "warps, iterations and levels must each be at least 1",
            ));
        }
        Ok(())
    }
}

impl Default for FlowOptions {
    fn default() -> Self {
        Self::medium()
    }
}

/// The flow `f` from `from` to `to` (both `1×3×H×W` in [0, 1], or grey
/// `1×1×H×W`; same size): `from(x) ≈ to(x + f(x))`. Returns `1×2×H×W` in
/// pixels, on the frames' device.
pub fn estimate(from: &Tensor, to: &Tensor, opts: &FlowOptions) -> Result<Tensor, Error> {
    estimate_from(from, to, None, opts)
}

/// As `estimate`, starting from `initial` (e.g. the previous frame pair's
/// flow) instead of zero: this helps when motion goes on steadily and is
/// larger than the pyramid alone would catch. A flow of another size is
/// taken as the flow of the frames at that size: resized, its vectors scaled.
pub fn estimate_from(
    from: &Tensor,
    to: &Tensor,
    initial: Option<&Tensor>,
    opts: &FlowOptions,
) -> Result<Tensor, Error> {
    // Frames may come from a graph (a stylized output): no gradient is wanted.
    tch::no_grad(|| pyramid_flow(from, to, initial, opts))
}

fn pyramid_flow(
    from: &Tensor,
    to: &Tensor,
    initial: Option<&Tensor>,
    opts: &FlowOptions,
) -> Result<Tensor, Error> {
    opts.check()?;
    let i0 = grey(from)?;
    let i1 = grey(&to.f_to_device(from.device())?)?;
    let (n, _, h, w) = i0.size4()?;
    if i1.size4()? != (n, 1, h, w) {
        return Err(Error::invalid(
            "flow",
            format!(
                "frames differ in size: {:?} and {:?}",
                from.size(),
                to.size()
            ),
        ));
    }
    if h < MIN_SIDE || w < MIN_SIDE {
        return Err(Error::invalid(
            "flow",
            format!("frames of {w}×{h} pixels are too small (at least {MIN_SIDE}×{MIN_SIDE})"),
        ));
    }
    for frame in [&i0, &i1] {
        if !all_finite(frame)? {
            return Err(Error::invalid(
                "flow",
                "a frame holds NaN or infinite values",
            ));
        }
    }
    let mut pyramid = vec![(i0, i1)];
    while let Some((a, b)) = pyramid.last() {
        let (_, _, lh, lw) = a.size4()?;
        if pyramid.len() >= opts.levels || lh.min(lw) < 2 * COARSEST_SIDE {
            break;
        }
        let next = (half(a)?, half(b)?);
        pyramid.push(next);
    }
    if opts.lighting {
        // Level by level, so that the blur is as wide against every level
        // and the coarse levels keep their content.
        for pair in &mut pyramid {
            *pair = (fine_structure(&pair.0)?, fine_structure(&pair.1)?);
        }
    }
    let (_, _, ch, cw) = pyramid[pyramid.len() - 1].0.size4()?;
    let mut flow = match initial {
        Some(f) => {
            let (fnn, fc, _, _) = f.size4()?;
            if (fnn, fc) != (n, 2) || !all_finite(f)? {
                return Err(Error::invalid(
                    "flow",
                    format!(
                        "the initial flow {:?} is not a finite N×2×H×W flow",
                        f.size()
                    ),
                ));
            }
            resize_flow(&f.f_to_device(from.device())?, ch, cw)?
        }
        None => Tensor::f_zeros([n, 2, ch, cw], (Kind::Float, from.device()))?,
    };
    let level = Level {
        lambda: opts.lambda,
        warps: opts.warps,
        iterations: opts.iterations,
    };
    for (a, b) in pyramid.iter().rev() {
        let (_, _, lh, lw) = a.size4()?;
        flow = refine(a, b, resize_flow(&flow, lh, lw)?, &level)?;
    }
    Ok(flow)
}

/// Grey levels in 0..255 (the scale λ is given for), `N×1×H×W`.
fn grey(frame: &Tensor) -> Result<Tensor, Error> {
    let (_, c, _, _) = frame.size4()?;
    // Crops of a larger frame arrive as strided views.
    let frame = frame.f_to_kind(Kind::Float)?.f_contiguous()?;
    let y = match c {
        1 => frame,
        3 => rgb_to_yiq(&frame)?.f_narrow(1, 0, 1)?,
        _ => {
            return Err(Error::invalid(
                "flow",
                format!("frames must have 1 or 3 channels, not {c}"),
            ))
        }
    };
    Ok(y.f_mul_scalar(255.0)?)
}

/// A grey image less its blur: what a change of light moves is mostly the
/// coarse brightness, which the blur holds.
fn fine_structure(y: &Tensor) -> Result<Tensor, Error> {
    Ok(y.f_sub(&gaussian(y, LIGHTING_BLUR)?)?)
}
