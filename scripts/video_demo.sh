#!/bin/bash
# Makes docs/video-pan.mp4: a camera pan over a bundled photo, side by side: the input,
# the bundled `irises` model frame by frame, and the same with the temporal blend.
# Usage: scripts/video_demo.sh [OUT.mp4] (needs ffmpeg and a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/video-pan.mp4}
atelier=${ATELIER:-target/release/atelier}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# 48 frames at 24 fps: a 2 px-a-frame pan across chelsea, 192×144.
ffmpeg -loglevel error -loop 1 -i contents/chelsea.png -vf \
  "scale=288:-2,crop=192:144:'min(2*n,96)':0" -frames:v 48 -r 24 -pix_fmt yuv420p \
  -c:v libx264 -crf 16 "$tmp/pan.mp4"
"$atelier" --data-dir "$tmp/data" video "$tmp/pan.mp4" --model irises --size 192 \
  --temporal-weight 0 -o "$tmp/independent.mp4"
"$atelier" --data-dir "$tmp/data" video "$tmp/pan.mp4" --model irises --size 192 \
  -o "$tmp/temporal.mp4"
ffmpeg -loglevel error -y -i "$tmp/pan.mp4" -i "$tmp/independent.mp4" -i "$tmp/temporal.mp4" \
  -filter_complex "[0:v][1:v][2:v]hstack=inputs=3" -c:v libx264 -crf 26 -pix_fmt yuv420p \
  -movflags +faststart "$out"
echo "wrote $out ($(du -k "$out" | cut -f1) KB)"
