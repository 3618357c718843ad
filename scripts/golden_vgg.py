"""Golden VGG19 activations for tests/vgg.rs, from a plain PyTorch VGG19 on the
same weights file (read here with a minimal safetensors reader).

The input is a fixed 40x48 RGB pattern in [0,1]; the network converts it to the
Caffe convention itself (BGR, 0..255, minus the mean), as atelier must.
Per tap we record the shape, the sum, the sum of absolute values and a few
entries at fixed flat indices.
Run: .venv/bin/python scripts/golden_vgg.py weights/vgg19.safetensors tests/golden/vgg19.json
"""

import json
import math
import sys

from vggref import features as vgg_features  # first: it quiets torch's numpy warning
from vggref import read_safetensors

import torch  # noqa: E402

TAPS = ["conv1_1", "relu1_2", "pool1", "relu2_1", "relu3_1", "pool3", "relu4_2", "relu5_1"]
H, W = 40, 48


def pattern():
    x = torch.empty(1, 3, H, W)
    for c in range(3):
        for h in range(H):
            for w in range(W):
                x[0, c, h, w] = 0.5 + 0.5 * math.sin(0.3 * h + 0.7 * w + 1.1 * c) * math.cos(0.05 * h * w / 7 + c)
    return x


def summary(t):
    flat = t.flatten()
    idx = [int(i * (flat.numel() - 1) / 7) for i in range(8)]
    return {
        "shape": list(t.shape),
        "sum": flat.double().sum().item(),
        "abs_sum": flat.double().abs().sum().item(),
        "indices": idx,
        "values": [flat[i].item() for i in idx],
    }


def main():
    torch.set_num_threads(1)
    weights = read_safetensors(sys.argv[1])
    x = pattern()
    out = {"generator": "scripts/golden_vgg.py", "torch": torch.__version__, "height": H, "width": W}
    for pooling in ["max", "avg"]:
        with torch.no_grad():
            f = vgg_features(weights, x, TAPS, pooling)
        out[pooling] = {tap: summary(f[tap]) for tap in TAPS}
    with open(sys.argv[2], "w") as fh:
        json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
