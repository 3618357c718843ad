//! The layers TransformerNet and MSG-Net share, as pytorch/examples and
//! PyTorch-Multi-Style-Transfer build them alike: the reflection-padded
//! (optionally up-sampling) convolution, instance norm, and the batched Gram
//! matrix the losses and MSG-Net's targets use.

use tch::{nn, Tensor};

use crate::engine::infra::error::Result;

/// A convolution with `ConvLayer`/`UpsampleConvLayer`'s reflection padding
/// (k/2) and optional nearest ×2 up-sampling first, or a plain unpadded
/// `nn.Conv2d`.
pub(crate) struct Conv {
    ws: Tensor,
    bs: Tensor,
    pad: i64,
    stride: i64,
    upsample: bool,
}

impl Conv {
    /// `p` is where `weight` and `bias` live (`…conv2d` for a ConvLayer).
    pub(crate) fn new(
        p: nn::Path,
        cin: i64,
        cout: i64,
        k: i64,
        stride: i64,
        reflect: bool,
    ) -> Self {
        let c = nn::conv2d(
            p,
            cin,
            cout,
            k,
            nn::ConvConfig {
                stride,
                ..Default::default()
            },
        );
        Self {
            ws: c.ws,
            bs: c.bs.unwrap_or_else(Tensor::new),
            pad: if reflect { k / 2 } else { 0 },
            stride,
            upsample: false,
        }
    }

    /// Up-samples (nearest, ×2) before the convolution.
    pub(crate) fn up(mut self) -> Self {
        self.upsample = true;
        self
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut x = x.shallow_clone();
        if self.upsample {
            let (_, _, h, w) = x.size4()?;
            x = x.f_upsample_nearest2d([2 * h, 2 * w], 2.0, 2.0)?;
        }
        if self.pad > 0 {
            let p = self.pad;
            x = x.f_reflection_pad2d([p, p, p, p])?;
        }
        Ok(x.f_conv2d(
            &self.ws,
            Some(&self.bs),
            [self.stride, self.stride],
            [0, 0],
            [1, 1],
            1,
        )?)
    }
}

/// Instance norm over each image's channels (ε 1e-5), with an affine
/// `weight` and `bias` `[C]` when given.
pub(crate) fn instance_norm(x: &Tensor, affine: Option<(&Tensor, &Tensor)>) -> Result<Tensor> {
    Ok(x.f_instance_norm(
        affine.map(|a| a.0),
        affine.map(|a| a.1),
        None::<&Tensor>,
        None::<&Tensor>,
        true,
        0.1,
        1e-5,
        false,
    )?)
}

/// Batched Gram matrices `F Fᵀ / (C·H·W)`, `[N, C, C]`.
pub fn gram_batch(f: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = f.size4()?;
    let m = f.f_reshape([n, c, h * w])?;
    Ok(m.f_bmm(&m.f_transpose(1, 2)?)?
        .f_div_scalar((c * h * w) as f64)?)
}
