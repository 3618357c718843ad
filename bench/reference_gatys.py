"""The same Gatys loop as `atelier stylize`, written plainly in PyTorch: the
baseline of the benchmark (bench/run.py).

Same weights, same losses and weights (neural-style's), content init, image
clamped to [0,1] at each evaluation, torch.optim.LBFGS with neural-style's
settings. Inputs are PNGs already at the run's size (the benchmark makes them), so
no resizing happens on either side.

usage: reference_gatys.py WEIGHTS CONTENT.png STYLE.png STEPS THREADS SUMMARY.json [DEVICE]
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))
from vggref import features, read_safetensors  # noqa: E402  (first: it quiets torch's numpy warning)

import torch  # noqa: E402
from PIL import Image  # noqa: E402

CONTENT_LAYERS = ["relu4_2"]
STYLE_LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
CONTENT_WEIGHT, STYLE_WEIGHT, TV_WEIGHT = 5.0, 100.0, 1e-3


def load(path, device):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(h, w, 3)
    return t.permute(2, 0, 1).unsqueeze(0).float().div(255.0).contiguous().to(device)


def gram(f):
    _, c, h, w = f.shape
    f = f.view(c, h * w)
    return f @ f.t() / (c * h * w)


def main():
    weights_path, content_path, style_path, steps, threads, summary = sys.argv[1:7]
    device = torch.device(sys.argv[7] if len(sys.argv) > 7 else "cpu")
    torch.set_num_threads(int(threads))
    weights = {k: v.to(device) for k, v in read_safetensors(weights_path).items()}
    content, style = load(content_path, device), load(style_path, device)
    taps = sorted(set(CONTENT_LAYERS + STYLE_LAYERS))
    with torch.no_grad():
        c_targets = {l: f.detach() for l, f in features(weights, content, CONTENT_LAYERS).items()}
        s_targets = {l: gram(f).detach() for l, f in features(weights, style, STYLE_LAYERS).items()}
    x = content.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=int(steps), tolerance_grad=-1, tolerance_change=-1, history_size=100)
    evals, last, trace = 0, {}, {"seconds": [], "total": []}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def closure():
        nonlocal evals, last
        with torch.no_grad():
            x.clamp_(0, 1)
        opt.zero_grad()
        f = features(weights, x, taps)
        content_loss = sum(torch.nn.functional.mse_loss(f[l], c_targets[l]) for l in CONTENT_LAYERS) * CONTENT_WEIGHT
        style_loss = sum(torch.nn.functional.mse_loss(gram(f[l]), s_targets[l]) for l in STYLE_LAYERS) * STYLE_WEIGHT
        dx = (x[..., 1:] - x[..., :-1]).abs().sum()
        dy = (x[..., 1:, :] - x[..., :-1, :]).abs().sum()
        tv = (dx + dy) * 255.0 * TV_WEIGHT
        total = content_loss + style_loss + tv
        total.backward()
        evals += 1
        # .item() syncs the device, so the timestamps below are real on CUDA too.
        last = {"style": style_loss.item(), "content": content_loss.item(), "tv": tv.item(), "total": total.item()}
        trace["seconds"].append(time.perf_counter() - start)
        trace["total"].append(last["total"])
        return total

    start = time.perf_counter()
    opt.step(closure)
    seconds = time.perf_counter() - start
    out = {"evals": evals, "loop_seconds": seconds, "losses": last, "threads": torch.get_num_threads(), "trace": trace}
    if device.type == "cuda":
        out["cuda_peak_bytes"] = torch.cuda.max_memory_allocated()
        out["device_name"] = torch.cuda.get_device_name()
    with open(summary, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
