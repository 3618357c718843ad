//! Decoders from relu{L}_1 back to RGB, mirroring the encoder: each conv
//! reversed (reflection pad 1 + 3×3, ReLU but for the last), nearest ×2
//! upsampling where the encoder pools. At L = 4 this is naoto0804's AdaIN
//! decoder, with its `nn.Sequential` key names (`1`, `5`, `8`, … `28`): a
//! pad, conv and ReLU take three indices, an upsampling one.
//!
//! A width multiplier scales the inner channels (not the input, which is the
//! encoder's, nor the 3 output channels) for small bundled decoders.

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use super::encoder::{POOL_BEFORE, TAP_AFTER};
use crate::engine::infra::error::{Error, Result};

/// One step of a decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// Reflection pad 1, 3×3 conv with this sequential key, optional ReLU.
    Conv {
        key: usize,
        cin: i64,
        cout: i64,
        relu: bool,
    },
    Up,
}

/// Inner channel count at `width`.
pub fn scaled(c: i64, width: f64) -> i64 {
    ((c as f64 * width).round() as i64).max(1)
}

/// The mirror of an encoder's convs (`(in, out)` channels, as
/// [`super::encoder::Encoder::conv_channels`]) from relu{level}_1.
pub fn mirror(enc: &[(i64, i64)], level: usize, width: f64) -> Result<Vec<Op>> {
    if !(1..=TAP_AFTER.len()).contains(&level) || enc.len() <= TAP_AFTER[level - 1] {
        return Err(Error::invalid(
            "level",
            format!("{level}: the encoder does not reach relu{level}_1"),
        ));
    }
    if !(width.is_finite() && width > 0.0 && width <= 4.0) {
        return Err(Error::invalid("width", format!("{width} (in (0, 4])")));
    }
    let top = TAP_AFTER[level - 1];
    let (mut ops, mut key) = (Vec::new(), 0usize);
    for j in (0..=top).rev() {
        let (ein, eout) = enc[j];
        let cin = if j == top { eout } else { scaled(eout, width) };
        let last = j == 0;
        let cout = if last { 3 } else { scaled(ein, width) };
        ops.push(Op::Conv {
            key: key + 1,
            cin,
            cout,
            relu: !last,
        });
        key += if last { 2 } else { 3 };
        if POOL_BEFORE.contains(&j) {
            ops.push(Op::Up);
            key += 1;
        }
    }
    Ok(ops)
}

/// A decoder's variables under one path, ready to run.
pub struct Decoder {
    pub ops: Vec<Op>,
    convs: Vec<nn::Conv2D>,
    /// The input is multiplied by this first (see [`VGG19_INPUT_SCALE`]).
    pub input_scale: f64,
}

/// 1 / RMS of our VGG19's relu1_1 … relu5_1 (reflection padding) over eight
/// photos of datasets/photos at 256 px, measured once. Caffe-scale features
/// are in the hundreds; a fresh decoder fed them outputs values in the
/// hundreds too and spends its first thousand iterations shrinking them.
/// Scaled, its input is about 1, as naoto0804's normalised VGG gives.
pub const VGG19_INPUT_SCALE: [f64; 5] = [
    1.0 / 44.0,
    1.0 / 175.0,
    1.0 / 210.0,
    1.0 / 680.0,
    1.0 / 71.0,
];

impl Decoder {
    /// Fresh (Kaiming-uniform, as tch and PyTorch) variables under `p`.
    pub fn new(p: &nn::Path, ops: Vec<Op>, input_scale: f64) -> Self {
        let convs = ops
            .iter()
            .filter_map(|op| match *op {
                Op::Conv { key, cin, cout, .. } => Some(nn::conv2d(
                    p / key.to_string(),
                    cin,
                    cout,
                    3,
                    Default::default(),
                )),
                Op::Up => None,
            })
            .collect();
        Self {
            ops,
            convs,
            input_scale,
        }
    }

    /// Channels it takes.
    pub fn input_channels(&self) -> i64 {
        match self.ops.first() {
            Some(Op::Conv { cin, .. }) => *cin,
            _ => 0,
        }
    }

    /// Upsamplings in it (the output is 2^ups times the input a side).
    pub fn ups(&self) -> u32 {
        self.ops.iter().filter(|o| matches!(o, Op::Up)).count() as u32
    }

    /// `[N, C, h, w]` features to `[N, 3, h·2^ups, w·2^ups]` RGB (about [0, 1]).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, c, _, _) = x.size4()?;
        if c != self.input_channels() {
            return Err(Error::invalid(
                "features",
                format!("{c} channels, the decoder takes {}", self.input_channels()),
            ));
        }
        let mut h = if self.input_scale == 1.0 {
            x.shallow_clone()
        } else {
            x.f_mul_scalar(self.input_scale)?
        };
        let mut convs = self.convs.iter();
        for op in &self.ops {
            match *op {
                Op::Conv { relu, .. } => {
                    let conv = convs
                        .next()
                        .ok_or_else(|| Error::invalid("decoder", "fewer convs than ops"))?;
                    h = h.f_reflection_pad2d([1, 1, 1, 1])?.f_conv2d(
                        &conv.ws,
                        conv.bs.as_ref(),
                        [1, 1],
                        [0, 0],
                        [1, 1],
                        1,
                    )?;
                    if relu {
                        h = h.f_relu()?;
                    }
                }
                Op::Up => {
                    let (_, _, hh, ww) = h.size4()?;
                    h = h.f_upsample_nearest2d([hh * 2, ww * 2], None, None)?;
                }
            }
        }
        Ok(h)
    }
}
