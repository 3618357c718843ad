"""Optical flow on synthetic motion with known flow (not a test).

    python bench/flow.py cases DIR      # writes the cases: DIR/<case>_<size>/{a,b}.png, flow.npy
    python bench/flow.py opencv DIR     # OpenCV's DIS (fast, medium) and Farneback on them

Each case is a photo from contents/ (`b`, cropped square) and `a`, that photo
sampled at x + f(x) for a known flow f, so that a(x) = b(x + f(x)): the flow
from a to b is f (OpenCV's and atelier's convention); in the `light` cases
`a` is also brighter, more so to the right. Displacements scale with
the size (numbers below are at 256 px). The end-point error (EPE) is the mean
|estimate - f| over pixels whose x + f(x) lies inside the frame (elsewhere
there is nothing to match). Ours is measured on the same files by
`cargo run --release --example flow_bench -- DIR` (docs/motion.md);
scripts/flow_bench.sh runs all three steps.

Needs numpy and opencv-python-headless, kept out of the project's
requirements (scripts/flow_bench.sh installs them into /tmp/cvpkgs and runs
this with PYTHONPATH=/tmp/cvpkgs). One thread (cv2.setNumThreads(1)), as the
Rust side.
"""

import os
import sys
import time

import cv2
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"]
SIZES = [256, 512]


def square(path, size):
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    s = size / min(h, w)
    img = cv2.resize(img, (max(size, round(w * s)), max(size, round(h * s))), interpolation=cv2.INTER_AREA)
    h, w = img.shape[:2]
    y, x = (h - size) // 2, (w - size) // 2
    return img[y : y + size, x : x + size]


def fields(size, rng):
    """Known flows (name, H×W×2 array in pixels) at this size."""
    k = size / 256
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2
    out = [
        ("pan", np.stack([np.full_like(xs, 3.5 * k), np.full_like(xs, -2.0 * k)], -1)),
        ("shift", np.stack([np.full_like(xs, 12.0 * k), np.full_like(xs, 5.0 * k)], -1)),
        ("zoom", np.stack([(xs - c) * 0.04, (ys - c) * 0.04], -1)),
    ]
    a = np.deg2rad(2.0)
    rx = np.cos(a) * (xs - c) - np.sin(a) * (ys - c) + c
    ry = np.sin(a) * (xs - c) + np.cos(a) * (ys - c) + c
    out.append(("rotate", np.stack([rx - xs, ry - ys], -1)))
    coarse = rng.standard_normal((4, 4, 2)).astype(np.float32)
    smooth = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    smooth *= 5.0 * k / np.abs(smooth).max()
    out.append(("field", smooth))
    # The same kind of motion with the light changing (made in make_cases).
    out.append(("light", smooth))
    return [(n, f.astype(np.float32)) for n, f in out]


def make_cases(folder):
    rng = np.random.default_rng(7)
    for size in SIZES:
        for i, photo in enumerate(PHOTOS):
            b = square(os.path.join(ROOT, "contents", photo), size)
            for name, f in fields(size, rng):
                ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
                a = cv2.remap(b, xs + f[..., 0], ys + f[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                if name == "light":
                    # An exposure change: brighter, more so to the right.
                    gain = np.linspace(0.9, 1.15, size, dtype=np.float32)[None, :, None]
                    a = np.clip(a * gain + 0.03 * 255, 0, 255).astype(np.uint8)
                d = os.path.join(folder, f"{name}{i}_{size}")
                os.makedirs(d, exist_ok=True)
                cv2.imwrite(os.path.join(d, "a.png"), a)
                cv2.imwrite(os.path.join(d, "b.png"), b)
                np.save(os.path.join(d, "flow.npy"), f.transpose(2, 0, 1)[None].astype(np.float32))


def epe(est, truth):
    """Mean end-point error over pixels whose match is inside the frame."""
    h, w = truth.shape[1:]
    ys, xs = np.mgrid[0:h, 0:w]
    tx, ty = xs + truth[0], ys + truth[1]
    inside = (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    e = np.sqrt(((est - truth) ** 2).sum(0))
    return float(e[inside].mean())


def cases(folder):
    for d in sorted(os.listdir(folder)):
        p = os.path.join(folder, d)
        a = cv2.cvtColor(cv2.imread(os.path.join(p, "a.png")), cv2.COLOR_BGR2GRAY)
        b = cv2.cvtColor(cv2.imread(os.path.join(p, "b.png")), cv2.COLOR_BGR2GRAY)
        yield d, a, b, np.load(os.path.join(p, "flow.npy"))[0]


def report(method, rows):
    """One line per size: mean EPE per motion, wall and CPU ms/frame (medians)."""
    for size in SIZES:
        got = [r for r in rows if r[0].endswith(f"_{size}")]
        kinds = sorted({r[0].split("_")[0].rstrip("0123456789") for r in got})
        per = {k: np.mean([r[1] for r in got if r[0].split("_")[0].rstrip("0123456789") == k]) for k in kinds}
        ms = 1000 * float(np.median([r[2] for r in got]))
        cpu = 1000 * float(np.median([r[3] for r in got]))
        cells = " ".join(f"{k}={per[k]:.2f}" for k in kinds)
        print(f"{method:18} {size:4} mean={np.mean(list(per.values())):.2f} {cells} ms={ms:.0f} cpu_ms={cpu:.0f}")


def opencv(folder):
    cv2.setNumThreads(1)
    methods = {
        "opencv-dis-fast": lambda: cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST),
        "opencv-dis-medium": lambda: cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM),
        "opencv-farneback": None,
    }
    for name, make in methods.items():
        rows = []
        for d, a, b, f in cases(folder):
            t, c = time.perf_counter(), time.process_time()
            if make is None:
                est = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 5, 13, 10, 5, 1.1, 0)
            else:
                est = make().calc(a, b, None)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            rows.append((d, epe(est.transpose(2, 0, 1), f), wall, cpu))
        report(name, rows)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("cases", "opencv"):
        sys.exit(__doc__)
    (make_cases if sys.argv[1] == "cases" else opencv)(sys.argv[2])
