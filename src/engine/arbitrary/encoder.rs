//! The encoder both papers use: VGG19 up to relu1_1 … relu5_1 with reflection
//! padding and ceil-mode max pooling (naoto0804/pytorch-AdaIN's
//! `vgg_normalised`). A 1×1 convolution first maps RGB in [0, 1] to what the
//! weights expect; for our Caffe VGG19 it is the BGR / 0..255 / mean shift.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::engine::infra::error::{Error, Result};
use crate::engine::nets::vgg::CAFFE_MEAN_BGR;
use crate::engine::nets::weights::Weights;

/// Levels relu1_1 … relu5_1.
pub const LEVELS: usize = 5;
/// VGG19 convolutions up to conv5_1, in order.
pub const CONV_NAMES: [(usize, usize); 13] = [
    (1, 1),
    (1, 2),
    (2, 1),
    (2, 2),
    (3, 1),
    (3, 2),
    (3, 3),
    (3, 4),
    (4, 1),
    (4, 2),
    (4, 3),
    (4, 4),
    (5, 1),
];
/// Index of the conv whose ReLU is relu{L}_1, for L = 1 … 5.
pub const TAP_AFTER: [usize; LEVELS] = [0, 2, 4, 8, 12];
/// Convs that a max pooling precedes (conv2_1, conv3_1, conv4_1, conv5_1).
pub const POOL_BEFORE: [usize; 4] = [2, 4, 8, 12];
/// Keys of the same convs in naoto0804's `vgg_normalised.pth` (an
/// `nn.Sequential`: 0 is the 1×1 conv, then pad, conv, ReLU, pool …).
pub const SEQUENTIAL_KEYS: [usize; 13] = [2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42];

/// How convolutions pad their edges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EdgePadding {
    /// The papers' (and the published encoder's) choice.
    #[default]
    Reflect,
    /// What our VGG19 was trained with.
    Zero,
}

impl FromStr for EdgePadding {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "reflect" => Ok(Self::Reflect),
            "zero" => Ok(Self::Zero),
            _ => Err(Error::invalid(
                "padding",
                format!("'{s}' (use reflect or zero)"),
            )),
        }
    }
}

impl std::fmt::Display for EdgePadding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Reflect => "reflect",
            Self::Zero => "zero",
        })
    }
}

/// A frozen VGG19 prefix: the 1×1 input map, then convs up to relu{depth}_1.
pub struct Encoder {
    /// `(weight [3, 3, 1, 1], bias [3])`.
    pre: (Tensor, Tensor),
    /// `(weight OIHW, bias)` in [`CONV_NAMES`] order.
    convs: Vec<(Tensor, Tensor)>,
    pub padding: EdgePadding,
}

impl Encoder {
    /// Our VGG19 (Caffe weights) up to relu{depth}_1.
    pub fn from_vgg(
        weights: &Weights,
        depth: usize,
        padding: EdgePadding,
        device: Device,
    ) -> Result<Self> {
        check_depth(depth)?;
        // out[b] = 255 · in[2 − b] − mean[b]: RGB [0, 1] to Caffe's BGR 0..255.
        let mut w = [0f32; 9];
        for b in 0..3 {
            w[b * 3 + (2 - b)] = 255.0;
        }
        let bias: Vec<f32> = CAFFE_MEAN_BGR.iter().map(|&m| -m as f32).collect();
        let pre = (
            Tensor::f_from_slice(&w)?.f_view([3, 3, 1, 1])?,
            Tensor::f_from_slice(&bias)?,
        );
        let mut convs = Vec::new();
        for &(b, i) in &CONV_NAMES[..=TAP_AFTER[depth - 1]] {
            let (w, bias) = weights.conv(b, i)?;
            convs.push((w.shallow_clone(), bias.shallow_clone()));
        }
        Self::from_tensors(pre, convs, padding, device)
    }

    /// An encoder from its tensors (an imported `vgg_normalised`); shapes are
    /// checked to chain.
    pub fn from_tensors(
        pre: (Tensor, Tensor),
        convs: Vec<(Tensor, Tensor)>,
        padding: EdgePadding,
        device: Device,
    ) -> Result<Self> {
        let depth = TAP_AFTER.iter().filter(|&&t| t < convs.len()).count();
        if depth == 0 || convs.len() != TAP_AFTER[depth - 1] + 1 {
            return Err(Error::invalid(
                "encoder",
                format!("{} convolutions do not end at a relu_1 tap", convs.len()),
            ));
        }
        let mut cin = 3;
        for (k, (w, b)) in std::iter::once(&pre).chain(convs.iter()).enumerate() {
            let s = w.size();
            let kernel = if k == 0 { 1 } else { 3 };
            if s.len() != 4 || s[1] != cin || s[2] != kernel || s[3] != kernel || b.size() != [s[0]]
            {
                return Err(Error::invalid(
                    "encoder",
                    format!("convolution {k} has shape {s:?} after {cin} channels"),
                ));
            }
            cin = s[0];
        }
        let mv = |(w, b): (Tensor, Tensor)| -> Result<(Tensor, Tensor)> {
            Ok((
                w.f_to_kind(Kind::Float)?.f_to_device(device)?,
                b.f_to_kind(Kind::Float)?.f_to_device(device)?,
            ))
        };
        Ok(Self {
            pre: mv(pre)?,
            convs: convs.into_iter().map(mv).collect::<Result<_>>()?,
            padding,
        })
    }

    /// The deepest level this encoder reaches (relu{depth}_1).
    pub fn depth(&self) -> usize {
        TAP_AFTER.iter().filter(|&&t| t < self.convs.len()).count()
    }

    /// `(in, out)` channels of each conv, in order.
    pub fn conv_channels(&self) -> Vec<(i64, i64)> {
        self.convs
            .iter()
            .map(|(w, _)| {
                let s = w.size();
                (s[1], s[0])
            })
            .collect()
    }

    /// Channels at relu{level}_1.
    pub fn channels(&self, level: usize) -> i64 {
        self.convs[TAP_AFTER[level - 1]].0.size()[0]
    }

    /// The tensors, for saving: the 1×1 map then the convs.
    pub fn tensors(&self) -> (&(Tensor, Tensor), &[(Tensor, Tensor)]) {
        (&self.pre, &self.convs)
    }

    /// relu1_1 … relu{levels}_1 of `x` (`[N, 3, H, W]` RGB in [0, 1]).
    pub fn encode(&self, x: &Tensor, levels: usize) -> Result<Vec<Tensor>> {
        if levels == 0 || levels > self.depth() {
            return Err(Error::invalid(
                "levels",
                format!("{levels} (this encoder reaches relu{}_1)", self.depth()),
            ));
        }
        let (w, b) = &self.pre;
        let mut h = x.f_conv2d(w, Some(b), [1, 1], [0, 0], [1, 1], 1)?;
        let mut out = Vec::with_capacity(levels);
        for (j, (w, b)) in self
            .convs
            .iter()
            .enumerate()
            .take(TAP_AFTER[levels - 1] + 1)
        {
            if POOL_BEFORE.contains(&j) {
                h = h.f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], true)?;
            }
            h = match self.padding {
                EdgePadding::Reflect => h.f_reflection_pad2d([1, 1, 1, 1])?.f_conv2d(
                    w,
                    Some(b),
                    [1, 1],
                    [0, 0],
                    [1, 1],
                    1,
                )?,
                EdgePadding::Zero => h.f_conv2d(w, Some(b), [1, 1], [1, 1], [1, 1], 1)?,
            }
            .f_relu()?;
            if TAP_AFTER.contains(&j) {
                out.push(h.shallow_clone());
            }
        }
        Ok(out)
    }

    /// relu{level}_1 only.
    pub fn encode_level(&self, x: &Tensor, level: usize) -> Result<Tensor> {
        let mut v = self.encode(x, level)?;
        v.pop()
            .ok_or_else(|| Error::invalid("levels", "no level encoded"))
    }
}

fn check_depth(depth: usize) -> Result<()> {
    if (1..=LEVELS).contains(&depth) {
        Ok(())
    } else {
        Err(Error::invalid(
            "level",
            format!("{depth} (use 1 … {LEVELS}: relu1_1 … relu5_1)"),
        ))
    }
}

/// Downsampling factor of relu{level}_1 (1, 2, 4, 8, 16).
pub fn stride(level: usize) -> i64 {
    1 << (level.saturating_sub(1))
}
