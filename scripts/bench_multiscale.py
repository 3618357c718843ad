"""Benchmark: final loss of a single-scale run against a coarse-to-fine run
(`--scales auto` or N) at the same size, for about the same optimisation time.

The single-scale run goes first with --steps; the multi-scale run then gets as
many steps as fit in the same loop time, predicted from the single run's seconds
per evaluation scaled by each scale's pixel count (steps are split evenly over the
scales). Both loop times are printed, so the match can be checked. Losses are the
best iterate's total at the final size (same loss terms, same weights).

usage: .venv/bin/python scripts/bench_multiscale.py [--size 512] [--steps 100] [--scales auto] [--threads N]
Figures depend on the machine; they are not test assertions.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, env):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    if p.returncode != 0:
        sys.exit(f"benchmark command failed: {' '.join(cmd)}\n{p.stderr}")
    return p.stdout


def pyramid(size, scales):
    at = lambda k: round(size / math.sqrt(2) ** k)
    if scales == "auto":
        v = []
        k = 0
        while at(k) >= 128:
            v.append(at(k))
            k += 1
        return v[::-1]
    n = int(scales)
    return [at(k) for k in range(n - 1, -1, -1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--scales", default="auto")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--content", default="chelsea")
    ap.add_argument("--style", default="wheat-field-with-cypresses")
    a = ap.parse_args()
    atelier = os.path.join(ROOT, "target/release/atelier")
    tmp = tempfile.mkdtemp(prefix="atelier-bench-ms-")
    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(tmp, "no-config"), ATELIER_HOME=ROOT)

    def stylize(tag, steps, scales):
        summary = os.path.join(tmp, f"{tag}.json")
        cmd = [atelier, "stylize", a.content, a.style, "--size", str(a.size), "--steps", str(steps),
               "--scales", str(scales), "--device", "cpu", "--threads", str(a.threads), "--log-every", "0",
               "-o", os.path.join(tmp, f"{tag}.png"), "--summary-json", summary]
        run(cmd, env)
        return json.load(open(summary)), " ".join(["atelier"] + cmd[1:])

    single, cmd1 = stylize("single", a.steps, 1)
    per_eval = single["loop_seconds"] / single["evals"]
    sizes = pyramid(a.size, a.scales)
    # Seconds per step averaged over the scales, relative to the final size.
    rel = sum((s / a.size) ** 2 for s in sizes) / len(sizes)
    steps = max(len(sizes), int(single["loop_seconds"] / (per_eval * rel)))
    multi, cmd2 = stylize("multi", steps, a.scales)
    print(f"size {a.size}, threads {a.threads}, {a.content} x {a.style}")
    print(f"{'run':>14} {'steps':>6} {'loop s':>8} {'final total loss':>17}")
    print(f"{'single-scale':>14} {single['evals']:6d} {single['loop_seconds']:8.1f} {single['losses']['total']:17.4e}")
    label = f"scales {','.join(map(str, sizes))}"
    print(f"{label:>14} {multi['evals']:6d} {multi['loop_seconds']:8.1f} {multi['losses']['total']:17.4e}")
    ratio = multi["losses"]["total"] / single["losses"]["total"]
    print(f"multi-scale / single-scale final loss: {ratio:.3f}")
    print(f"commands: {cmd1}\n          {cmd2}")


if __name__ == "__main__":
    main()
