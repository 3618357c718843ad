#!/usr/bin/env bash
# Makes docs/masks.png: a photo, its two style masks (left and right
# halves), the paintings, then the photo with each painting on its half by
# Gatys (stylize --style-mask) and by the bundled adain model (apply adain
# --style-mask), in one row.
# usage: scripts/masks_sheet.sh [SIZE] [STEPS]   (default 128 px, 60 steps)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-128}
steps=${2:-60}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
a=target/release/atelier
photo=chelsea
paintings=(wheat-field-with-cypresses madame-cezanne-in-a-red-dress)
thumb() { /usr/bin/python3 scripts/thumb.py "$size" "$1" "$2" "$3"; }
thumb "$photo" contents "$tmp/photo.png"
# Masks in the photo's shape: white on the left half, then on the right half.
/usr/bin/python3 - "$tmp" <<'PY'
import sys
from PIL import Image
d = sys.argv[1]
w, h = Image.open(f"{d}/photo.png").size
for name, left in (("left", True), ("right", False)):
    m = Image.new("L", (w, h), 0)
    m.paste(255, (0, 0, w // 2, h) if left else (w // 2, 0, w, h))
    m.save(f"{d}/{name}.png")
    # For the sheet: framed in grey, so the white half shows on the white page.
    v = m.convert("RGB")
    v.paste((128, 128, 128), (0, 0, w, 1)); v.paste((128, 128, 128), (0, h - 1, w, h))
    v.paste((128, 128, 128), (0, 0, 1, h)); v.paste((128, 128, 128), (w - 1, 0, w, h))
    v.save(f"{d}/{name}-view.png")
PY
for p in "${paintings[@]}"; do thumb "$p" styles "$tmp/p-$p.png"; done
masks=(--style-mask "$tmp/left.png" --style-mask "$tmp/right.png")
styles=(--style "${paintings[0]}" --style "${paintings[1]}")
"$a" stylize "$tmp/photo.png" "${styles[@]}" "${masks[@]}" --size "$size" --steps "$steps" \
  --log-every 0 -o "$tmp/gatys.png"
"$a" apply adain "$tmp/photo.png" "${styles[@]}" "${masks[@]}" -o "$tmp/adain.png"
target/release/examples/contact_sheet docs/masks.png 7 "$tmp/photo.png" "$tmp/left-view.png" \
  "$tmp/right-view.png" "$tmp/p-${paintings[0]}.png" "$tmp/p-${paintings[1]}.png" "$tmp/gatys.png" \
  "$tmp/adain.png"
echo "wrote docs/masks.png"
