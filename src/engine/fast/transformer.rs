//! The feed-forward style network of Johnson et al. (2016) as pytorch/examples
//! `fast_neural_style/neural_style/transformer_net.py` builds it, with the same
//! parameter names (so its models import as they are), instance or batch
//! normalisation (Ulyanov et al. 2016 against the original) and a width
//! multiplier on the channel counts 32/64/128.
//!
//! Input and output are RGB in 0..255, `[N, 3, H, W]`; H and W multiples of 4
//! give an output of the input's size (the applying code pads to that).
//!
//! `Norm::Conditional` is the conditional instance norm of Dumoulin, Shlens &
//! Kudlur (2017) as magenta's `image_stylization` builds it: every norm's
//! scale and shift (γ = `in*.weight`, β = `in*.bias`) is a table of shape
//! `[styles, C]`, initialised to 1 and 0; a style mix uses `Σ wᵢγᵢ`, `Σ wᵢβᵢ`;
//! and, as in magenta, a norm follows the last convolution too (`in6`, three
//! channels) with a sigmoid (scaled to 0..255) as the output. Kept from
//! pytorch/examples: the layer names, reflection padding, nearest upsampling,
//! the convolution biases (redundant before a norm, kept so the layers are
//! shared), 0..255 input.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use super::layers::{instance_norm, Conv};
use super::msg::MsgNet;
use crate::engine::infra::error::{Error, Result};

/// The normalisation after every convolution but the last (after the last
/// too for `Conditional`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    /// Instance normalisation (Ulyanov et al.), pytorch/examples' choice.
    #[default]
    Instance,
    /// Batch normalisation, Johnson's original; running statistics at apply time.
    Batch,
    /// Conditional instance norm (Dumoulin et al. 2017): γ, β per style.
    Conditional { styles: usize },
    /// Not a TransformerNet: MSG-Net (Zhang & Dana 2017), instance norms
    /// without affine parameters and a CoMatch layer fed a style's Gram
    /// target ([`super::msg`]); `styles` it was trained on.
    Inspiration { styles: usize },
}

impl Norm {
    /// The number of styles the network holds (1 for a single-style network).
    pub fn styles(&self) -> usize {
        match self {
            Norm::Conditional { styles } | Norm::Inspiration { styles } => *styles,
            _ => 1,
        }
    }

    /// Conditioned on a style, picked with `--style` (CIN or MSG-Net).
    pub fn is_conditional(&self) -> bool {
        matches!(self, Norm::Conditional { .. } | Norm::Inspiration { .. })
    }

    /// MSG-Net rather than a TransformerNet.
    pub fn is_msg(&self) -> bool {
        matches!(self, Norm::Inspiration { .. })
    }
}

impl FromStr for Norm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "instance" => Ok(Norm::Instance),
            "batch" => Ok(Norm::Batch),
            _ => Err(Error::invalid(
                "norm",
                format!("'{s}' (use instance or batch)"),
            )),
        }
    }
}

impl std::fmt::Display for Norm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Norm::Instance => "instance",
            Norm::Batch => "batch",
            Norm::Conditional { .. } => "conditional",
            Norm::Inspiration { .. } => "inspiration",
        })
    }
}

/// The shape of a network: its normalisation and width.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Arch {
    pub norm: Norm,
    /// Multiplier on the channel counts 32/64/128 (1 = pytorch/examples).
    pub width: f64,
}

impl Default for Arch {
    fn default() -> Self {
        Self {
            norm: Norm::Instance,
            width: 1.0,
        }
    }
}

/// Smallest and largest width accepted (1/32 gives one channel in conv1).
pub const MIN_WIDTH: f64 = 1.0 / 32.0;
pub const MAX_WIDTH: f64 = 4.0;
/// Most styles one conditional network holds (a bound on its tables, not a
/// limit of the method).
pub const MAX_STYLES: usize = 256;

impl Arch {
    pub fn validate(&self) -> Result<()> {
        if let Norm::Conditional { styles } | Norm::Inspiration { styles } = self.norm {
            if !(1..=MAX_STYLES).contains(&styles) {
                return Err(Error::invalid(
                    "styles",
                    format!("{styles} (a conditional network holds 1 … {MAX_STYLES})"),
                ));
            }
        }
        if !(MIN_WIDTH..=MAX_WIDTH).contains(&self.width) {
            return Err(Error::invalid(
                "width",
                format!("{} (use {MIN_WIDTH} … {MAX_WIDTH})", self.width),
            ));
        }
        Ok(())
    }

    /// Channels of the three stages: 32/64/128 scaled and rounded, at least 1.
    pub fn channels(&self) -> [i64; 3] {
        [32.0, 64.0, 128.0].map(|c: f64| ((c * self.width).round() as i64).max(1))
    }
}

/// pytorch/examples' `ConvLayer` (`UpsampleConvLayer` with `up`): its
/// weights under `p/conv2d`, reflection padding k/2.
fn conv_layer(p: nn::Path, cin: i64, cout: i64, k: i64, stride: i64) -> Conv {
    Conv::new(p / "conv2d", cin, cout, k, stride, true)
}

/// `in*`: InstanceNorm2d(affine) or BatchNorm2d, under the same names, or a
/// conditional instance norm whose `weight` (γ) and `bias` (β) are `[styles, C]`.
enum NormLayer {
    Instance { weight: Tensor, bias: Tensor },
    Batch(nn::BatchNorm),
    Conditional { weight: Tensor, bias: Tensor },
}

impl NormLayer {
    fn new(p: nn::Path, c: i64, norm: Norm) -> Self {
        match norm {
            Norm::Instance => NormLayer::Instance {
                weight: p.ones("weight", &[c]),
                bias: p.zeros("bias", &[c]),
            },
            Norm::Batch => NormLayer::Batch(nn::batch_norm2d(p, c, Default::default())),
            Norm::Conditional { styles } | Norm::Inspiration { styles } => NormLayer::Conditional {
                weight: p.ones("weight", &[styles as i64, c]),
                bias: p.zeros("bias", &[styles as i64, c]),
            },
        }
    }

    /// `mix`: per-image style weights `[N, styles]` (conditional norm only).
    fn forward(&self, x: &Tensor, mix: Option<&Tensor>, train: bool) -> Result<Tensor> {
        Ok(match self {
            NormLayer::Conditional { weight, bias } => {
                let mix = mix.ok_or_else(|| {
                    Error::invalid("styles", "a multi-style network needs style weights")
                })?;
                let (n, c) = (x.size()[0], weight.size()[1]);
                // [N, S] × [S, C]: one style's row for a one-hot, Σ wᵢγᵢ for a mix.
                let g = mix.f_matmul(weight)?.f_view([n, c, 1, 1])?;
                let b = mix.f_matmul(bias)?.f_view([n, c, 1, 1])?;
                instance_norm(x, None)?.f_mul(&g)?.f_add(&b)?
            }
            NormLayer::Instance { weight, bias } => instance_norm(x, Some((weight, bias)))?,
            NormLayer::Batch(bn) => x.f_batch_norm(
                bn.ws.as_ref(),
                bn.bs.as_ref(),
                Some(&bn.running_mean),
                Some(&bn.running_var),
                train,
                0.1,
                1e-5,
                false,
            )?,
        })
    }
}

struct Residual {
    conv1: Conv,
    in1: NormLayer,
    conv2: Conv,
    in2: NormLayer,
}

impl Residual {
    fn new(p: nn::Path, c: i64, norm: Norm) -> Self {
        Self {
            conv1: conv_layer(&p / "conv1", c, c, 3, 1),
            in1: NormLayer::new(&p / "in1", c, norm),
            conv2: conv_layer(&p / "conv2", c, c, 3, 1),
            in2: NormLayer::new(&p / "in2", c, norm),
        }
    }

    fn forward(&self, x: &Tensor, mix: Option<&Tensor>, train: bool) -> Result<Tensor> {
        let y = self
            .in1
            .forward(&self.conv1.forward(x)?, mix, train)?
            .f_relu()?;
        let y = self.in2.forward(&self.conv2.forward(&y)?, mix, train)?;
        Ok(y.f_add(x)?)
    }
}

/// TransformerNet: its variables live in the `nn::Path` it was built on.
pub struct TransformerNet {
    arch: Arch,
    convs: [Conv; 3],
    norms: [NormLayer; 5],
    res: Vec<Residual>,
    deconvs: [Conv; 3],
    /// `in6`, after the last convolution: conditional networks only (magenta).
    out_norm: Option<NormLayer>,
}

impl TransformerNet {
    /// Builds the network under `p` (`arch` must be validated).
    pub fn new(p: &nn::Path, arch: Arch) -> Self {
        let [a, b, c] = arch.channels();
        let n = arch.norm;
        Self {
            arch,
            convs: [
                conv_layer(p / "conv1", 3, a, 9, 1),
                conv_layer(p / "conv2", a, b, 3, 2),
                conv_layer(p / "conv3", b, c, 3, 2),
            ],
            norms: [
                NormLayer::new(p / "in1", a, n),
                NormLayer::new(p / "in2", b, n),
                NormLayer::new(p / "in3", c, n),
                NormLayer::new(p / "in4", b, n),
                NormLayer::new(p / "in5", a, n),
            ],
            res: (1..=5)
                .map(|k| Residual::new(p / format!("res{k}"), c, n))
                .collect(),
            deconvs: [
                conv_layer(p / "deconv1", c, b, 3, 1).up(),
                conv_layer(p / "deconv2", b, a, 3, 1).up(),
                conv_layer(p / "deconv3", a, 3, 9, 1),
            ],
            out_norm: matches!(n, Norm::Conditional { .. })
                .then(|| NormLayer::new(p / "in6", 3, n)),
        }
    }

    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// RGB 0..255 in, RGB ≈ 0..255 out (not clamped). `train` only matters for
    /// batch norm (batch statistics and running-average updates). A
    /// conditional network needs [`TransformerNet::forward_mix`].
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.forward_mix(x, None, train)
    }

    /// As `forward_t`, with per-image style weights `mix` `[N, styles]` for a
    /// conditional network (a one-hot row per image for one style; ignored by
    /// the other norms). Its output is `255·sigmoid(·)`, in 0..255.
    pub fn forward_mix(&self, x: &Tensor, mix: Option<&Tensor>, train: bool) -> Result<Tensor> {
        if let (Norm::Conditional { styles }, Some(m)) = (self.arch.norm, mix) {
            if m.size() != [x.size()[0], styles as i64] {
                return Err(Error::invalid(
                    "styles",
                    format!(
                        "weights of shape {:?} for {} images and {styles} styles",
                        m.size(),
                        x.size()[0]
                    ),
                ));
            }
        }
        let [c1, c2, c3] = &self.convs;
        let [n1, n2, n3, n4, n5] = &self.norms;
        let [d1, d2, d3] = &self.deconvs;
        let mut y = n1.forward(&c1.forward(x)?, mix, train)?.f_relu()?;
        y = n2.forward(&c2.forward(&y)?, mix, train)?.f_relu()?;
        y = n3.forward(&c3.forward(&y)?, mix, train)?.f_relu()?;
        for r in &self.res {
            y = r.forward(&y, mix, train)?;
        }
        y = n4.forward(&d1.forward(&y)?, mix, train)?.f_relu()?;
        y = n5.forward(&d2.forward(&y)?, mix, train)?.f_relu()?;
        let y = d3.forward(&y)?;
        match &self.out_norm {
            Some(n6) => Ok(n6
                .forward(&y, mix, train)?
                .f_sigmoid()?
                .f_mul_scalar(255.0)?),
            None => Ok(y),
        }
    }
}

/// The network a model file holds: a TransformerNet (one style or CIN) or
/// an MSG-Net, chosen by the arch's norm.
pub enum StyleNet {
    Johnson(Box<TransformerNet>),
    Msg(Box<MsgNet>),
}

impl StyleNet {
    /// Builds the network under `p` (`arch` must be validated).
    pub fn new(p: &nn::Path, arch: Arch) -> Self {
        match arch.norm {
            Norm::Inspiration { styles } => {
                StyleNet::Msg(Box::new(MsgNet::new(p, arch.width, styles)))
            }
            _ => StyleNet::Johnson(Box::new(TransformerNet::new(p, arch))),
        }
    }

    /// See [`TransformerNet::forward_t`].
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        self.forward_mix(x, None, train)
    }

    /// See [`TransformerNet::forward_mix`]; an MSG-Net mixes its stored Gram
    /// targets by the same weights.
    pub fn forward_mix(&self, x: &Tensor, mix: Option<&Tensor>, train: bool) -> Result<Tensor> {
        match self {
            StyleNet::Johnson(n) => n.forward_mix(x, mix, train),
            StyleNet::Msg(m) => m.forward_mix(
                x,
                mix.ok_or_else(|| {
                    Error::invalid("styles", "a multi-style network needs style weights")
                })?,
            ),
        }
    }

    /// The MSG-Net, if it is one.
    pub fn msg(&self) -> Option<&MsgNet> {
        match self {
            StyleNet::Msg(m) => Some(m),
            StyleNet::Johnson(_) => None,
        }
    }
}

/// Number of parameters (weights and biases, not running statistics) of `arch`.
pub fn parameter_count(vs: &nn::VarStore) -> i64 {
    vs.trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum()
}
