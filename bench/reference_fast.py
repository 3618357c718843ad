"""The PyTorch side of bench/fast.py: pytorch/examples' TransformerNet
(scripts/golden_transformer.py's copy, with the width option) on the weights of an
atelier model file, applied or trained the way atelier does it. Prints one JSON
line: per-pass (apply) or per-iteration (train) wall and CPU seconds.

usage: reference_fast.py apply MODEL.safetensors IMAGE.png PASSES THREADS
       reference_fast.py train STYLE.png DATASET_DIR SIZE BATCH ITERATIONS WIDTH THREADS

apply: loads the model's tensors into the module by name (fp16 -> f32, strict), one
untimed warm-up pass, then PASSES timed forward passes (no_grad; the input reflected
up to a multiple of 4 as atelier does; at the benchmark's square sizes that is a
no-op).

train: the same losses as src/engine/fast/train.rs: VGG19 from
weights/vgg19.safetensors (scripts/vggref.py), content MSE at relu2_2, style Σ MSE
of batched Grams F·Fᵀ/(C·H·W) at relu1_2, relu2_2, relu3_4, relu4_4 against the
style image's, weights 1 / 0.5, no TV, torch.optim.Adam lr 1e-3; each batch read
from DATASET_DIR's images, a random square crop of 60-100 % of the shorter side
resized to SIZE, flipped half the time. The first iteration (warm-up) is left out.

CPU seconds are time.process_time(): this process's user + system time, all threads.
"""

import json
import os
import random
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from vggref import features, read_safetensors  # noqa: E402  (first: it quiets torch's numpy warning)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402

import golden_transformer as gt  # noqa: E402

STYLE_TAPS = ["relu1_2", "relu2_2", "relu3_4", "relu4_4"]
CONTENT_TAP = "relu2_2"
CONTENT_WEIGHT, STYLE_WEIGHT, LR = 1.0, 0.5, 1e-3
MIN_CROP = 0.6


def read_model(path):
    """Tensors (f32) and metadata of an atelier model file (safetensors, fp16 or f32)."""
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    dtypes = {"F16": torch.float16, "F32": torch.float32, "BF16": torch.bfloat16}
    out = {}
    for name, m in header.items():
        a, b = m["data_offsets"]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=dtypes[m["dtype"]]).reshape(m["shape"])
        out[name] = t.float()
    return out, meta


def net_of_width(width, norm="instance"):
    gt.WIDTH = width  # ch() reads the module's WIDTH
    return gt.TransformerNet(norm)


def load_image(path):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(h, w, 3)
    return t.permute(2, 0, 1).unsqueeze(0).float()


def forward_padded(net, x):
    _, _, h, w = x.shape
    ph, pw = (4 - h % 4) % 4, (4 - w % 4) % 4
    xp = F.pad(x, (0, pw, 0, ph), mode="reflect") if ph + pw else x
    return net(xp)[:, :, :h, :w]


def gram_batch(f):
    n, c, h, w = f.shape
    m = f.reshape(n, c, h * w)
    return torch.bmm(m, m.transpose(1, 2)) / (c * h * w)


def apply(model, image, passes, threads):
    torch.set_num_threads(threads)
    tensors, meta = read_model(model)
    net = net_of_width(float(meta.get("width", "1")), meta.get("norm", "instance"))
    net.load_state_dict(tensors, strict=True)
    net.eval()
    x = load_image(image)
    wall, cpu = [], []
    with torch.no_grad():
        forward_padded(net, x)
        for _ in range(passes):
            t0, c0 = time.perf_counter(), time.process_time()
            forward_padded(net, x)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return {"wall": wall, "cpu": cpu}


def crop(img, size, rng):
    w, h = img.size
    short = min(w, h)
    side = max(1, min(short, round(short * (MIN_CROP + (1 - MIN_CROP) * rng.random()))))
    x, y = rng.randrange(w - side + 1), rng.randrange(h - side + 1)
    r = img.crop((x, y, x + side, y + side)).resize((size, size), Image.BILINEAR)
    if rng.random() < 0.5:
        r = r.transpose(Image.FLIP_LEFT_RIGHT)
    t = torch.frombuffer(bytearray(r.tobytes()), dtype=torch.uint8).view(size, size, 3)
    return t.permute(2, 0, 1).float()


def train(style, dataset, size, batch, iterations, width, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    rng = random.Random(1)
    vgg = read_safetensors(os.path.join(ROOT, "weights/vgg19.safetensors"))
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(dataset) for f in fs if not f.startswith("."))
    with torch.no_grad():
        fs = features(vgg, load_image(style) / 255.0, STYLE_TAPS)
        targets = {t: gram_batch(fs[t]) for t in STYLE_TAPS}
    net = net_of_width(width)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=LR)
    marks = []
    for _ in range(iterations):
        x = torch.stack([crop(Image.open(rng.choice(files)).convert("RGB"), size, rng) for _ in range(batch)])
        y = net(x)
        fy = features(vgg, y / 255.0, STYLE_TAPS)
        with torch.no_grad():
            fx = features(vgg, x / 255.0, [CONTENT_TAP])
        content = F.mse_loss(fy[CONTENT_TAP], fx[CONTENT_TAP]) * CONTENT_WEIGHT
        style_l = sum(F.mse_loss(gram_batch(fy[t]), targets[t].expand(batch, -1, -1)) for t in STYLE_TAPS)
        total = content + style_l * STYLE_WEIGHT
        float(total.detach())  # atelier reads the losses every iteration, as here
        opt.zero_grad()
        total.backward()
        opt.step()
        marks.append((time.perf_counter(), time.process_time()))
    wall = [b[0] - a[0] for a, b in zip(marks, marks[1:])]
    cpu = [b[1] - a[1] for a, b in zip(marks, marks[1:])]
    return {"wall": wall, "cpu": cpu}


def main():
    a = sys.argv[1:]
    if a and a[0] == "apply" and len(a) == 5:
        r = apply(a[1], a[2], int(a[3]), int(a[4]))
    elif a and a[0] == "train" and len(a) == 8:
        r = train(a[1], a[2], int(a[3]), int(a[4]), int(a[5]), float(a[6]), int(a[7]))
    else:
        sys.exit(__doc__)
    print(json.dumps(r))


if __name__ == "__main__":
    main()
