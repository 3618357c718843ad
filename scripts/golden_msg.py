#!/usr/bin/env python3
"""Golden reference for atelier's MSG-Net (src/engine/fast/msg.rs).

Zhang & Dana's multi-style generative network as zhanghang1989/PyTorch-Multi-Style-Transfer's
experiments/net.py lays it out, written out here from its description (README's REFERENCES):
ConvLayer = reflection pad k//2 + conv; UpsampleConvLayer = nearest x2, pad, conv; pre-activation
Bottleneck (IN, ReLU, 1x1; IN, ReLU, 3x3 stride s; IN, ReLU, 1x1 to 4x planes; residual a strided
1x1 when down-sampling); UpBottleneck (the same with the 3x3 and the residual 1x1 up-sampled);
instance norms without affine parameters; the Inspiration layer Y = (W G)^T X with
G = Gram(model1(style)) / (C H W). The same nn.Sequential nesting, so the state-dict keys are
net.py's (`model1.*`, `ins.weight`, `model.2.*` ...; the `model.0`/`model.1` aliases of model1
and ins are left out). Channels 64/32/16 and ngf 128 times WIDTH.

Writes tests/golden/msg.safetensors: `msg.<key>` weights and `msg.targets` [2, C, C] (the two
styles' Grams), `style0`, `style1` [1, 3, 24, 24] and `input` [2, 3, 32, 32] (RGB 0-255),
`out_style0` (both images styled by style 0 through setTarget), `mix` [2, 2] and `out_mix`
(image 0: style 1 alone; image 1: 0.3 G0 + 0.7 G1).
"""
import sys
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden_transformer import write_safetensors  # noqa: E402  (same hand-written format)

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 0.125
SIZE = 32


def ch(c):
    return max(1, int(round(c * WIDTH)))


def norm(c):
    return nn.InstanceNorm2d(c)  # affine=False, eps 1e-5, as net.py


class ConvLayer(nn.Module):
    def __init__(self, cin, cout, k, stride, upsample=None):
        super().__init__()
        self.upsample = upsample
        self.pad = k // 2
        self.reflection_pad = nn.ReflectionPad2d(self.pad)
        self.conv2d = nn.Conv2d(cin, cout, k, stride)

    def forward(self, x):
        if self.upsample:
            x = nn.functional.interpolate(x, mode="nearest", scale_factor=self.upsample)
        if self.pad:
            x = self.reflection_pad(x)
        return self.conv2d(x)


class Bottleneck(nn.Module):
    def __init__(self, cin, planes, stride=1, downsample=False):
        super().__init__()
        self.down = downsample
        if downsample:
            self.residual_layer = nn.Conv2d(cin, planes * 4, 1, stride)
        self.conv_block = nn.Sequential(
            norm(cin), nn.ReLU(), nn.Conv2d(cin, planes, 1, 1),
            norm(planes), nn.ReLU(), ConvLayer(planes, planes, 3, stride),
            norm(planes), nn.ReLU(), nn.Conv2d(planes, planes * 4, 1, 1))

    def forward(self, x):
        r = self.residual_layer(x) if self.down else x
        return r + self.conv_block(x)


class UpBottleneck(nn.Module):
    def __init__(self, cin, planes):
        super().__init__()
        self.residual_layer = ConvLayer(cin, planes * 4, 1, 1, upsample=2)
        self.conv_block = nn.Sequential(
            norm(cin), nn.ReLU(), nn.Conv2d(cin, planes, 1, 1),
            norm(planes), nn.ReLU(), ConvLayer(planes, planes, 3, 1, upsample=2),
            norm(planes), nn.ReLU(), nn.Conv2d(planes, planes * 4, 1, 1))

    def forward(self, x):
        return self.residual_layer(x) + self.conv_block(x)


def gram(y):
    b, c, h, w = y.size()
    f = y.view(b, c, h * w)
    return f.bmm(f.transpose(1, 2)) / (c * h * w)


class Inspiration(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(1, c, c).uniform_(0.0, 0.02))
        self.G = None

    def forward(self, x):
        p = torch.bmm(self.weight.expand_as(self.G), self.G)
        n, c = x.size(0), x.size(1)
        return torch.bmm(p.transpose(1, 2).expand(n, c, c), x.view(n, c, -1)).view_as(x)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        c64, c32, c16, ngf = ch(64), ch(32), ch(16), ch(128)
        self.model1 = nn.Sequential(
            ConvLayer(3, c64, 7, 1), norm(c64), nn.ReLU(),
            Bottleneck(c64, c32, 2, True), Bottleneck(c32 * 4, ngf, 2, True))
        self.ins = Inspiration(ngf * 4)
        layers = [self.model1, self.ins]
        layers += [Bottleneck(ngf * 4, ngf) for _ in range(6)]
        layers += [UpBottleneck(ngf * 4, c32), UpBottleneck(c32 * 4, c16), norm(c16 * 4), nn.ReLU(),
                   ConvLayer(c16 * 4, 3, 7, 1)]
        self.model = nn.Sequential(*layers)

    def set_target(self, style):
        self.ins.G = gram(self.model1(style))

    def forward(self, x):
        return self.model(x)


def pattern(size, phase, f=0.3):
    yy, xx = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij")
    return torch.stack([127.5 + 127.5 * torch.sin(f * yy + 0.7 * xx + 1.1 * c + phase) * torch.cos(0.02 * yy * xx + c) for c in range(3)])


def main():
    torch.manual_seed(17)
    net = Net()
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if name.endswith("bias"):
                t.copy_(torch.randn(t.shape) * 0.1)
            elif name != "ins.weight":
                t.copy_(torch.randn(t.shape) * (2.0 / t[0].numel()) ** 0.5)
        # A larger W than net.py's U(0, 0.02) start, so the style's Gram visibly matters.
        net.ins.weight.uniform_(0.0, 2.0)
    x = torch.stack([pattern(SIZE, 0.0), pattern(SIZE, 2.0)])
    s0 = pattern(24, 1.0, 0.9)[None]
    s1 = pattern(24, 3.0, 0.1)[None]
    mix = torch.tensor([[0.0, 1.0], [0.3, 0.7]])
    with torch.no_grad():
        g0, g1 = gram(net.model1(s0)), gram(net.model1(s1))
        net.set_target(s0)
        out_style0 = net(x)
        net.ins.G = torch.cat([g1, 0.3 * g0 + 0.7 * g1])
        out_mix = net(x)
        net.set_target(s1)
        assert torch.allclose(net(x[:1]), out_mix[:1], atol=1e-3)
    out = {"input": x, "style0": s0, "style1": s1, "mix": mix, "out_style0": out_style0, "out_mix": out_mix,
           "msg.targets": torch.cat([g0, g1])}
    for k, v in net.state_dict().items():
        if not (k.startswith("model.0.") or k.startswith("model.1.")):
            out[f"msg.{k}"] = v
    write_safetensors(ROOT / "tests/golden/msg.safetensors", out)
    for k in ("out_style0", "out_mix"):
        print(k, float(out[k].mean()), float(out[k].std()))
    print("style difference", float((out_style0[1] - out_mix[1]).abs().max()))


if __name__ == "__main__":
    main()
