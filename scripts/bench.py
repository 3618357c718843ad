"""Benchmark: seconds per L-BFGS evaluation, atelier against plain PyTorch
(scripts/reference_gatys.py), same weights, images, sizes, steps and threads, in
one run. Prints the ratio ours/PyTorch, each side's peak resident memory, and
whether the final losses agree.

usage: .venv/bin/python scripts/bench.py [--sizes 128,256] [--steps 30] [--threads N] [--repeat 2]
Speed figures are not test assertions: they depend on the machine.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable


def ensure_pillow():
    try:
        import PIL  # noqa: F401
    except ImportError:
        subprocess.run([PY, "-m", "pip", "install", "-q", "--disable-pip-version-check", "pillow==12.0.0"], check=True)


def timed(cmd, env=None):
    """Runs cmd; returns the peak RSS of that process in MiB."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(p.pid, 0)
    err = p.stderr.read().decode()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"benchmark command failed: {' '.join(cmd)}\n{err}")
    return usage.ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="128,256")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--content", default=os.path.join(ROOT, "contents/chelsea.png"))
    ap.add_argument("--style", default=os.path.join(ROOT, "styles/436535.jpg"))
    a = ap.parse_args()
    ensure_pillow()
    from PIL import Image

    atelier = os.path.join(ROOT, "target/release/atelier")
    weights = os.path.join(ROOT, "weights/vgg19.safetensors")
    tmp = tempfile.mkdtemp(prefix="atelier-bench-")
    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(tmp, "no-config"))
    print(f"cpu threads {a.threads}, {a.steps} L-BFGS steps, best of {a.repeat}; content {os.path.basename(a.content)}, style {os.path.basename(a.style)}")
    print(f"{'size':>9} {'ours s/eval':>12} {'torch s/eval':>13} {'ratio':>6} {'ours MiB':>9} {'torch MiB':>10} {'loss ours':>11} {'loss torch':>11} {'diff':>6}")
    for size in [int(s) for s in a.sizes.split(",")]:
        paths = {}
        for name, src in [("content", a.content), ("style", a.style)]:
            img = Image.open(src).convert("RGB")
            scale = size / max(img.size)
            img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
            paths[name] = os.path.join(tmp, f"{name}_{size}.png")
            img.save(paths[name])
        best = {"ours": None, "torch": None}
        for r in range(a.repeat):
            for who in ["ours", "torch"]:
                summary = os.path.join(tmp, f"{who}_{size}_{r}.json")
                if who == "ours":
                    out = os.path.join(tmp, f"out_{size}_{r}.png")
                    cmd = [atelier, "stylize", paths["content"], paths["style"], "--size", str(size),
                           "--steps", str(a.steps), "--device", "cpu", "--threads", str(a.threads),
                           "--log-every", "0", "-o", out, "--summary-json", summary]
                else:
                    cmd = [PY, os.path.join(ROOT, "scripts/reference_gatys.py"), weights, paths["content"],
                           paths["style"], str(a.steps), str(a.threads), summary]
                rss = timed(cmd, env)
                s = json.load(open(summary))
                per = s["loop_seconds"] / s["evals"]
                if best[who] is None or per < best[who][0]:
                    # Compare the loss at the last evaluation on both sides (ours
                    # also reports its best iterate, which PyTorch does not track).
                    last = s.get("last_losses", s["losses"])["total"]
                    best[who] = (per, rss, last, s.get("size"))
        (po, mo, lo, dims), (pt, mt, lt, _) = best["ours"], best["torch"]
        label = f"{dims[0]}x{dims[1]}" if dims else str(size)
        print(f"{label:>9} {po:12.4f} {pt:13.4f} {po / pt:6.2f} {mo:9.0f} {mt:10.0f} {lo:11.4e} {lt:11.4e} {100 * (lo - lt) / lt:5.2f}%")
    print("goal: ratio <= 1.0 (issue 2), <= 0.9 (issue 7); final losses within 1%")


if __name__ == "__main__":
    main()
