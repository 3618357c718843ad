#!/usr/bin/env python3
"""thumb.py SIZE NAME FOLDER OUT: a library image (by its catalog name in
FOLDER/catalog.json) shrunk to fit SIZE x SIZE, for the contact-sheet scripts."""
import json
import sys

from PIL import Image

size, name, folder, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
entry = [e for e in json.load(open(f"{folder}/catalog.json")) if e["name"] == name][0]
im = Image.open(f"{folder}/{entry['file']}").convert("RGB")
im.thumbnail((size, size), Image.LANCZOS)
im.save(out)
