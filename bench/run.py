"""Benchmark: seconds per L-BFGS evaluation of `atelier stylize` against a plain
PyTorch loop (bench/reference_gatys.py): same weights, images, layers, loss
weights, optimiser settings, sizes and thread count, run in this one script,
interleaved (ours, PyTorch, ours, ...) so that a change in machine load hits
both sides alike.

Per size it prints the median seconds per evaluation (over every evaluation
after the first of every repeat), the ratio ours/PyTorch, the peak memory of
each side, and the total loss after 10 evaluations and at the end (equal work:
same number of evaluations; the two drift apart slowly because float sums are
ordered differently and L-BFGS amplifies that, so the 10-evaluation figure is
the tight check).

--baseline-bin PATH adds a third column: another atelier binary (say, built from
an earlier commit) timed in the same interleaved rounds, for before/after figures.

usage: .venv/bin/python bench/run.py [--sizes 128,256] [--steps 20] [--repeat 3]
       [--threads N] [--device auto|cpu|cuda] [--baseline-bin PATH]
On a GPU the default sizes are 512,1024,2048. Speed figures are not test
assertions: they depend on the machine.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from proc import run_measured

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
CHECK_AT = 10


def ensure_pillow():
    try:
        import PIL  # noqa: F401
    except ImportError:
        subprocess.run([PY, "-m", "pip", "install", "-q", "--disable-pip-version-check", "pillow==12.0.0"], check=True)


def timed(cmd, env):
    """Runs cmd; returns the peak RSS of that process in MiB."""
    return run_measured(cmd, env).ru_maxrss / 1024.0


def gaps(trace):
    """Seconds of each evaluation after the first (the first carries set-up)."""
    s = trace["seconds"]
    return [b - a for a, b in zip(s, s[1:])]


def fmt_loss(v):
    return f"{v:.4e}" if v is not None else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default=None, help="default 128,256 on CPU, 512,1024,2048 on CUDA")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--baseline-bin", default=None, help="another atelier binary to time alongside")
    ap.add_argument("--content", default=os.path.join(ROOT, "contents/chelsea.png"))
    ap.add_argument("--style", default=os.path.join(ROOT, "styles/436535.jpg"))
    a = ap.parse_args()
    ensure_pillow()
    from PIL import Image
    import warnings

    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

    device = a.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    sizes = a.sizes or ("512,1024,2048" if device == "cuda" else "128,256")
    atelier = os.path.join(ROOT, "target/release/atelier")
    weights = os.path.join(ROOT, "weights/vgg19.safetensors")
    tmp = tempfile.mkdtemp(prefix="atelier-bench-")
    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(tmp, "no-config"), ATELIER_HOME=ROOT)
    # Guards off on our side: the PyTorch loop has none, and a rollback changes
    # the path (and the work) of the run.
    config = os.path.join(tmp, "bench.toml")
    with open(config, "w") as f:
        f.write("[run]\ndivergence_factor = inf\n")
    sides = ["ours", "torch"] + (["baseline"] if a.baseline_bin else [])
    where = torch.cuda.get_device_name() if device == "cuda" else f"cpu, {a.threads} threads"
    print(f"{where}; {a.steps} L-BFGS steps x {a.repeat} interleaved repeats; "
          f"content {os.path.basename(a.content)}, style {os.path.basename(a.style)}")
    head = f"{'size':>9} {'ours s/eval':>12} {'torch s/eval':>13} {'ratio':>6}"
    if a.baseline_bin:
        head += f" {'before s/eval':>14} {'ours/before':>12}"
    head += f" {'ours MiB':>9} {'torch MiB':>10} {'loss@10 ours':>13} {'torch':>11} {'final ours':>11} {'torch':>11} {'diff':>7}"
    if a.baseline_bin:
        head += f" {'loss@10 before':>14} {'final before':>12}"
    print(head)
    for size in [int(s) for s in sizes.split(",")]:
        paths = {}
        for name, src in [("content", a.content), ("style", a.style)]:
            img = Image.open(src).convert("RGB")
            scale = size / max(img.size)
            img = img.resize((round(img.width * scale), round(img.height * scale)), Image.LANCZOS)
            paths[name] = os.path.join(tmp, f"{name}_{size}.png")
            img.save(paths[name])
        per = {w: [] for w in sides}
        mem = {w: [] for w in sides}
        runs = {w: [] for w in sides}
        dims = None
        for r in range(a.repeat):
            for who in sides:
                summary = os.path.join(tmp, f"{who}_{size}_{r}.json")
                if who == "torch":
                    cmd = [PY, os.path.join(ROOT, "bench/reference_gatys.py"), weights, paths["content"],
                           paths["style"], str(a.steps), str(a.threads), summary, device]
                else:
                    binary = atelier if who == "ours" else a.baseline_bin
                    out = os.path.join(tmp, f"{who}_{size}_{r}.png")
                    cmd = [binary, "--config", config, "stylize", paths["content"], paths["style"], "--size", str(size),
                           "--steps", str(a.steps), "--device", device, "--threads", str(a.threads),
                           "--log-every", "0", "-o", out, "--summary-json", summary]
                rss = timed(cmd, env)
                s = json.load(open(summary))
                if "trace" not in s:
                    sys.exit(f"{cmd[0]} writes no per-evaluation trace in --summary-json (too old for this benchmark)")
                per[who] += gaps(s["trace"])
                if who == "torch" and "cuda_peak_bytes" in s:
                    mem[who].append(s["cuda_peak_bytes"] / 2**20)
                elif who != "torch" and device == "cuda":
                    peak = (s.get("memory") or {}).get("measured_peak_bytes")
                    mem[who].append(peak / 2**20 if peak else float("nan"))
                else:
                    mem[who].append(rss)
                runs[who].append(s["trace"]["total"])
                dims = dims or s.get("size")
        med = {w: statistics.median(per[w]) for w in sides}
        mib = {w: statistics.median(mem[w]) for w in sides}
        at = lambda w, i: statistics.median(t[i] for t in runs[w]) if all(len(t) > i for t in runs[w]) else None
        l10 = {w: at(w, CHECK_AT - 1) for w in sides}
        fin = {w: statistics.median(t[-1] for t in runs[w]) for w in sides}
        label = f"{dims[0]}x{dims[1]}" if dims else str(size)
        line = f"{label:>9} {med['ours']:12.4f} {med['torch']:13.4f} {med['ours'] / med['torch']:6.2f}"
        if a.baseline_bin:
            line += f" {med['baseline']:14.4f} {med['ours'] / med['baseline']:12.2f}"
        diff = 100 * (fin["ours"] - fin["torch"]) / fin["torch"]
        line += (f" {mib['ours']:9.0f} {mib['torch']:10.0f} {fmt_loss(l10['ours']):>13} {fmt_loss(l10['torch']):>11}"
                 f" {fin['ours']:11.4e} {fin['torch']:11.4e} {diff:6.2f}%")
        if a.baseline_bin:
            line += f" {fmt_loss(l10['baseline']):>14} {fin['baseline']:12.4e}"
        print(line, flush=True)
    print("goals (issue 7): ratio <= 0.9 on CPU; final loss within 1% (see loss@10 for the equal-work check); "
          "peak memory no higher than PyTorch's")


if __name__ == "__main__":
    main()
