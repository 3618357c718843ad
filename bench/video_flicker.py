#!/usr/bin/env python3
"""Steadiness of `atelier video`: flicker with the temporal terms against
each frame on its own, on synthetic clips with known motion.

Clips (made here from a bundled photo, frames as PNG folders):
  static  the photo still, each frame with its own camera noise (σ 3 grey
          levels): a zero flow is right, so the figures hold with any
          flow estimator;
  pan     the photo panned by --pan px a frame (noise as above): the temporal
          terms help only once the flow estimator finds the pan, so re-run
          this after the flow lands to measure it.
Flicker: the mean |out_t − out_{t+1} moved back by the known motion|, in grey
levels (0–255), over the pixels both frames see. Style: `atelier score`'s
style loss of the middle frame. Writes a table (Markdown) to stdout.

Usage: bench/video_flicker.py [--frames 8] [--size 96] [--steps 60] [--pan 2]
       [--style styles/436535.jpg] [--model irises] [--clips static,pan] [--threads 2]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ATELIER = os.environ.get("ATELIER", os.path.join(ROOT, "target/release/atelier"))


def make_clip(dst, kind, frames, size, pan, seed=0):
    """Frames of `kind` (static or pan), `size` px wide, into folder `dst`."""
    os.makedirs(dst)
    photo = Image.open(os.path.join(ROOT, "contents/chelsea.png")).convert("RGB")
    w = size + pan * frames
    h = round(photo.height * w / photo.width)
    photo = photo.resize((w, h), Image.LANCZOS)
    hh = min(h, round(size * 3 / 4))
    g = torch.Generator().manual_seed(seed)
    base = torch.frombuffer(bytearray(photo.tobytes()), dtype=torch.uint8).view(h, w, 3).float()
    for t in range(frames):
        x0 = t * pan if kind == "pan" else 0
        f = base[:hh, x0 : x0 + size] + torch.randn(hh, size, 3, generator=g) * 3.0
        img = f.clamp(0, 255).round().to(torch.uint8).contiguous()
        Image.frombytes("RGB", (size, hh), bytes(img.flatten().tolist())).save(
            os.path.join(dst, f"{t:04}.png")
        )


def load(path):
    img = Image.open(path).convert("RGB")
    t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8)
    return t.view(img.height, img.width, 3).float()


def flicker(folder, shift):
    """Mean |out_t(x) − out_{t+1}(x − shift)| over the overlap (grey levels)."""
    names = sorted(os.listdir(folder))
    frames = [load(os.path.join(folder, n)) for n in names]
    total = 0.0
    for a, b in zip(frames, frames[1:]):
        w = a.shape[1]
        # Content at x in frame t is at x − shift in frame t+1.
        total += (a[:, shift:] - b[:, : w - shift]).abs().mean().item()
    return total / (len(frames) - 1)


def run(args, clip, out, weight):
    cmd = [ATELIER, "video", clip, "-o", out + "/", "--temporal-weight", str(weight)]
    cmd += ["--threads", str(args.threads)]
    if args.model:
        cmd += ["--model", args.model]
    else:
        cmd += ["--style", args.style, "--size", str(args.size), "--steps", str(args.steps)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def style_loss(args, frame, content):
    out = subprocess.run(
        [ATELIER, "score", frame, content, args.style, "--size", str(args.size), "--json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)["style"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=96)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--pan", type=int, default=2)
    p.add_argument("--style", default=os.path.join(ROOT, "styles/436535.jpg"))
    p.add_argument("--model", default=None, help="a model instead of Gatys")
    p.add_argument("--weight", type=float, default=None, help="temporal weight (default: the method's)")
    p.add_argument("--clips", default="static,pan")
    p.add_argument("--threads", type=int, default=2, help="libtorch threads of each run")
    args = p.parse_args()
    method = f"model {args.model}" if args.model else f"Gatys {args.steps} steps"
    print(f"| clip | {method}, {args.size} px | flicker (grey levels) | style loss, middle frame |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.clips.split(","):
            clip = os.path.join(tmp, kind)
            make_clip(clip, kind, args.frames, args.size, args.pan)
            shift = args.pan if kind == "pan" else 0
            middle = sorted(os.listdir(clip))[args.frames // 2]
            print(f"| {kind} | input | {flicker(clip, shift):.2f} | |")
            default = 1.0 if args.model else 1000.0
            weight = default if args.weight is None else args.weight
            for label, w in (("independent", 0.0), (f"temporal {weight:g}", weight)):
                out = os.path.join(tmp, f"{kind}-{w}")
                run(args, clip, out, w)
                frame = os.path.join(out, f"{args.frames // 2 + 1:06}.png")
                sl = style_loss(args, frame, os.path.join(clip, middle))
                print(f"| {kind} | {label} | {flicker(out, shift):.2f} | {sl:.4g} |")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
