"""Copies of images with the longer side at most N px, as JPEG (quality 90), written
atomically: the paintings of the carry (training crops them far smaller, and decoding a
full-size painting per step would slow a GPU training).

usage: /usr/bin/python3 scripts/gpu/shrink.py N OUTDIR IMAGE...   (Debian's python3-pil)
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from dataset import shrink  # noqa: E402 (scripts/dataset.py: RGB, Lanczos, never enlarged)
from PIL import Image  # noqa: E402

side, out = int(sys.argv[1]), sys.argv[2]
for path in sys.argv[3:]:
    dest = os.path.join(out, os.path.splitext(os.path.basename(path))[0] + ".jpg")
    with Image.open(path) as im:
        small = shrink(im, side)
    small.save(dest + ".tmp", format="JPEG", quality=90)
    os.replace(dest + ".tmp", dest)
