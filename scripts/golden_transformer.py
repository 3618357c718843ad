#!/usr/bin/env python3
"""Golden reference for atelier's fast-style network (src/engine/fast/transformer.rs).

TransformerNet as in pytorch/examples fast_neural_style/neural_style/transformer_net.py,
with two options added: a width multiplier (channels 32/64/128 scaled and rounded) and
norm = instance | batch (batch norm in eval mode with running statistics). Writes, at
width 0.0625 on a 32x32 input (small files):

- tests/golden/transformer.safetensors: `instance.<key>` and `batch.<key>` weights (the
  pytorch/examples key names), `input` (RGB 0-255), `out_instance`, `out_batch`;
- tests/golden/transformer_import.pth: the instance-norm state dict as torch.save writes it,
  with the legacy `in*.running_mean/var` keys of the 2017 published models added, for
  `atelier models import`;
- tests/golden/transformer_other.pth: the same with a `res6` tensor, another architecture.

The safetensors file is written by hand (the format is a JSON header and raw bytes) so the
script needs only torch.
"""
import json
import struct
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 0.0625
SIZE = 32


def ch(c):
    return max(1, int(round(c * WIDTH)))


class ConvLayer(torch.nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride):
        super().__init__()
        self.reflection_pad = torch.nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x):
        return self.conv2d(self.reflection_pad(x))


class UpsampleConvLayer(torch.nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride, upsample=None):
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = torch.nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x):
        if self.upsample:
            x = torch.nn.functional.interpolate(x, mode="nearest", scale_factor=self.upsample)
        return self.conv2d(self.reflection_pad(x))


def norm(kind, c):
    if kind == "instance":
        return torch.nn.InstanceNorm2d(c, affine=True)
    return torch.nn.BatchNorm2d(c, affine=True)


class ResidualBlock(torch.nn.Module):
    def __init__(self, channels, kind):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in1 = norm(kind, channels)
        self.conv2 = ConvLayer(channels, channels, kernel_size=3, stride=1)
        self.in2 = norm(kind, channels)
        self.relu = torch.nn.ReLU()

    def forward(self, x):
        residual = x
        out = self.relu(self.in1(self.conv1(x)))
        out = self.in2(self.conv2(out))
        return out + residual


class TransformerNet(torch.nn.Module):
    def __init__(self, kind):
        super().__init__()
        a, b, c = ch(32), ch(64), ch(128)
        self.conv1 = ConvLayer(3, a, kernel_size=9, stride=1)
        self.in1 = norm(kind, a)
        self.conv2 = ConvLayer(a, b, kernel_size=3, stride=2)
        self.in2 = norm(kind, b)
        self.conv3 = ConvLayer(b, c, kernel_size=3, stride=2)
        self.in3 = norm(kind, c)
        self.res1 = ResidualBlock(c, kind)
        self.res2 = ResidualBlock(c, kind)
        self.res3 = ResidualBlock(c, kind)
        self.res4 = ResidualBlock(c, kind)
        self.res5 = ResidualBlock(c, kind)
        self.deconv1 = UpsampleConvLayer(c, b, kernel_size=3, stride=1, upsample=2)
        self.in4 = norm(kind, b)
        self.deconv2 = UpsampleConvLayer(b, a, kernel_size=3, stride=1, upsample=2)
        self.in5 = norm(kind, a)
        self.deconv3 = ConvLayer(a, 3, kernel_size=9, stride=1)
        self.relu = torch.nn.ReLU()

    def forward(self, X):
        y = self.relu(self.in1(self.conv1(X)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        y = self.res1(y)
        y = self.res2(y)
        y = self.res3(y)
        y = self.res4(y)
        y = self.res5(y)
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        y = self.deconv3(y)
        return y


def randomise(net, gen):
    """Non-trivial affine and running statistics, so the test sees them used."""
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif name.endswith("running_mean"):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.2)
            elif ".weight" in name and not name.split(".")[-2].startswith("conv2d"):
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)  # norm scale
            elif "conv2d" in name and name.endswith("weight"):
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1)


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        flat = t.detach().to(torch.float32).flatten().tolist()
        data = struct.pack(f"<{len(flat)}f", *flat)
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    gen = torch.Generator().manual_seed(15)
    yy, xx = torch.meshgrid(torch.arange(SIZE, dtype=torch.float32), torch.arange(SIZE, dtype=torch.float32), indexing="ij")
    x = torch.stack([127.5 + 127.5 * torch.sin(0.3 * yy + 0.7 * xx + 1.1 * c) * torch.cos(0.02 * yy * xx + c) for c in range(3)])
    x = x.unsqueeze(0)
    out = {"input": x}
    for kind in ("instance", "batch"):
        net = TransformerNet(kind)
        randomise(net, gen)
        net.eval()
        with torch.no_grad():
            out[f"out_{kind}"] = net(x)
        for k, v in net.state_dict().items():
            if not k.endswith("num_batches_tracked"):
                out[f"{kind}.{k}"] = v
        if kind == "instance":
            sd = dict(net.state_dict())
            # The 2017 published models carry these stray keys (pytorch/examples#367).
            for k in list(sd):
                if k.endswith(".weight") and k.split(".")[-2].startswith("in"):
                    base = k[: -len("weight")]
                    sd[base + "running_mean"] = torch.zeros_like(sd[k])
                    sd[base + "running_var"] = torch.ones_like(sd[k])
            torch.save(sd, ROOT / "tests/golden/transformer_import.pth")
            # Another architecture: a sixth residual block.
            other = {k: v for k, v in net.state_dict().items()}
            other["res6.conv1.conv2d.weight"] = other["res5.conv1.conv2d.weight"].clone()
            torch.save(other, ROOT / "tests/golden/transformer_other.pth")
    write_safetensors(ROOT / "tests/golden/transformer.safetensors", out)
    for k in ("out_instance", "out_batch"):
        print(k, float(out[k].mean()), float(out[k].std()))


if __name__ == "__main__":
    main()
