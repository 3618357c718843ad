#!/usr/bin/env python3
"""Prints the key table of docs/configuration.md from config/atelier.toml.

One row per key: the key, its default (as TOML), the range the code enforces
(RANGES below, checked against the code by tests/docs.rs) and the comment that
precedes the key or follows it on its line. Run it after changing the defaults
file and paste its output over the table (tests/docs.rs fails until then).
"""
import re
import sys
import tomllib
from pathlib import Path

# The ranges the code checks (src/config.rs check_ranges, src/engine/gatys/spec.rs).
SECONDS = "0 to 604800 seconds"
RANGES = {
    "stylize.log_every": "0 to 1000000 evaluations",
    "run.style_scale": "0.5 to 2",
    "run.scales": "auto or at least 1",
    "cpu.size": "16 to 16384", "gpu.size": "16 to 16384",
    "cpu.steps": "1 to 1000000", "gpu.steps": "1 to 1000000",
    **{f"presets.{p}.size": "16 to 16384" for p in ["preview", "final"]},
    **{f"presets.{p}.steps": "1 to 1000000" for p in ["preview", "final"]},
    "worker.stale_after": "30 to 604800 seconds",
    "worker.poll_interval": SECONDS,
    "worker.thumb_size": "16 to 4096 px",
    "worker.snapshot_every": "0 to 1000000 evaluations",
    "apply.max_size": "16 to 16384 px",
    "tui.browse_refine_size_cpu": "32 to 1024 px", "tui.browse_refine_size_gpu": "32 to 1024 px",
    "tui.browse_refine_steps_cpu": "1 to 10000 iterations", "tui.browse_refine_steps_gpu": "1 to 10000 iterations",
    **{f"watcher.{k}": SECONDS for k in ["quiet", "open_grace", "reconcile_every", "poll_interval", "debounce"]},
}


# Where the comments in the defaults file describe several keys at once.
MEANING = {
    "watch": "drop-folder rules, as `[[watch]]` tables: none built in ([drop-folders.md](drop-folders.md))",
    "paths.styles": "the bundled paintings: a folder with a catalog.json",
    "paths.contents": "the bundled photos: a folder with a catalog.json",
    "stylize.content": "the content `atelier stylize` uses when CONTENT is left out",
    "stylize.style": "the style `atelier stylize` uses when STYLE is left out",
    "stylize.device": "`auto` (the freest GPU, else the CPU), `cpu`, `cuda` or `cuda:N`",
    "run.style_scale": "the style images' longer side as a multiple of the output's: larger values give larger brush strokes",
    "run.preserve_colors": "keep the content's colours: `none`, `luminance` or `histogram`",
    "run.content_weight": "weight of the content loss",
    "run.style_weight": "weight of the style loss",
    "run.tv_weight": "weight of the total-variation loss",
    "run.content_layers": "content taps with their weights",
    "run.style_layers": "style taps with their weights",
    "run.mrf_weight": "weight of the MRF loss",
    "run.mrf_layers": "layers whose 3×3 patches the MRF loss matches",
    "run.lbfgs_history": "pairs of vectors L-BFGS keeps",
    "run.seed": "makes a CPU run reproducible",
    "run.padding": "the convolutions' edge padding: `zero` or `replicate` ([methods.md](methods.md#edges))",
    "run.divergence_factor": "a loss above this multiple of the best so far rolls back to the best iterate",
    "run.max_rollbacks": "after this many rollbacks the run ends with its best image",
    "run.flat_window": "evaluations the plateau stop looks back over (with `stop_when_flat`, off by default)",
    "cpu.size": "default output size (longer side, px) on a CPU",
    "cpu.steps": "default optimiser steps on a CPU",
    "gpu.size": "default output size (longer side, px) on a GPU",
    "gpu.steps": "default optimiser steps on a GPU",
    "worker.device": "the device of `atelier worker` (as `stylize.device`)",
    "worker.stale_after": "seconds without a heartbeat after which a worker on another host is taken for gone",
    "presets.preview.size": "the `preview` preset's size",
    "presets.preview.steps": "the `preview` preset's steps",
    "presets.final.size": "the `final` preset's size",
    "presets.final.steps": "the `final` preset's steps",
    "tui.browse_refine_size_cpu": "longer side (px) of the browse preview's refinement on a CPU",
    "tui.browse_refine_steps_cpu": "iterations of that refinement on a CPU (a few seconds on 2 cores)",
    "tui.browse_refine_size_gpu": "longer side (px) of the refinement on a GPU",
    "tui.browse_refine_steps_gpu": "iterations of the refinement on a GPU",
    "tui.theme.chart_content": "loss chart: content loss",
    "tui.theme.chart_total": "loss chart: total loss",
    "tui.theme.chart_best": "loss chart: the best point",
    "tui.theme.chart_rollback": "loss chart: rollbacks",
}


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v + '"'
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def comments(text):
    """Key -> the comment above it (since the last blank line or key) or after it."""
    out, section, above = {}, "", []
    for line in text.splitlines():
        s = line.strip()
        if not s:
            above = []
        elif s.startswith("#"):
            above.append(s.lstrip("#").strip())
        elif s.startswith("["):
            section = s.strip("[]")
            above = []
        elif m := re.match(r"([A-Za-z_]+)\s*=", s):
            key = f"{section}.{m.group(1)}" if section else m.group(1)
            inline = s.split(" # ", 1)[1].strip() if " # " in s else ""
            out[key] = " ".join(above + ([inline] if inline else []))
            above = []
    return out


def main():
    path = Path(__file__).resolve().parent.parent / "config/atelier.toml"
    text = path.read_text()
    data = tomllib.loads(text)
    notes = comments(text)
    print("| key | default | range | meaning |")
    print("|---|---|---|---|")

    def walk(prefix, table):
        for k, v in table.items():
            key = f"{prefix}.{k}" if prefix else k
            if isinstance(v, dict) and v:
                walk(key, v)
            elif not isinstance(v, dict):
                note = MEANING.get(key) or notes.get(key, "").replace("|", "\\|")
                print(f"| `{key}` | `{toml_value(v)}` | {RANGES.get(key, '')} | {note} |")

    walk("", data)


if __name__ == "__main__":
    sys.exit(main())
