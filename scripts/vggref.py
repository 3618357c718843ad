"""Plain PyTorch VGG19 on weights/vgg19.safetensors: the reference that the
golden files and the benchmark compare atelier against. No numpy needed."""

import json
import struct
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

MEAN_BGR = [103.939, 116.779, 123.68]
BLOCKS = [2, 2, 4, 4, 4]


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(meta["shape"])
    return out


def layer_names():
    names = []
    for b, n in enumerate(BLOCKS, start=1):
        for k in range(1, n + 1):
            names += [f"conv{b}_{k}", f"relu{b}_{k}"]
        names.append(f"pool{b}")
    return names


def features(weights, rgb, taps, pooling="max"):
    """Activations at `taps` for an RGB image in [0,1], shape [1,3,H,W]."""
    order = layer_names()
    last = max(order.index(t) for t in taps)
    x = rgb.flip(1) * 255.0 - torch.tensor(MEAN_BGR, device=rgb.device).view(1, 3, 1, 1)
    out = {}
    for name in order[: last + 1]:
        if name.startswith("conv"):
            x = F.conv2d(x, weights[name + ".weight"], weights[name + ".bias"], padding=1)
        elif name.startswith("relu"):
            x = F.relu(x)
        else:
            x = F.max_pool2d(x, 2, 2) if pooling == "max" else F.avg_pool2d(x, 2, 2)
        if name in taps:
            out[name] = x
    return out
