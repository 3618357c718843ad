#!/usr/bin/env python3
"""Golden reference for atelier's AdaIN (src/engine/arbitrary/{encoder,adain,decoder,import}.rs).

naoto0804/pytorch-AdaIN's `net.py` networks (the `vgg` encoder: a 1x1 conv, VGG19 with
reflection padding and ceil-mode max pooling; the `decoder`) and `function.py`'s
`adaptive_instance_normalization`, built layer for layer as they are there but with every
channel count divided by 32 (64 -> 2, 128 -> 4, 256 -> 8, 512 -> 16) so the files stay
small. Random weights, seeded. Writes:

- tests/golden/adain.safetensors: `input` and `style` (RGB in [0, 1]), the encoder's
  `relu1_1` ... `relu5_1` of the input, `adain` (AdaIN of the input's relu4_1 with the
  style's), `decoded` (the decoder on `adain`), and the weights as `vgg.<key>`, `decoder.<key>`;
- tests/golden/adain_vgg.pth, tests/golden/adain_decoder.pth: the two state dicts as
  torch.save writes them, with naoto0804's key names, for `atelier models import --arch adain`.
"""
import json
import struct
from pathlib import Path

import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parent.parent
DIV = 32


def c(n):
    return n // DIV


def vgg():
    # net.py's `vgg`, channels / DIV.
    layers = [nn.Conv2d(3, 3, (1, 1))]
    plan = [(3, 64), (64, 64), "M", (64, 128), (128, 128), "M", (128, 256), (256, 256), (256, 256),
            (256, 256), "M", (256, 512), (512, 512), (512, 512), (512, 512), "M", (512, 512),
            (512, 512), (512, 512), (512, 512)]
    for p in plan:
        if p == "M":
            layers.append(nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=True))
        else:
            cin = 3 if p[0] == 3 else c(p[0])
            layers += [nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(cin, c(p[1]), (3, 3)), nn.ReLU()]
    return nn.Sequential(*layers)


def decoder():
    # net.py's `decoder`, channels / DIV.
    layers = []
    plan = [(512, 256), "U", (256, 256), (256, 256), (256, 256), (256, 128), "U", (128, 128),
            (128, 64), "U", (64, 64), (64, 3)]
    for i, p in enumerate(plan):
        if p == "U":
            layers.append(nn.UpsamplingNearest2d(scale_factor=2))
            continue
        cout = 3 if p[1] == 3 else c(p[1])
        layers += [nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(c(p[0]), cout, (3, 3))]
        if i != len(plan) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def calc_mean_std(feat, eps=1e-5):
    # function.py, as it is.
    size = feat.size()
    N, C = size[:2]
    feat_var = feat.view(N, C, -1).var(dim=2) + eps
    feat_std = feat_var.sqrt().view(N, C, 1, 1)
    feat_mean = feat.view(N, C, -1).mean(dim=2).view(N, C, 1, 1)
    return feat_mean, feat_std


def adaptive_instance_normalization(content_feat, style_feat):
    size = content_feat.size()
    style_mean, style_std = calc_mean_std(style_feat)
    content_mean, content_std = calc_mean_std(content_feat)
    normalized_feat = (content_feat - content_mean.expand(size)) / content_std.expand(size)
    return normalized_feat * style_std.expand(size) + style_mean.expand(size)


def randomise(net, gen):
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if name.endswith("weight"):
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
            else:
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1 + 0.05)


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


def pattern(h, w, phase):
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    x = torch.stack([0.5 + 0.5 * torch.sin(0.3 * yy + 0.7 * xx + 1.1 * k + phase) * torch.cos(0.02 * yy * xx + k) for k in range(3)])
    return x.unsqueeze(0)


def main():
    gen = torch.Generator().manual_seed(17)
    enc, dec = vgg(), decoder()
    randomise(enc, gen)
    randomise(dec, gen)
    x, s = pattern(32, 32, 0.0), pattern(24, 40, 2.0)
    out = {"input": x, "style": s}
    layers = list(enc.children())
    # Net's slices, extended to relu5_1 for WCT: [:4] relu1_1, [4:11], [11:18], [18:31], [31:44].
    cuts = [0, 4, 11, 18, 31, 44]
    with torch.no_grad():
        h, hs = x, s
        for lvl in range(5):
            seq = nn.Sequential(*layers[cuts[lvl]:cuts[lvl + 1]])
            h, hs = seq(h), seq(hs)
            out[f"relu{lvl + 1}_1"] = h
            if lvl == 3:
                out["adain"] = adaptive_instance_normalization(h, hs)
        out["decoded"] = dec(out["adain"])
    for k, v in enc.state_dict().items():
        out[f"vgg.{k}"] = v
    for k, v in dec.state_dict().items():
        out[f"decoder.{k}"] = v
    write_safetensors(ROOT / "tests/golden/adain.safetensors", out)
    torch.save(dict(enc.state_dict()), ROOT / "tests/golden/adain_vgg.pth")
    torch.save(dict(dec.state_dict()), ROOT / "tests/golden/adain_decoder.pth")
    print("decoder keys", list(dec.state_dict().keys()))
    print("decoded", float(out["decoded"].mean()), float(out["decoded"].std()))


if __name__ == "__main__":
    main()
