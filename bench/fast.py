"""Benchmark (issue 15): the fast-style network, ours against the same network in
PyTorch, and against a Gatys run of the same size. One command; prints a table,
asserts nothing.

Apply: seconds per image at each of --sizes (square SIZE×SIZE crops of --content).
Ours is examples/fast_time.rs: the model loaded as `atelier apply` loads it, then
the forward pass alone timed (`fast::apply::forward_padded`, what `atelier apply`
runs per photo below the tile size) — process start, model loading, PNG decoding
and writing are left out, on both sides. PyTorch is bench/reference_fast.py:
pytorch/examples' TransformerNet (scripts/golden_transformer.py's copy) with the
same model file's tensors loaded by name (fp16 -> f32). Gatys: `atelier stylize
--steps N` on the same content, s/evaluation (median gap of its --summary-json
trace) × --gatys-evals (200) for a whole run, and the speed-up factor
Gatys run / one fast pass.

Training: images/s of `atelier train`'s engine function (fast_time.rs train, the
defaults of `atelier train`; per-iteration marks, the first iteration left out)
against a PyTorch loop of the same network and losses (reference_fast.py train),
same size, batch, width, iterations and threads, on a small dataset made in a temp
dir from contents/ (or datasets/photos when present).

Each round runs ours, PyTorch (and Gatys) one after the other, --rounds times, so a
change of load from other jobs hits all sides alike; figures are medians over all
timed passes. Wall and CPU seconds (user + system of the timed part, from inside
each process) both: on a shared machine CPU time says more about the code and wall
time about what a user waits. The "proc CPU" columns are whole-process CPU seconds
(bench/proc.py's measure: start, loading and all passes).

Model: --model, else the first models/*.safetensors of architecture
johnson-transformer-net (the bundled wheat-field-with-cypresses), else a width-0.5 model
trained for 5 iterations into the temp dir first (speed does not depend on quality).

usage: .venv/bin/python bench/fast.py [--sizes 256,512,1024 ("": training only)] [--rounds 3] [--passes 5]
       [--threads N] [--model FILE] [--gatys-steps 3] [--gatys-evals 200] [--no-gatys]
       [--train-size 128] [--train-batch 2] [--train-iterations 4] [--train-width W] [--no-train]
"""

import argparse
import atexit
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from proc import ensure_pillow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
EXAMPLE = os.path.join(ROOT, "target/release/examples/fast_time")
ATELIER = os.path.join(ROOT, "target/release/atelier")
REF = os.path.join(ROOT, "bench/reference_fast.py")


def run_json(cmd, env, tmp):
    """Runs cmd; returns (its JSON stdout line, whole-process CPU seconds, peak RSS MiB).
    Like bench/proc.py's run_measured, with stdout kept (in a file, so no pipe can block)."""
    out = os.path.join(tmp, "stdout.json")
    with open(out, "w") as f:
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.PIPE, env=env)
        err = p.stderr.read().decode()
        p.stderr.close()
        _, status, usage = os.wait4(p.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"benchmark command failed: {' '.join(cmd)}\n{err}")
    lines = [l for l in open(out).read().splitlines() if l.startswith("{")]
    return (json.loads(lines[-1]) if lines else None), usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def square(Image, src, size, path):
    img = Image.open(src).convert("RGB")
    s = min(img.size)
    l, t = (img.width - s) // 2, (img.height - s) // 2
    img.crop((l, t, l + s, t + s)).resize((size, size), Image.LANCZOS).save(path)


def longer(Image, src, size, path):
    img = Image.open(src).convert("RGB")
    k = size / max(img.size)
    img.resize((max(1, round(img.width * k)), max(1, round(img.height * k))), Image.LANCZOS).save(path)


def med(xs):
    return statistics.median(xs) if xs else float("nan")



def metadata(path):
    """The string metadata of a safetensors file (its JSON header's __metadata__)."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n)).get("__metadata__", {})


def johnson_models(folder):
    """The model files in folder that are fast-style TransformerNets, by name (the
    library also holds adain, wct and multi-style files, which this bench cannot time)."""
    return [p for p in sorted(glob.glob(os.path.join(folder, "*.safetensors")))
            if metadata(p).get("architecture") == "johnson-transformer-net"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="256,512,1024")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--passes", type=int, default=5, help="timed forward passes per process")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--model", default=None)
    ap.add_argument("--content", default=os.path.join(ROOT, "contents/chelsea.png"))
    ap.add_argument("--style", default=os.path.join(ROOT, "styles/436535.jpg"))
    ap.add_argument("--gatys-steps", type=int, default=3)
    ap.add_argument("--gatys-evals", type=int, default=200)
    ap.add_argument("--no-gatys", action="store_true")
    ap.add_argument("--train-size", type=int, default=128)
    ap.add_argument("--train-batch", type=int, default=2)
    ap.add_argument("--train-iterations", type=int, default=4, help="per process; the first is warm-up")
    ap.add_argument("--train-width", type=float, default=None, help="default: the model's width")
    ap.add_argument("--no-train", action="store_true")
    a = ap.parse_args()
    ensure_pillow()
    from PIL import Image

    for path, what in [(EXAMPLE, "cargo build --release --example fast_time"), (ATELIER, "cargo build --release")]:
        if not os.path.exists(path):
            sys.exit(f"{path} missing: run `{what}` (make bench-fast does)")
    tmp = tempfile.mkdtemp(prefix="atelier-fastbench-")
    atexit.register(shutil.rmtree, tmp, True)
    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(tmp, "no-config"), ATELIER_HOME=ROOT)
    config = os.path.join(tmp, "bench.toml")
    with open(config, "w") as f:
        f.write("[run]\ndivergence_factor = inf\n")

    # A small training set: datasets/photos if there, else contents/ at 320 px.
    photos = os.path.join(ROOT, "datasets/photos")
    if os.path.isdir(photos) and os.listdir(photos):
        dataset = photos
    else:
        dataset = os.path.join(tmp, "dataset")
        os.makedirs(dataset)
        for src in sorted(glob.glob(os.path.join(ROOT, "contents/*"))):
            if src.lower().endswith((".png", ".jpg", ".jpeg")):
                longer(Image, src, 320, os.path.join(dataset, os.path.basename(src) + ".png"))

    model = a.model or next(iter(johnson_models(os.path.join(ROOT, "models"))), None)
    if model is None:
        model = os.path.join(tmp, "bench-model.safetensors")
        print("no johnson-transformer-net model in models/: training a 5-iteration width-0.5 model first",
              flush=True)
        run_json([ATELIER, "--config", config, "--data-dir", os.path.join(tmp, "data"), "train", a.style,
                  "--dataset", dataset, "--size", "128", "--batch", "2", "--iterations", "5", "--width", "0.5",
                  "--checkpoint-every", "5", "--preview-every", "0", "-o", model], env, tmp)
    meta = metadata(model)
    width = float(meta.get("width", "1"))
    train_width = a.train_width if a.train_width is not None else width
    t = a.threads
    print(f"cpu, {t} threads; model {os.path.relpath(model, ROOT) if model.startswith(ROOT) else os.path.basename(model)}"
          f" (width {width:g}, {meta.get('norm', '?')} norm); {a.rounds} interleaved rounds, {a.passes} timed passes"
          f" each; load average at start {os.getloadavg()[0]:.1f}", flush=True)

    sizes = [int(s) for s in a.sizes.split(",") if s]  # --sizes "": training only
    if sizes:
        print("\napply: seconds per image (forward pass), medians; ratio = ours / PyTorch")
    head = (f"{'size':>9} {'ours wall':>10} {'ours CPU':>9} {'torch wall':>11} {'torch CPU':>10} {'ratio wall':>11}"
            f" {'ratio CPU':>10} {'proc CPU ours':>14} {'torch':>6}")
    if not a.no_gatys:
        head += f" {'Gatys s/eval':>13} {'Gatys x' + str(a.gatys_evals):>11} {'speed-up':>9}"
    if sizes:
        print(head, flush=True)
    for size in sizes:
        content = os.path.join(tmp, f"content_{size}.png")
        style = os.path.join(tmp, f"style_{size}.png")
        square(Image, a.content, size, content)
        longer(Image, a.style, size, style)
        res = {k: {"wall": [], "cpu": [], "proc": []} for k in ("ours", "torch")}
        gatys = []
        for r in range(a.rounds):
            for who in ("ours", "torch"):
                cmd = ([EXAMPLE, "apply", model, content, str(a.passes), str(t)] if who == "ours"
                       else [PY, REF, "apply", model, content, str(a.passes), str(t)])
                j, cpu, _ = run_json(cmd, env, tmp)
                res[who]["wall"] += j["wall"]
                res[who]["cpu"] += j["cpu"]
                res[who]["proc"].append(cpu)
            if not a.no_gatys:
                summary = os.path.join(tmp, f"gatys_{size}_{r}.json")
                out = os.path.join(tmp, f"gatys_{size}_{r}.png")
                run_json([ATELIER, "--config", config, "stylize", content, style, "--size", str(size), "--steps",
                          str(a.gatys_steps), "--device", "cpu", "--threads", str(t), "--log-every", "0", "-o", out,
                          "--summary-json", summary], env, tmp)
                s = json.load(open(summary))["trace"]["seconds"]
                gatys += [y - x for x, y in zip(s, s[1:])]
        m = {w: {k: med(v[k]) for k in v} for w, v in res.items()}
        line = (f"{size}x{size:<4} {m['ours']['wall']:10.4f} {m['ours']['cpu']:9.4f} {m['torch']['wall']:11.4f}"
                f" {m['torch']['cpu']:10.4f} {m['ours']['wall'] / m['torch']['wall']:11.2f}"
                f" {m['ours']['cpu'] / m['torch']['cpu']:10.2f} {m['ours']['proc']:14.2f} {m['torch']['proc']:6.2f}")
        if not a.no_gatys:
            g = med(gatys)
            line += f" {g:13.3f} {g * a.gatys_evals:11.1f} {g * a.gatys_evals / m['ours']['wall']:8.0f}x"
        print(line, flush=True)

    if a.no_train:
        return
    n, b, s = a.train_iterations, a.train_batch, a.train_size
    print(f"\ntraining: width {train_width:g}, {s} px, batch {b}, {n} iterations per process (first left out);"
          f" images/s, medians over iterations")
    print(f"{'':>9} {'ours img/s':>11} {'img/CPU-s':>10} {'torch img/s':>12} {'img/CPU-s':>10} {'ratio wall':>11}"
          f" {'ratio CPU':>10}", flush=True)
    style = os.path.join(tmp, f"style_train_{s}.png")
    longer(Image, a.style, s, style)
    res = {k: {"wall": [], "cpu": []} for k in ("ours", "torch")}
    for r in range(a.rounds):
        for who in ("ours", "torch"):
            args = [style, dataset, str(s), str(b), str(n), f"{train_width:g}", str(t)]
            cmd = [EXAMPLE, "train", *args] if who == "ours" else [PY, REF, "train", *args]
            j, _, _ = run_json(cmd, env, tmp)
            res[who]["wall"] += j["wall"]
            res[who]["cpu"] += j["cpu"]
    ips = {w: {k: b / med(v) for k, v in res[w].items()} for w in res}
    # Ratio as time per image, ours / PyTorch (below 1: ours faster), as for apply.
    print(f"{s}px b{b:<3} {ips['ours']['wall']:11.2f} {ips['ours']['cpu']:10.2f} {ips['torch']['wall']:12.2f}"
          f" {ips['torch']['cpu']:10.2f} {ips['torch']['wall'] / ips['ours']['wall']:11.2f}"
          f" {ips['torch']['cpu'] / ips['ours']['cpu']:10.2f}")
    print(f"load average at end {os.getloadavg()[0]:.1f}; ratios are time ours / PyTorch (below 1: ours faster)")


if __name__ == "__main__":
    main()
