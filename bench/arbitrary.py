#!/usr/bin/env python3
"""Seconds per image of `atelier apply adain|wct` against the same networks in PyTorch.

One command, run from the repository root after `cargo build --release`:

    python bench/arbitrary.py [--sizes 256 512] [--width 1 0.5] [--repeat 3]

For each width it makes untrained models with atelier (one iteration of training: the
timing does not depend on the weights), `bench-adain-w<W>` and `bench-wct-w<W>` (five
levels), in a scratch data dir; then stylizes contents/chelsea.png with one bundled
painting at each size: ours by `atelier apply` (the seconds it prints per image, which
exclude loading; the first image of each process is a warm-up and not counted), theirs by
the same encoder (our VGG19, reflection padding, ceil pooling), transform and decoder
(read from the model file) in PyTorch on the same libtorch, timed the same way. CPU
threads: torch's default in both. Prints a table; numbers are wall seconds, median of
--repeat runs.
"""
import argparse
import json
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from proc import ensure_pillow

ensure_pillow()
from PIL import Image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target/release/atelier"
CONTENT = ROOT / "contents/chelsea.png"
STYLE = ROOT / "styles/36131.jpg"
NAMES = [(1, 1), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2), (3, 3), (3, 4), (4, 1), (4, 2), (4, 3), (4, 4), (5, 1)]
TAPS = [0, 2, 4, 8, 12]
POOLS = {2, 4, 8, 12}
MEAN = torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)


def load_st(p):
    b = Path(p).read_bytes()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    meta = h.pop("__metadata__", {})
    out = {}
    for k, v in h.items():
        s, e = v["data_offsets"]
        dt = {"F32": torch.float32, "F16": torch.float16}[v["dtype"]]
        out[k] = torch.frombuffer(bytearray(b[8 + n + s:8 + n + e]), dtype=dt).reshape(v["shape"]).float()
    return out, meta


VGG, _ = load_st(ROOT / "weights/vgg19.safetensors")


def encode(x, level):
    h = x.flip(1) * 255 - MEAN
    for j in range(TAPS[level - 1] + 1):
        if j in POOLS:
            h = F.max_pool2d(h, 2, 2, ceil_mode=True)
        b, i = NAMES[j]
        h = F.relu(F.conv2d(F.pad(h, (1, 1, 1, 1), mode="reflect"), VGG[f"conv{b}_{i}.weight"], VGG[f"conv{b}_{i}.bias"]))
    return h


def decode(t, ops, tensors, level, scale):
    h = t * scale
    for op in ops:
        if op == "Up":
            h = F.interpolate(h, scale_factor=2, mode="nearest")
        else:
            c = op["Conv"]
            k = f"decoder{level}.{c['key']}"
            h = F.conv2d(F.pad(h, (1, 1, 1, 1), mode="reflect"), tensors[k + ".weight"], tensors[k + ".bias"])
            if c["relu"]:
                h = F.relu(h)
    return h


def mean_std(f, eps=1e-5):
    n, c = f.shape[:2]
    v = f.reshape(n, c, -1).var(dim=2) + eps
    return f.reshape(n, c, -1).mean(dim=2).view(n, c, 1, 1), v.sqrt().view(n, c, 1, 1)


def adain(c, s):
    cm, cs = mean_std(c)
    sm, ss = mean_std(s)
    return (c - cm) / cs * ss + sm


def wct(cf, sf, alpha):
    C = cf.shape[1]
    c = cf.double().reshape(C, -1)
    s = sf.double().reshape(C, -1)

    def pw(m, p):
        e, v = torch.linalg.eigh(m)
        d = e.clamp_min(1e-5).pow(p) * (e > 1e-5)
        return (v * d) @ v.T

    cm, sm = c.mean(1, keepdim=True), s.mean(1, keepdim=True)
    cc, sc = c - cm, s - sm
    out = pw(sc @ sc.T / (s.shape[1] - 1), 0.5) @ (pw(cc @ cc.T / (c.shape[1] - 1), -0.5) @ cc) + sm
    return (alpha * out + (1 - alpha) * c).view_as(cf).float()


def to_tensor(img):
    return torch.tensor(list(img.getdata()), dtype=torch.float32).view(img.size[1], img.size[0], 3).permute(2, 0, 1)[None] / 255


def resized(path, size):
    im = Image.open(path).convert("RGB")
    s = size / max(im.size)
    return im.resize((max(1, round(im.size[0] * s)), max(1, round(im.size[1] * s))), Image.LANCZOS)


def pytorch_seconds(model, method, size, repeat):
    tensors, meta = load_st(model)
    info = json.loads(meta["atelier"])
    c = to_tensor(resized(CONTENT, size))
    s = to_tensor(resized(STYLE, size))
    levels = [4] if method == "adain" else [5, 4, 3, 2, 1]

    def run():
        x = c
        h, w = x.shape[2:]
        m = 16 if method == "wct" else 8
        x = F.pad(x, (0, (m - w % m) % m, 0, (m - h % m) % m), mode="reflect")
        hp, wp = x.shape[2:]
        for lv in levels:
            fc, fs = encode(x, lv), encode(s, lv)
            t = adain(fc, fs) if method == "adain" else wct(fc, fs, 0.6)
            x = decode(t, info["decoders"][str(lv)], tensors, lv, info.get("input_scale", {}).get(str(lv), 1.0))[..., :hp, :wp]
        return x[..., :h, :w]

    times = []
    with torch.no_grad():
        run()  # warm-up
        for _ in range(repeat):
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def ours_seconds(data, name, size, repeat, out):
    cmd = [str(BIN), "--data-dir", str(data), "apply", name] + [str(CONTENT)] * (repeat + 1)
    cmd += ["--style", str(STYLE), "--size", str(size), "-o", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        sys.exit(r.stderr)
    secs = [float(m) for m in re.findall(r", ([0-9.]+) s\)", r.stdout)]
    return statistics.median(secs[1:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--width", type=float, nargs="+", default=[1.0])
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "data", Path(tmp) / "out"
        out.mkdir()
        tiny = ["--dataset", "contents", "--size", "32", "--batch", "1", "--iterations", "1", "--preview-every", "0"]
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
        print("method  width  size   ours s   pytorch s   ratio")
        for w in a.width:
            for method in ("adain", "wct"):
                name = f"bench-{method}-w{w}"
                levels = [None] if method == "adain" else [1, 2, 3, 4, 5]
                for lv in levels:
                    cmd = [str(BIN), "--data-dir", str(data), "train", "--arch", method, "--width", str(w), "-o", name] + tiny
                    if method == "adain":
                        cmd += ["--style", str(STYLE)]
                    else:
                        cmd += ["--level", str(lv)]
                    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
                    if r.returncode != 0:
                        sys.exit(r.stderr)
                model = data / "models" / f"{name}.safetensors"
                for size in a.sizes:
                    ours = ours_seconds(data, name, size, a.repeat, out)
                    theirs = pytorch_seconds(model, method, size, a.repeat)
                    print(f"{method:<7} {w:<6} {size:<6} {ours:<8.3f} {theirs:<11.3f} {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
