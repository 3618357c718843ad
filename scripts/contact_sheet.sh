#!/usr/bin/env bash
# Makes docs/options.png: one tiny run per option of issue 3, in a grid.
# usage: scripts/contact_sheet.sh [SIZE] [STEPS]   (default 128 px, 40 steps)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-128}
steps=${2:-40}
tmp=$(mktemp -d)
a=(target/release/atelier stylize chelsea --size "$size" --steps "$steps" --device cpu --log-every 0 --force)
w=wheat-field-with-cypresses
"${a[@]}" "$w" -o "$tmp/1-plain.png"
"${a[@]}" --style "$w:0.5" --style irises:0.5 -o "$tmp/2-blend.png"
"${a[@]}" "$w" --style-scale 2 -o "$tmp/3-style-scale-2.png"
"${a[@]}" "$w" --preserve-colors luminance -o "$tmp/4-luminance.png"
"${a[@]}" "$w" --preserve-colors histogram -o "$tmp/5-histogram.png"
"${a[@]}" "$w" --scales 2 -o "$tmp/6-scales-2.png"
"${a[@]}" "$w" --style-loss mrf -o "$tmp/7-mrf.png"
target/release/atelier texture "$w" --size "$size" --steps "$steps" --device cpu --log-every 0 --force -o "$tmp/8-texture.png"
PATH="$PWD/.venv/bin:$PATH" LIBTORCH_USE_PYTORCH=1 cargo run --release --quiet --example contact_sheet -- docs/options.png 4 "$tmp"/*.png
echo "wrote docs/options.png"
