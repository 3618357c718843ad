//! VGG19 (Simonyan & Zisserman) as a feature extractor with named taps.
//!
//! Input is an RGB image in [0, 1], shape `[1, 3, H, W]`; it is converted to the
//! Caffe convention the original weights expect (BGR, 0..255, minus the ImageNet
//! mean). The network runs only as far as the deepest tap requested.

use std::collections::HashMap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::engine::infra::error::{Error, Result};
use crate::engine::nets::weights::Weights;

/// Caffe's ImageNet mean in B, G, R order, in 0..255 units.
pub const CAFFE_MEAN_BGR: [f64; 3] = [103.939, 116.779, 123.68];

/// Convolutions per block of VGG19.
const BLOCKS: [usize; 5] = [2, 2, 4, 4, 4];

/// One stage of the network, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    Conv { block: usize, index: usize },
    Relu { block: usize, index: usize },
    Pool { block: usize },
}

impl Stage {
    fn all() -> Vec<Stage> {
        let mut v = Vec::new();
        for (b, &n) in BLOCKS.iter().enumerate() {
            for i in 1..=n {
                v.push(Stage::Conv {
                    block: b + 1,
                    index: i,
                });
                v.push(Stage::Relu {
                    block: b + 1,
                    index: i,
                });
            }
            v.push(Stage::Pool { block: b + 1 });
        }
        v
    }
}

/// Output channels of each block's convolutions.
const CHANNELS: [i64; 5] = [64, 128, 256, 512, 512];

/// Number of elements of every stage's output, from conv1_1 to `last`, for an
/// `h`×`w` input (for memory estimates).
pub fn stage_numels(h: i64, w: i64, last: Layer) -> Vec<i64> {
    let (mut h, mut w) = (h, w);
    Stage::all()
        .into_iter()
        .take(last.0 + 1)
        .map(|s| match s {
            Stage::Conv { block, .. } | Stage::Relu { block, .. } => CHANNELS[block - 1] * h * w,
            Stage::Pool { block } => {
                (h, w) = (h / 2, w / 2);
                CHANNELS[block - 1] * h * w
            }
        })
        .collect()
}

/// A named tap such as `relu4_2` or `pool3`: a position in the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Layer(usize);

impl Layer {
    /// Position of this tap in the sequence of stages (0 = conv1_1).
    pub fn position(self) -> usize {
        self.0
    }

    pub fn name(self) -> String {
        match Stage::all()[self.0] {
            Stage::Conv { block, index } => format!("conv{block}_{index}"),
            Stage::Relu { block, index } => format!("relu{block}_{index}"),
            Stage::Pool { block } => format!("pool{block}"),
        }
    }

    /// The stages from conv1_1 up to this tap, in order (what a mask carried
    /// through the network passes).
    pub fn stages(self) -> Vec<Stage> {
        Stage::all()[..=self.0].to_vec()
    }

    /// Spatial downsampling factor at this tap (1 before pool1, 2 after it, …).
    pub fn stride(self) -> u32 {
        let pools = Stage::all()[..=self.0]
            .iter()
            .filter(|s| matches!(s, Stage::Pool { .. }))
            .count();
        1 << pools
    }
}

impl FromStr for Layer {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let name = s.trim();
        Stage::all()
            .iter()
            .position(|st| {
                let l = match *st {
                    Stage::Conv { block, index } => format!("conv{block}_{index}"),
                    Stage::Relu { block, index } => format!("relu{block}_{index}"),
                    Stage::Pool { block } => format!("pool{block}"),
                };
                l == name
            })
            .map(Layer)
            .ok_or_else(|| Error::UnknownLayer(name.to_string()))
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for Layer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for Layer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Max pooling as in the paper's network, or average pooling, which Gatys et al.
/// found gives slightly more appealing results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    #[default]
    Max,
    Avg,
}

impl FromStr for Pooling {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "max" => Ok(Pooling::Max),
            "avg" => Ok(Pooling::Avg),
            _ => Err(Error::invalid("pooling", format!("'{s}' (use max or avg)"))),
        }
    }
}

/// How the convolutions pad their edges. The network was trained with zeros
/// (the paper's and neural-style's choice, the default); `replicate` repeats
/// the edge values instead, so the optimiser meets no artificial frame and
/// paints less of a dark border (README, "Edges"), for about 10 % more time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Padding {
    #[default]
    Zero,
    Replicate,
}

impl FromStr for Padding {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "zero" => Ok(Padding::Zero),
            "replicate" => Ok(Padding::Replicate),
            _ => Err(Error::invalid(
                "padding",
                format!("'{s}' (use zero or replicate)"),
            )),
        }
    }
}

/// `t` (`[N, C, H, W]`) with channels-last strides, the same logical tensor.
///
/// Why: on the CPU oneDNN runs convolutions in NHWC; in NCHW every conv pays a
/// layout conversion of its input and output (see the README's benchmark).
pub fn channels_last(t: &Tensor) -> Result<Tensor> {
    Ok(t.f_permute([0, 2, 3, 1])?
        .f_contiguous()?
        .f_permute([0, 3, 1, 2])?)
}

/// The frozen VGG19 convolution stack on one device.
pub struct Vgg19 {
    /// (weight, bias) per conv layer, in order conv1_1 … conv5_4.
    convs: Vec<(Tensor, Tensor)>,
    pooling: Pooling,
    mean: Tensor,
    device: Device,
    /// Run in channels-last layout (on the CPU; CUDA keeps NCHW, unmeasured).
    nhwc: bool,
}

impl Vgg19 {
    pub fn new(weights: &Weights, pooling: Pooling, device: Device) -> Result<Self> {
        let nhwc = device == Device::Cpu;
        let mut convs = Vec::new();
        for (b, &n) in BLOCKS.iter().enumerate() {
            for i in 1..=n {
                let (w, bias) = weights.conv(b + 1, i)?;
                let w = w.f_to_device(device)?;
                let w = if nhwc { channels_last(&w)? } else { w };
                // Loaded tensors do not require grad; the network stays frozen.
                convs.push((w, bias.f_to_device(device)?));
            }
        }
        let mean = Tensor::f_from_slice(&CAFFE_MEAN_BGR)?
            .f_to_kind(Kind::Float)?
            .f_view([1, 3, 1, 1])?
            .f_to_device(device)?;
        Ok(Self {
            convs,
            pooling,
            mean,
            device,
            nhwc,
        })
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// RGB in [0,1] -> Caffe input: BGR, 0..255, mean subtracted.
    pub fn preprocess(&self, rgb: &Tensor) -> Result<Tensor> {
        Ok(rgb.f_flip([1])?.f_mul_scalar(255.0)?.f_sub(&self.mean)?)
    }

    /// Runs the network on `rgb` (`[1,3,H,W]` in [0,1]) and returns the activations
    /// at `taps`, stopping after the deepest one. The padding is the run's (it is
    /// not in the weights), so one network serves runs with either.
    pub fn features(
        &self,
        rgb: &Tensor,
        taps: &[Layer],
        padding: Padding,
    ) -> Result<HashMap<Layer, Tensor>> {
        let mut out = HashMap::new();
        let Some(last) = taps.iter().map(|l| l.0).max() else {
            return Ok(out);
        };
        let mut x = self.preprocess(rgb)?;
        if self.nhwc {
            x = channels_last(&x)?;
        }
        for (pos, stage) in Stage::all().into_iter().enumerate().take(last + 1) {
            // In place unless the conv output is itself a tap: nothing else
            // needs it (a conv's backward uses its input), so this saves a
            // feature-map allocation per layer.
            let in_place = !taps.iter().any(|t| t.0 + 1 == pos);
            x = self.stage(x, pos, stage, padding, in_place)?;
            if taps.iter().any(|t| t.0 == pos) {
                out.insert(Layer(pos), x.shallow_clone());
            }
        }
        Ok(out)
    }

    /// Runs the stages after `from` up to and including `to` on `x`, the
    /// activation at `from` (`None`: the preprocessed Caffe input, as
    /// [`Vgg19::preprocess`] makes it). Deep Image Analogy optimises such a
    /// sub-network's input to reconstruct the layer above.
    pub fn forward_stages(
        &self,
        x: &Tensor,
        from: Option<Layer>,
        to: Layer,
        padding: Padding,
    ) -> Result<Tensor> {
        let first = from.map_or(0, |l| l.0 + 1);
        if first > to.0 {
            return Err(Error::invalid(
                "layers",
                format!(
                    "{to} is not after {}",
                    from.map_or("the input".to_string(), |l| l.name())
                ),
            ));
        }
        let mut x = if self.nhwc {
            channels_last(x)?
        } else {
            x.shallow_clone()
        };
        for (pos, stage) in Stage::all().into_iter().enumerate() {
            if (first..=to.0).contains(&pos) {
                // Never in place: the input may be a leaf the caller optimises.
                x = self.stage(x, pos, stage, padding, false)?;
            }
        }
        Ok(x)
    }

    /// One stage at position `pos` of the network.
    fn stage(
        &self,
        mut x: Tensor,
        pos: usize,
        stage: Stage,
        padding: Padding,
        in_place: bool,
    ) -> Result<Tensor> {
        Ok(match stage {
            Stage::Conv { .. } => {
                let conv = Stage::all()[..pos]
                    .iter()
                    .filter(|s| matches!(s, Stage::Conv { .. }))
                    .count();
                let (w, b) = &self.convs[conv];
                if padding == Padding::Replicate {
                    x.f_replication_pad2d([1, 1, 1, 1])?.f_conv2d(
                        w,
                        Some(b),
                        [1, 1],
                        [0, 0],
                        [1, 1],
                        1,
                    )?
                } else {
                    x.f_conv2d(w, Some(b), [1, 1], [1, 1], [1, 1], 1)?
                }
            }
            Stage::Relu { .. } if in_place => x.f_relu_()?,
            Stage::Relu { .. } => x.f_relu()?,
            Stage::Pool { .. } => match self.pooling {
                Pooling::Max => x.f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false)?,
                Pooling::Avg => x.f_avg_pool2d([2, 2], [2, 2], [0, 0], false, true, None)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_names_round_trip() {
        for name in ["conv1_1", "relu1_1", "pool1", "relu4_2", "conv5_4", "pool5"] {
            let l: Layer = name.parse().unwrap();
            assert_eq!(l.name(), name);
        }
        assert_eq!(Stage::all().len(), 16 * 2 + 5);
        assert!("relu6_1".parse::<Layer>().is_err());
        assert!("conv1_3".parse::<Layer>().is_err());
    }

    #[test]
    fn strides() {
        assert_eq!("relu1_1".parse::<Layer>().unwrap().stride(), 1);
        assert_eq!("pool1".parse::<Layer>().unwrap().stride(), 2);
        assert_eq!("relu4_2".parse::<Layer>().unwrap().stride(), 8);
        assert_eq!("relu5_1".parse::<Layer>().unwrap().stride(), 16);
    }
}
