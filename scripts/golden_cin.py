#!/usr/bin/env python3
"""Golden reference for atelier's conditional-instance-norm network (Norm::Conditional in
src/engine/fast/transformer.rs).

pytorch/examples' TransformerNet (layer names, reflection padding, nearest upsampling) with
every instance norm made conditional as magenta's image_stylization ops.py does it:
per-style tables gamma/beta of shape [styles, C] (stored as `in*.weight` / `in*.bias`),
moments over H, W (biased variance, eps 1e-5), a style picked with a gather of its row
(`conditional_instance_norm`) or mixed as sum_i w_i * row_i (`weighted_instance_norm`);
a norm after the last convolution too (`in6`, 3 channels) and a sigmoid output, scaled to
0..255 here as the input is. Writes, at width 0.0625, 3 styles, a 32x32 input:

tests/golden/cin.safetensors: `cin.<key>` weights, `input` [2, 3, 32, 32] (RGB 0-255),
`mix` [2, 3] (image 0: style 1 alone; image 1: 0.2/0.5/0.3), `out_mix` (the forward with
per-image weights, mixing done by weighted sums), `out_style2` (both images, style 2 by
gather).
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden_transformer import write_safetensors  # noqa: E402  (same hand-written format)

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 0.0625
SIZE = 32
STYLES = 3


def ch(c):
    return max(1, int(round(c * WIDTH)))


class CondNorm(torch.nn.Module):
    """gamma, beta: [styles, C]; `cond` is an int (gather) or weights [N, styles] (sum)."""

    def __init__(self, c):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(STYLES, c))
        self.bias = torch.nn.Parameter(torch.zeros(STYLES, c))

    def forward(self, x, cond):
        mean = x.mean(dim=(2, 3), keepdim=True)
        var = ((x - mean) ** 2).mean(dim=(2, 3), keepdim=True)
        if isinstance(cond, int):
            g = self.weight[cond].view(1, -1, 1, 1)
            b = self.bias[cond].view(1, -1, 1, 1)
        else:
            g = torch.stack([(w[:, None] * self.weight).sum(0) for w in cond])[:, :, None, None]
            b = torch.stack([(w[:, None] * self.bias).sum(0) for w in cond])[:, :, None, None]
        return (x - mean) / torch.sqrt(var + 1e-5) * g + b


class ConvLayer(torch.nn.Module):
    def __init__(self, cin, cout, k, stride, upsample=None):
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = torch.nn.ReflectionPad2d(k // 2)
        self.conv2d = torch.nn.Conv2d(cin, cout, k, stride)

    def forward(self, x):
        if self.upsample:
            x = torch.nn.functional.interpolate(x, mode="nearest", scale_factor=self.upsample)
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = ConvLayer(c, c, 3, 1)
        self.in1 = CondNorm(c)
        self.conv2 = ConvLayer(c, c, 3, 1)
        self.in2 = CondNorm(c)

    def forward(self, x, cond):
        y = torch.relu(self.in1(self.conv1(x), cond))
        return self.in2(self.conv2(y), cond) + x


class CinNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        a, b, c = ch(32), ch(64), ch(128)
        self.conv1 = ConvLayer(3, a, 9, 1)
        self.in1 = CondNorm(a)
        self.conv2 = ConvLayer(a, b, 3, 2)
        self.in2 = CondNorm(b)
        self.conv3 = ConvLayer(b, c, 3, 2)
        self.in3 = CondNorm(c)
        for k in range(1, 6):
            setattr(self, f"res{k}", ResidualBlock(c))
        self.deconv1 = ConvLayer(c, b, 3, 1, upsample=2)
        self.in4 = CondNorm(b)
        self.deconv2 = ConvLayer(b, a, 3, 1, upsample=2)
        self.in5 = CondNorm(a)
        self.deconv3 = ConvLayer(a, 3, 9, 1)
        self.in6 = CondNorm(3)

    def forward(self, x, cond):
        y = torch.relu(self.in1(self.conv1(x), cond))
        y = torch.relu(self.in2(self.conv2(y), cond))
        y = torch.relu(self.in3(self.conv3(y), cond))
        for k in range(1, 6):
            y = getattr(self, f"res{k}")(y, cond)
        y = torch.relu(self.in4(self.deconv1(y), cond))
        y = torch.relu(self.in5(self.deconv2(y), cond))
        return 255.0 * torch.sigmoid(self.in6(self.deconv3(y), cond))


def randomise(net, gen):
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if "conv2d" in name and name.endswith("weight"):
                t.copy_(torch.randn(t.shape, generator=gen) * (2.0 / t[0].numel()) ** 0.5)
            elif name.endswith(".weight"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)  # gamma rows differ per style
            else:
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1)


def main():
    gen = torch.Generator().manual_seed(16)
    yy, xx = torch.meshgrid(torch.arange(SIZE, dtype=torch.float32), torch.arange(SIZE, dtype=torch.float32), indexing="ij")
    imgs = []
    for phase in (0.0, 2.0):
        imgs.append(torch.stack([127.5 + 127.5 * torch.sin(0.3 * yy + 0.7 * xx + 1.1 * c + phase) * torch.cos(0.02 * yy * xx + c) for c in range(3)]))
    x = torch.stack(imgs)
    mix = torch.tensor([[0.0, 1.0, 0.0], [0.2, 0.5, 0.3]])
    net = CinNet()
    randomise(net, gen)
    with torch.no_grad():
        out = {"input": x, "mix": mix, "out_mix": net(x, mix), "out_style2": net(x, 2)}
        # The one-hot row and the gather agree (the reference is self-consistent).
        assert torch.allclose(net(x[:1], 1), out["out_mix"][:1], atol=1e-4)
    for k, v in net.state_dict().items():
        out[f"cin.{k}"] = v
    write_safetensors(ROOT / "tests/golden/cin.safetensors", out)
    for k in ("out_mix", "out_style2"):
        print(k, float(out[k].mean()), float(out[k].std()))


if __name__ == "__main__":
    main()
