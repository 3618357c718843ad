"""Queue benchmark: throughput of minimal runs through a worker, and the
per-evaluation overhead the store adds to a real run (worker vs the bare
`atelier stylize` loop, same spec, in this one script).

usage: .venv/bin/python bench/queue_runs.py [--runs 20] [--size 128] [--steps 30]
Figures depend on the machine; they are not test assertions.
"""

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ATELIER = os.path.join(ROOT, "target/release/atelier")


def sh(*args, env):
    r = subprocess.run([ATELIER, *args], capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"failed: atelier {' '.join(args)}\n{r.stderr}")
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=30)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="atelier-qbench-")
    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(tmp, "cfg"))
    data = os.path.join(tmp, "data")

    # 1. Throughput: minimal runs (32 px, 1 step) through one worker.
    for _ in range(a.runs):
        sh("queue", "add", "chelsea", "irises", "--size", "32", "--steps", "1", "--data-dir", data, env=env)
    t = time.perf_counter()
    sh("worker", "--exit-when-idle", "--device", "cpu", "--log-every", "0", "--data-dir", data, env=env)
    dt = time.perf_counter() - t
    print(f"throughput: {a.runs} minimal runs in {dt:.1f} s = {a.runs / dt:.2f} runs/s (one worker, model loaded once)")

    # 2. Overhead per evaluation: the same run through the worker and bare.
    sh("queue", "add", "chelsea", "irises", "--size", str(a.size), "--steps", str(a.steps), "--data-dir", data, env=env)
    sh("worker", "--exit-when-idle", "--device", "cpu", "--log-every", "0", "--data-dir", data, env=env)
    db = sqlite3.connect(os.path.join(data, "atelier.db"))
    run_id = db.execute("SELECT max(id) FROM runs").fetchone()[0]
    secs = [r[0] for r in db.execute("SELECT seconds FROM losses WHERE run_id = ? ORDER BY eval", (run_id,))]
    # Sample times count from the start of the optimisation loop, as the bare
    # run's loop_seconds does, so both include the first evaluation.
    queued = secs[-1] / len(secs)
    summary = os.path.join(tmp, "bare.json")
    sh("stylize", "chelsea", "irises", "--size", str(a.size), "--steps", str(a.steps), "--device", "cpu",
       "--log-every", "0", "-o", os.path.join(tmp, "bare.png"), "--summary-json", summary, env=env)
    s = json.load(open(summary))
    bare = s["loop_seconds"] / s["evals"]
    print(f"per evaluation at {a.size} px: worker {queued:.4f} s, bare loop {bare:.4f} s, "
          f"overhead {100 * (queued / bare - 1):+.1f}% (goal < 2%)")


if __name__ == "__main__":
    main()
