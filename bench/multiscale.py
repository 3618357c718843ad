"""Benchmark: final loss of a single-scale run against a coarse-to-fine run
(`--scales auto` or N) at the same size, for about the same optimisation time.

The single-scale run goes first with --steps; the multi-scale run then gets as
many steps as fit in the same time, predicted from the single run's seconds per
evaluation scaled by each scale's pixel count (steps are split over the scales
as the engine does, see cost_per_step). Time is the process's CPU time (user +
system, from wait4) with one thread, which other load on a shared machine does
not inflate as it does wall time; loop wall times are printed too. Losses are the best iterate's total at
the final size (same loss terms, same weights).

usage: .venv/bin/python bench/multiscale.py [--size 512] [--steps 100] [--scales auto] [--threads N]
Figures depend on the machine; they are not test assertions.
"""

import argparse
import json
import math
import os
import tempfile

from proc import run_measured

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, env):
    """Runs cmd; returns its CPU seconds (user + system)."""
    usage = run_measured(cmd, env)
    return usage.ru_utime + usage.ru_stime


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


# Mirrors src/engine/pyramid.rs: the coarser scales take this share of a
# multi-scale run's time together, the same for each.
COARSE_SHARE = 0.1


def cost_per_step(sizes):
    """Average cost of a multi-scale run's step, in finest-scale evaluations
    (pyramid::split_steps: steps inversely proportional to pixel count on the
    coarser scales)."""
    if len(sizes) == 1:
        return 1.0
    each = COARSE_SHARE / (1 - COARSE_SHARE) / (len(sizes) - 1)
    per_fine = 1 + sum(each / (s / sizes[-1]) ** 2 for s in sizes[:-1])
    return 1 / ((1 - COARSE_SHARE) * per_fine)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--scales", default="auto")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--content", default="chelsea")
    ap.add_argument("--style", default="wheat-field-with-cypresses")
    a = ap.parse_args()
    atelier = os.environ.get("ATELIER_BIN", os.path.join(ROOT, "target/release/atelier"))
    tmp = tempfile.mkdtemp(prefix="atelier-bench-ms-")
    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(tmp, "no-config"), ATELIER_HOME=ROOT)

    def stylize(tag, steps, scales):
        summary = os.path.join(tmp, f"{tag}.json")
        cmd = [atelier, "stylize", a.content, a.style, "--size", str(a.size), "--steps", str(steps),
               "--scales", str(scales), "--device", "cpu", "--threads", str(a.threads), "--log-every", "0",
               "-o", os.path.join(tmp, f"{tag}.png"), "--summary-json", summary]
        cpu = run(cmd, env)
        s = json.load(open(summary))
        s["cpu"] = cpu
        return s, " ".join(["atelier"] + cmd[1:])

    # Startup (libtorch, weights) costs the same for both: time it with 1 step.
    startup, _ = stylize("startup", 1, 1)
    single, cmd1 = stylize("single", a.steps, 1)
    per_eval = (single["cpu"] - startup["cpu"]) / (single["evals"] - 1)
    budget = single["cpu"] - startup["cpu"]
    sizes = pyramid(a.size, a.scales)
    steps = max(len(sizes), int(budget / (per_eval * cost_per_step(sizes))))
    multi, cmd2 = stylize("multi", steps, a.scales)
    print(f"size {a.size}, threads {a.threads}, {a.content} x {a.style}")
    print(f"{'run':>18} {'evals':>6} {'CPU s':>7} {'loop wall s':>12} {'final total loss':>17}")
    for label, r in [("single-scale", single), (f"scales {','.join(map(str, sizes))}", multi)]:
        print(f"{label:>18} {r['evals']:6d} {r['cpu'] - startup['cpu']:7.1f} {r['loop_seconds']:12.1f} {r['losses']['total']:17.4e}")
    ratio = multi["losses"]["total"] / single["losses"]["total"]
    print(f"multi-scale / single-scale final loss: {ratio:.3f}")
    # Time to quality: wall seconds until the finest scale of the multi-scale
    # run first reaches the single-scale run's final (best) loss.
    target = single["losses"]["total"]
    t = multi.get("trace", {})
    if "scale" in t:
        last = max(t["scale"])
        hit = [sec for sec, tot, sc in zip(t["seconds"], t["total"], t["scale"]) if sc == last and tot <= target]
        single_wall = single["trace"]["seconds"][-1]
        if hit:
            print(f"time to the single-scale final loss {target:.4e}: single-scale {single_wall:.1f} s, "
                  f"multi-scale {hit[0]:.1f} s (wall, from process start of the run)")
        else:
            print(f"multi-scale did not reach the single-scale final loss {target:.4e} in its {multi['evals']} evaluations")
    print(f"commands: {cmd1}\n          {cmd2}")


if __name__ == "__main__":
    main()
