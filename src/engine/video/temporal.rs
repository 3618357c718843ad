//! Steadiness between frames (Ruder, Dosovitskiy & Brox 2016): the
//! previous output carried to the current frame along the optical flow,
//! with where that can be trusted; the temporal loss of a Gatys frame; the
//! blend of a feed-forward frame; and the flicker measure of a result.
//!
//! Images are `1×3×H×W` in [0, 1]; masks `1×1×H×W` in [0, 1].

use tch::{Kind, Tensor};

use crate::engine::motion::{estimate, reliable, warp, FlowOptions};
use crate::engine::Error;

/// The previous output seen from the current frame.
pub struct Carried {
    /// The previous output warped onto the current frame.
    pub warped: Tensor,
    /// Where the flow can be trusted (0 at occlusions and motion edges).
    pub mask: Tensor,
}

/// The previous output `prev_out` (of input frame `prev`) warped onto the
/// current input frame `cur` by the backward flow (`cur` to `prev`), with
/// the forward–backward reliability of that flow.
pub fn carried(
    prev: &Tensor,
    cur: &Tensor,
    prev_out: &Tensor,
    opts: &FlowOptions,
) -> Result<Carried, Error> {
    let back = estimate(cur, prev, opts)?;
    let fwd = estimate(prev, cur, opts)?;
    let mask = reliable(&back, &fwd)?;
    let warped = warp(prev_out, &back)?;
    Ok(Carried { warped, mask })
}

/// Ruder's temporal loss: the mean over pixels and channels of
/// `mask · (x − target)²`, in 0–255 units as the other Gatys terms.
pub fn loss(x: &Tensor, target: &Tensor, mask: &Tensor) -> Result<Tensor, Error> {
    if x.size() != target.size() {
        return Err(Error::invalid(
            "temporal target",
            format!("shape {:?} does not match {:?}", target.size(), x.size()),
        ));
    }
    Ok(x.f_sub(target)?
        .f_mul_scalar(255.0)?
        .f_square()?
        .f_mul(mask)?
        .f_mean(Kind::Float)?)
}

/// A feed-forward frame `net` made steady: per pixel the minimiser of
/// `(x − net)² + weight · mask · (x − warped)²`, i.e. the network's output
/// pulled towards the previous output where the flow is reliable
/// (fast-artistic-videos' idea, without retraining the network).
pub fn blend(net: &Tensor, carried: &Carried, weight: f64) -> Result<Tensor, Error> {
    let wm = carried.mask.f_mul_scalar(weight)?;
    Ok(net
        .f_add(&carried.warped.f_mul(&wm)?)?
        .f_div(&wm.f_add_scalar(1.0)?)?
        .f_clamp(0.0, 1.0)?)
}

/// Flicker of a stylized clip: the mean absolute difference, in grey levels
/// (0–255), between each output frame and the next output warped back onto
/// it by the flow between their inputs, over the pixels where that flow is
/// reliable. `inputs` and `outputs` are the frames in order.
pub fn flicker(inputs: &[Tensor], outputs: &[Tensor], opts: &FlowOptions) -> Result<f64, Error> {
    if inputs.len() != outputs.len() || inputs.len() < 2 {
        return Err(Error::invalid(
            "frames",
            "flicker needs as many outputs as inputs, at least two",
        ));
    }
    let (mut sum, mut weight) = (0.0, 0.0);
    for t in 0..inputs.len() - 1 {
        let c = carried(&inputs[t + 1], &inputs[t], &outputs[t + 1], opts)?;
        let diff = outputs[t]
            .f_sub(&c.warped)?
            .f_abs()?
            .f_mean_dim(1, true, Kind::Float)?
            .f_mul(&c.mask)?;
        sum += diff.f_sum(Kind::Double)?.f_double_value(&[])? * 255.0;
        weight += c.mask.f_sum(Kind::Double)?.f_double_value(&[])?;
    }
    Ok(if weight > 0.0 { sum / weight } else { 0.0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn ones_mask(h: i64, w: i64) -> Tensor {
        Tensor::ones([1, 1, h, w], (Kind::Float, Device::Cpu))
    }

    #[test]
    fn the_blend_keeps_the_network_where_the_flow_is_unreliable() {
        let net = Tensor::zeros([1, 3, 4, 4], (Kind::Float, Device::Cpu));
        let warped = Tensor::ones([1, 3, 4, 4], (Kind::Float, Device::Cpu));
        let mask = ones_mask(4, 4);
        let _ = mask.narrow(3, 0, 2).fill_(0.0);
        let c = Carried { warped, mask };
        let out = blend(&net, &c, 1.0).unwrap();
        // Reliable half: halfway to the previous output; the rest: the network's.
        assert_eq!(out.narrow(3, 2, 2).mean(Kind::Float).double_value(&[]), 0.5);
        assert_eq!(out.narrow(3, 0, 2).abs().max().double_value(&[]), 0.0);
        // Weight 0: independent frames.
        let out = blend(&net, &c, 0.0).unwrap();
        assert_eq!(out.abs().max().double_value(&[]), 0.0);
    }

    #[test]
    fn the_temporal_loss_counts_only_reliable_pixels_in_grey_levels() {
        let x = Tensor::zeros([1, 3, 2, 2], (Kind::Float, Device::Cpu));
        let t = Tensor::full([1, 3, 2, 2], 1.0 / 255.0, (Kind::Float, Device::Cpu));
        let l = loss(&x, &t, &ones_mask(2, 2)).unwrap().double_value(&[]);
        assert!((l - 1.0).abs() < 1e-4, "{l}");
        let half = ones_mask(2, 2);
        let _ = half.narrow(2, 0, 1).fill_(0.0);
        let l = loss(&x, &t, &half).unwrap().double_value(&[]);
        assert!((l - 0.5).abs() < 1e-4, "{l}");
    }

    #[test]
    fn a_steady_clip_has_no_flicker_and_a_blinking_one_has() {
        let a = Tensor::zeros([1, 3, 8, 8], (Kind::Float, Device::Cpu));
        let b = Tensor::full([1, 3, 8, 8], 0.5, (Kind::Float, Device::Cpu));
        let opts = FlowOptions::default();
        let ins = [a.shallow_clone(), a.shallow_clone(), a.shallow_clone()];
        let steady = [b.shallow_clone(), b.shallow_clone(), b.shallow_clone()];
        assert_eq!(flicker(&ins, &steady, &opts).unwrap(), 0.0);
        let blink = [a.shallow_clone(), b.shallow_clone(), a.shallow_clone()];
        let f = flicker(&ins, &blink, &opts).unwrap();
        assert!((f - 127.5).abs() < 1e-3, "{f}");
    }
}
