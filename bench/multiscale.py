"""Benchmark: final loss of a single-scale run against a coarse-to-fine run
(`--scales auto` or N) at the same size, for about the same optimisation time.

The single-scale run goes first with --steps; the multi-scale run then gets as
many steps as fit in the same time, predicted from the single run's seconds per
evaluation scaled by each scale's pixel count (the engine's split of steps over
the scales comes from `stylize --dry-run`). Time is the process's CPU time (user +
system, from wait4) with one thread, which other load on a shared machine does
not inflate as it does wall time; loop wall times are printed too. Losses are the best iterate's total at
the final size (same loss terms, same weights).

usage: .venv/bin/python bench/multiscale.py [--size 512] [--steps 100] [--scales auto] [--threads N]
Figures depend on the machine; they are not test assertions.
"""

import argparse
import json
import os
import subprocess
import tempfile

from proc import run_measured

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, env):
    """Runs cmd; returns its CPU seconds (user + system)."""
    usage = run_measured(cmd, env)
    return usage.ru_utime + usage.ru_stime


def plan(atelier, env, args):
    """The engine's own plan for a run (`stylize --dry-run`): its scales and
    the steps each gets."""
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run([atelier, "stylize", *args, "--dry-run", "--summary-json", f.name],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        p = json.load(open(f.name))
    return p["scales"], p["steps"]


def cost(sizes, steps):
    """A run's cost in finest-scale evaluations: an evaluation costs in
    proportion to its pixel count."""
    return sum(n * (s / sizes[-1]) ** 2 for s, n in zip(sizes, steps))


def steps_within(budget, plan_of, scales):
    """The most steps whose plan costs at most `budget` finest-scale
    evaluations, at least one per scale (cost grows with steps: double, then
    bisect)."""
    lo, hi = scales, 2 * scales
    while cost(*plan_of(hi)) <= budget:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if cost(*plan_of(mid)) <= budget else (lo, mid)
    return lo


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
    base = [a.content, a.style, "--size", str(a.size), "--scales", str(a.scales), "--device", "cpu",
            "-o", os.path.join(tmp, "plan.png")]
    plan_of = lambda steps: plan(atelier, env, base + ["--steps", str(steps)])
    # Any step count of at least one per scale plans; 64 covers any pyramid.
    steps = steps_within(budget / per_eval, plan_of, len(plan_of(64)[0]))
    sizes, split = plan_of(steps)
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
    print(f"multi-scale steps per scale: {', '.join(map(str, split))} ({cost(sizes, split):.1f} finest-scale evaluations' time)")
    print(f"commands: {cmd1}\n          {cmd2}")


if __name__ == "__main__":
    main()
