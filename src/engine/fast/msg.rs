//! MSG-Net, the multi-style generative network of Zhang & Dana (2017), laid
//! out as zhanghang1989/PyTorch-Multi-Style-Transfer's `experiments/net.py`
//! builds it (the same parameter names, so `scripts/golden_msg.py` checks it):
//! a siamese encoder `model1` (c7s1, instance norm, ReLU, two down-sampling
//! pre-activation bottlenecks); the CoMatch ("Inspiration") layer
//! `Y = (W·G)ᵀ·X` that tunes the content's features with a target Gram matrix
//! `G` of the style's encoding; six bottlenecks; two up-sampling bottlenecks;
//! instance norm, ReLU and a c7s1 to RGB. Instance norms have no affine
//! parameters (net.py's `nn.InstanceNorm2d`).
//!
//! Differences from net.py, on purpose: RGB 0..255 in and out (net.py feeds
//! BGR; our networks are trained here, so only the convention changes), a
//! width multiplier on the channel counts 64/32/16 and ngf 128 (net.py's
//! training default), and the Gram targets of the styles it was trained on
//! stored as `targets` `[styles, C, C]`, so a trained style (or a mix of them,
//! `Σ wᵢGᵢ`) needs no image at apply time.

use tch::{nn, Kind, Tensor};

use super::layers::{gram_batch, instance_norm, Conv};
use crate::engine::infra::error::{Error, Result};

/// Bottleneck expansion (net.py's `expansion = 4`).
const EXPANSION: i64 = 4;
/// Residual blocks between the Inspiration layer and the up-sampling.
const BLOCKS: usize = 6;

/// Channel counts at `width`: the stem (64), the first and second
/// up-sampling stages (32, 16) and ngf (128); at least 1 each.
pub fn channels(width: f64) -> [i64; 4] {
    [64.0, 32.0, 16.0, 128.0].map(|c: f64| ((c * width).round() as i64).max(1))
}

/// The Inspiration layer's size `C` (ngf × 4) at `width`.
pub fn inspiration_channels(width: f64) -> i64 {
    channels(width)[3] * EXPANSION
}

/// Instance norm without affine parameters, ε 1e-5, then ReLU.
fn norm_relu(x: &Tensor) -> Result<Tensor> {
    Ok(instance_norm(x, None)?.f_relu()?)
}

/// net.py's `Bottleneck` (down = false) or `UpBottleneck` (down = true):
/// pre-activation IN, ReLU, 1×1; IN, ReLU, 3×3 (stride or ×2 up-sampling);
/// IN, ReLU, 1×1 to planes × 4; plus the residual (identity, a strided 1×1,
/// or an up-sampled 1×1).
struct Bottleneck {
    residual: Option<Conv>,
    c1: Conv,
    c2: Conv,
    c3: Conv,
}

impl Bottleneck {
    fn new(p: nn::Path, cin: i64, planes: i64, stride: i64, downsample: bool) -> Self {
        let out = planes * EXPANSION;
        Self {
            residual: downsample
                .then(|| Conv::new(&p / "residual_layer", cin, out, 1, stride, false)),
            c1: Conv::new(&p / "conv_block" / "2", cin, planes, 1, 1, false),
            c2: Conv::new(
                &p / "conv_block" / "5" / "conv2d",
                planes,
                planes,
                3,
                stride,
                true,
            ),
            c3: Conv::new(&p / "conv_block" / "8", planes, out, 1, 1, false),
        }
    }

    fn new_up(p: nn::Path, cin: i64, planes: i64) -> Self {
        let out = planes * EXPANSION;
        Self {
            residual: Some(Conv::new(&p / "residual_layer" / "conv2d", cin, out, 1, 1, false).up()),
            c1: Conv::new(&p / "conv_block" / "2", cin, planes, 1, 1, false),
            c2: Conv::new(
                &p / "conv_block" / "5" / "conv2d",
                planes,
                planes,
                3,
                1,
                true,
            )
            .up(),
            c3: Conv::new(&p / "conv_block" / "8", planes, out, 1, 1, false),
        }
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let r = match &self.residual {
            Some(c) => c.forward(x)?,
            None => x.shallow_clone(),
        };
        let y = self.c1.forward(&norm_relu(x)?)?;
        let y = self.c2.forward(&norm_relu(&y)?)?;
        let y = self.c3.forward(&norm_relu(&y)?)?;
        Ok(r.f_add(&y)?)
    }
}

/// The network; its variables live in the `nn::Path` it was built on.
pub struct MsgNet {
    stem: Conv,
    down: [Bottleneck; 2],
    /// The Inspiration layer's `W`, `[1, C, C]`.
    ins: Tensor,
    blocks: Vec<Bottleneck>,
    up: [Bottleneck; 2],
    out: Conv,
    /// Gram targets of the trained styles, `[styles, C, C]` (not trained).
    targets: Tensor,
    c: i64,
    styles: i64,
}

impl MsgNet {
    /// Builds the network under `p` for `styles` trained styles.
    pub fn new(p: &nn::Path, width: f64, styles: usize) -> Self {
        let [c64, c32, c16, ngf] = channels(width);
        let c = ngf * EXPANSION;
        let m1 = p / "model1";
        let m = p / "model";
        let ins = (p / "ins").var(
            "weight",
            &[1, c, c],
            nn::Init::Uniform { lo: 0.0, up: 0.02 },
        );
        let targets = p.zeros_no_train("targets", &[styles as i64, c, c]);
        Self {
            stem: Conv::new(&m1 / "0" / "conv2d", 3, c64, 7, 1, true),
            down: [
                Bottleneck::new(&m1 / "3", c64, c32, 2, true),
                Bottleneck::new(&m1 / "4", c32 * EXPANSION, ngf, 2, true),
            ],
            ins,
            blocks: (0..BLOCKS)
                .map(|i| Bottleneck::new(&m / (i + 2).to_string(), c, ngf, 1, false))
                .collect(),
            up: [
                Bottleneck::new_up(&m / (BLOCKS + 2).to_string(), c, c32),
                Bottleneck::new_up(&m / (BLOCKS + 3).to_string(), c32 * EXPANSION, c16),
            ],
            out: Conv::new(
                &m / (BLOCKS + 6).to_string() / "conv2d",
                c16 * EXPANSION,
                3,
                7,
                1,
                true,
            ),
            targets,
            c,
            styles: styles as i64,
        }
    }

    /// The siamese encoder `model1`: `[N, C, H/4, W/4]`.
    fn encode(&self, x: &Tensor) -> Result<Tensor> {
        let y = norm_relu(&self.stem.forward(x)?)?;
        let y = self.down[0].forward(&y)?;
        self.down[1].forward(&y)
    }

    /// The Gram target of a style image (RGB 0..255, `[1, 3, H, W]`):
    /// `F Fᵀ / (C·H·W)` of its encoding, `[1, C, C]`. Differentiable (the
    /// encoder is shared and trains through it).
    pub fn target(&self, style: &Tensor) -> Result<Tensor> {
        gram_batch(&self.encode(style)?)
    }

    /// Stores the targets of the trained styles (one image each, in order).
    pub fn set_targets(&self, styles: &[Tensor]) -> Result<()> {
        if styles.len() as i64 != self.styles {
            return Err(Error::invalid(
                "styles",
                format!("{} images for {} styles", styles.len(), self.styles),
            ));
        }
        tch::no_grad(|| -> Result<()> {
            for (i, s) in styles.iter().enumerate() {
                let g = self.target(s)?;
                self.targets.get(i as i64).f_copy_(&g.f_squeeze_dim(0)?)?;
            }
            Ok(())
        })
    }

    /// The stored target of a mix of trained styles, `mix` `[N, styles]`:
    /// `Σ wᵢGᵢ`, `[N, C, C]` (a one-hot row gives the style's own target).
    pub fn mixed_target(&self, mix: &Tensor) -> Result<Tensor> {
        let n = mix.size()[0];
        if mix.size() != [n, self.styles] {
            return Err(Error::invalid(
                "styles",
                format!(
                    "weights of shape {:?} for a network of {} styles",
                    mix.size(),
                    self.styles
                ),
            ));
        }
        let flat = self.targets.f_reshape([self.styles, self.c * self.c])?;
        Ok(mix
            .f_to_kind(Kind::Float)?
            .f_matmul(&flat)?
            .f_reshape([n, self.c, self.c])?)
    }

    /// RGB 0..255 in, RGB ≈ 0..255 out (not clamped), styled after the Gram
    /// target `g` (`[1, C, C]` for every image, or `[N, C, C]` one each).
    pub fn forward_gram(&self, x: &Tensor, g: &Tensor) -> Result<Tensor> {
        let f = self.encode(x)?;
        let (n, c, h, w) = f.size4()?;
        let b = g.size()[0];
        if g.size() != [b, c, c] || (b != 1 && b != n) {
            return Err(Error::invalid(
                "style",
                format!(
                    "a Gram target of shape {:?} for {n} images of {c} channels",
                    g.size()
                ),
            ));
        }
        let p = self.ins.f_expand([b, c, c], false)?.f_bmm(g)?;
        let p = p.f_transpose(1, 2)?.f_expand([n, c, c], false)?;
        let mut y = p
            .f_bmm(&f.f_reshape([n, c, h * w])?)?
            .f_reshape([n, c, h, w])?;
        for blk in &self.blocks {
            y = blk.forward(&y)?;
        }
        y = self.up[0].forward(&y)?;
        y = self.up[1].forward(&y)?;
        self.out.forward(&norm_relu(&y)?)
    }

    /// As [`MsgNet::forward_gram`] with the stored targets mixed by `mix`.
    pub fn forward_mix(&self, x: &Tensor, mix: &Tensor) -> Result<Tensor> {
        if mix.size()[0] != x.size()[0] {
            return Err(Error::invalid(
                "styles",
                format!(
                    "style weights for {} images, {} given",
                    mix.size()[0],
                    x.size()[0]
                ),
            ));
        }
        let g = self.mixed_target(mix)?;
        self.forward_gram(x, &g)
    }
}
