"""Microbenchmark that motivated the engine's channels-last layout on the CPU:
one VGG19 forward to relu5_1 plus the backward to the input, plain PyTorch, in
the default (NCHW) layout against channels-last (NHWC, oneDNN's preferred layout on CPU), with ReLUs out of
place or in place. Prints the median seconds of each, alternating.

usage: .venv/bin/python bench/channels_last.py [SIZE] [ROUNDS]
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
from vggref import MEAN_BGR, layer_names, read_safetensors  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAPS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"]


def evaluation(weights, x, inplace):
    order = layer_names()
    last = max(order.index(t) for t in TAPS)
    h = x.flip(1) * 255.0 - torch.tensor(MEAN_BGR).view(1, 3, 1, 1)
    out = {}
    for name in order[: last + 1]:
        if name.startswith("conv"):
            h = F.conv2d(h, weights[name + ".weight"], weights[name + ".bias"], padding=1)
        elif name.startswith("relu"):
            h = F.relu_(h) if inplace else F.relu(h)
        else:
            h = F.max_pool2d(h, 2, 2)
        if name in TAPS:
            out[name] = h
    loss = sum((f.reshape(f.shape[1], -1) @ f.reshape(f.shape[1], -1).t()).sum() for f in out.values())
    x.grad = None
    loss.backward()


def main():
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    torch.set_num_threads(os.cpu_count())
    w = read_safetensors(os.path.join(ROOT, "weights/vgg19.safetensors"))
    cl = {k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v for k, v in w.items()}
    base = torch.rand(1, 3, size * 2 // 3, size)
    modes = {
        "nchw": (w, base, False),
        "nchw, relu in place": (w, base, True),
        "channels-last": (cl, base.contiguous(memory_format=torch.channels_last), False),
        "channels-last, relu in place": (cl, base.contiguous(memory_format=torch.channels_last), True),
    }
    times = {m: [] for m in modes}
    for _ in range(rounds):
        for m, (weights, x0, inplace) in modes.items():
            x = x0.clone().requires_grad_(True)
            t = time.perf_counter()
            evaluation(weights, x, inplace)
            times[m].append(time.perf_counter() - t)
    ref = statistics.median(times["nchw"])
    for m, ts in times.items():
        med = statistics.median(ts)
        print(f"{m:>30}: {med:.4f} s  ({med / ref:.2f} of nchw)")


if __name__ == "__main__":
    main()
