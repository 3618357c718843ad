#!/usr/bin/env python3
"""Golden reference for atelier's masks (src/engine/gatys/guides.rs, the guided Gram in
src/engine/nets/losses.rs).

A soft 40x56 mask brought to VGG19's style layers in both modes, each normalised so that
mean(g^2) = 1 (Gatys et al. 2017, NeuralImageSynthesis `LossLayers.lua`):

- `simple` (Gatys): nearest resize to the layer's size (the input's size // stride);
- `propagate` (genekogan/neural_style `model.py`): through the network's stages, a 3x3
  stride-1 average at each convolution and a bilinear halving at each pooling.

And guided Grams: random features at relu3_1's size (10x14, 8 channels) times a guide,
F F^T / (C H W). Writes tests/golden/masks.safetensors: `mask`, `features`,
`<mode>.<layer>` for each layer and mode, `gram.<mode>` (the guided Gram with that mode's
relu3_1 guide) and `gram.none` (no guide).
"""
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from golden_transformer import write_safetensors  # noqa: E402  (same hand-written format)

ROOT = Path(__file__).resolve().parent.parent
BLOCKS = [2, 2, 4, 4, 4]
LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"]


def stages(layer):
    """VGG19's stages from conv1_1 to `layer`: ("conv"|"relu"|"pool", name)."""
    out = []
    for b, n in enumerate(BLOCKS, 1):
        for i in range(1, n + 1):
            out.append(("conv", f"conv{b}_{i}"))
            out.append(("relu", f"relu{b}_{i}"))
            if out[-1][1] == layer:
                return out
        out.append(("pool", f"pool{b}"))
    raise ValueError(layer)


def normalise(g):
    return g / g.pow(2).mean().sqrt()


def simple(mask, layer):
    stride = 2 ** sum(1 for kind, _ in stages(layer) if kind == "pool")
    h, w = mask.shape[2] // stride, mask.shape[3] // stride
    return normalise(F.interpolate(mask, size=(h, w), mode="nearest"))


def propagate(mask, layer):
    g = mask
    for kind, _ in stages(layer):
        if kind == "conv":
            g = F.avg_pool2d(g, 3, stride=1, padding=1, count_include_pad=False)
        elif kind == "pool":
            g = F.interpolate(g, size=(g.shape[2] // 2, g.shape[3] // 2), mode="bilinear",
                              align_corners=False)
    return normalise(g)


def gram(f):
    _, c, h, w = f.shape
    m = f.reshape(c, h * w)
    return m @ m.t() / (c * h * w)


def main():
    torch.manual_seed(29)
    ys = torch.linspace(0, 1, 40).view(40, 1)
    xs = torch.linspace(0, 1, 56).view(1, 56)
    # A diagonal region with a soft edge and a hole: white, grey and black all occur.
    mask = ((xs + 0.5 * ys - 0.6) * 4).clamp(0, 1)
    mask[5:12, 30:44] = 0.0
    mask = mask.view(1, 1, 40, 56)
    out = {"mask": mask}
    for layer in LAYERS:
        out[f"simple.{layer}"] = simple(mask, layer)
        out[f"propagate.{layer}"] = propagate(mask, layer)
    features = torch.rand(1, 8, 10, 14)
    out["features"] = features
    out["gram.none"] = gram(features)
    for mode in ["simple", "propagate"]:
        out[f"gram.{mode}"] = gram(features * out[f"{mode}.relu3_1"])
    write_safetensors(ROOT / "tests/golden/masks.safetensors", out)


if __name__ == "__main__":
    main()
