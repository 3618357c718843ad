#!/usr/bin/env bash
# Makes docs/arbitrary.png: bundled photos × bundled paintings through the
# bundled adain and wct models. Row 0: the paintings; then per photo and
# method a row: the photo, then it in each painting's style.
# usage: scripts/arbitrary_sheet.sh [SIZE]   (default 192 px)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-192}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
paintings=(wheat-field-with-cypresses study-for-a-sunday-on-la-grande-jatte mada-primavesi irises)
photos=(chelsea astronaut coffee rocket)
# The bundled arbitrary models.
read -r -a methods <<<"${METHODS:-adain wct}"
a=target/release/atelier
# thumb NAME DIR OUT: a library image (by catalog name) at the sheet's size.
thumb() { /usr/bin/python3 scripts/thumb.py "$size" "$1" "$2" "$3"; }
/usr/bin/python3 -c "from PIL import Image; Image.new('RGB', (8, 8), 'white').save('$tmp/blank.png')"
cells=("$tmp/blank.png")
for p in "${paintings[@]}"; do
  thumb "$p" styles "$tmp/p-$p.png"
  cells+=("$tmp/p-$p.png")
done
for ph in "${photos[@]}"; do
  thumb "$ph" contents "$tmp/$ph.png"
  for m in "${methods[@]}"; do
    cells+=("$tmp/$ph.png")
    for p in "${paintings[@]}"; do
      "$a" apply "$m" "$ph" --style "$p" --size "$size" -o "$tmp/$ph-$m-$p.png"
      cells+=("$tmp/$ph-$m-$p.png")
    done
  done
done
target/release/examples/contact_sheet docs/arbitrary.png $((${#paintings[@]} + 1)) "${cells[@]}"
echo "wrote docs/arbitrary.png"
