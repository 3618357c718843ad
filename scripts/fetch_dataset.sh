#!/usr/bin/env bash
# The default training set: ~100 photographs from Debian wallpaper packages and
# scikit-image, curated in datasets/photos.json, resized into datasets/photos/.
# Idempotent: photos already built are skipped, and when all are there nothing is
# downloaded. Every source file is checked against the sha256 in the manifest.
# Needs root (apt-get) on Debian 12; see datasets/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

MANIFEST=datasets/photos.json
OUT=${DATASET_OUT:-datasets/photos}
DEBS=.cache/debs
PY=/usr/bin/python3 # Debian's, for python3-pil (the torch venv has no Pillow)
SKIMAGE_WHEEL=.cache/downloads/scikit_image-0.25.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
SKIMAGE_SHA=24cc986e1f4187a12aa319f777b36008764e856e5013666a4a83f8df083c2641

say() { echo "==> dataset: $*"; }

apt_updated=0
apt_update() { [ "$apt_updated" = 1 ] || { apt-get update -q >/dev/null; apt_updated=1; }; }

if ! "$PY" -c 'import PIL' 2>/dev/null; then
  say "installing python3-pil"
  apt_update
  apt-get install -y -q python3-pil >/dev/null
fi

read -r -a needed <<<"$("$PY" scripts/dataset.py needed --manifest "$MANIFEST" --out "$OUT")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root" "$DEBS"

for pkg in "${needed[@]}"; do
  if [ "$pkg" = scikit-image ]; then
    if ! echo "$SKIMAGE_SHA  $SKIMAGE_WHEEL" | sha256sum --check --status 2>/dev/null; then
      say "downloading scikit-image 0.25.2"
      mkdir -p "$(dirname "$SKIMAGE_WHEEL")"
      "$PY" -m pip download --disable-pip-version-check -q --no-deps --only-binary=:all: \
        --platform manylinux_2_17_x86_64 --python-version 3.11 -d "$(dirname "$SKIMAGE_WHEEL")" \
        scikit-image==0.25.2
      echo "$SKIMAGE_SHA  $SKIMAGE_WHEEL" | sha256sum --check --status ||
        { echo "dataset: checksum mismatch for $SKIMAGE_WHEEL" >&2; exit 1; }
    fi
    continue
  fi
  deb=$(ls "$DEBS/${pkg}"_*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$deb" ]; then
    say "apt-get download $pkg"
    apt_update
    (cd "$DEBS" && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
    deb=$(ls "$DEBS/${pkg}"_*.deb 2>/dev/null | head -n1 || true)
    [ -n "$deb" ] || { echo "dataset: apt-get download $pkg failed" >&2; exit 1; }
  fi
  say "unpacking $(basename "$deb")"
  dpkg-deb -x "$deb" "$work/root/$pkg"
  dpkg-deb -f "$deb" Version >"$work/root/$pkg.version" # recorded by `dataset.py scan`
  if [ "$pkg" = enlightenment-data ] && ! command -v edje_decc >/dev/null; then
    say "installing libedje-bin (edje_decc opens Enlightenment's .edj backgrounds)"
    apt_update
    apt-get install -y -q libedje-bin >/dev/null
  fi
done

"$PY" scripts/dataset.py build "$work/root" --skimage "$SKIMAGE_WHEEL" --manifest "$MANIFEST" --out "$OUT"
