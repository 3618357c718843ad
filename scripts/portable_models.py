#!/usr/bin/env python3
"""Rewrites the metadata of model files so they record no folders of the machine
that made them, as atelier now writes it (src/engine/fast/provenance.rs): every
absolute path becomes its file name; a painting (an object with `path` and
`sha256`) gains its catalogue `id` and `title` from styles/catalog.json; a dataset
summary gains its `name` and, for the bundled training set (datasets/photos, the 67
photographs of datasets/photos.json), `manifest_sha256`: the sha256 of that
manifest. The tensors are copied byte for byte.

Run: python3 scripts/portable_models.py models/*.safetensors
"""
import hashlib
import json
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = {e["file"]: e for e in json.loads((ROOT / "styles/catalog.json").read_text())}
PHOTOS = ROOT / "datasets/photos.json"
PHOTOS_KEPT = sum(1 for e in json.loads(PHOTOS.read_text()) if e.get("status") == "kept")
PHOTOS_SHA = hashlib.sha256(PHOTOS.read_bytes()).hexdigest()


def portable(v):
    if isinstance(v, str):
        return Path(v).name if v.startswith("/") else v
    if isinstance(v, list):
        return [portable(x) for x in v]
    if isinstance(v, dict):
        out = {k: portable(x) for k, x in v.items()}
        if isinstance(v.get("path"), str) and "sha256" in v and "id" not in v:
            entry = CATALOGUE.get(Path(v["path"]).name)
            if entry:
                out["id"], out["title"] = entry["id"], entry["title"]
        if "images" in v and "skipped" in v and isinstance(v.get("path"), str):
            out.setdefault("name", Path(v["path"]).name)
            if out["name"] == "photos" and v["images"] == PHOTOS_KEPT:
                out.setdefault("manifest_sha256", PHOTOS_SHA)
        return out
    return v


def rewrite(path):
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.get("__metadata__", {})
    if "atelier" in meta:
        meta["atelier"] = json.dumps(
            portable(json.loads(meta["atelier"])), ensure_ascii=False, separators=(",", ":")
        )
    text = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the header is padded to 8 bytes, as safetensors writes it
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + n :])
    tmp.replace(path)
    print(f"{path}: header {n} -> {len(text)} bytes, tensors unchanged")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        rewrite(Path(p))
