#!/usr/bin/env bash
# Makes docs/cin.png: the bundled multi-style model in each of its styles and a
# mix. Row 0: its paintings; then per photo a row: the photo's outputs in each
# style; the last row: each photo in a 0.5/0.5 mix of the first two styles.
# usage: scripts/cin_sheet.sh [MODEL] [SIZE] [OUT]   (cin-eight, 256 px, docs/cin.png)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-cin-eight}; size=${2:-256}; out=${3:-docs/cin.png}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
a=target/release/atelier
photos=(chelsea astronaut coffee)
mapfile -t styles < <("$a" models ls --json | /usr/bin/python3 -c "
import json, sys
m = [e for e in json.load(sys.stdin) if e['name'] == sys.argv[1]][0]
print('\n'.join(m['style_names']))" "$model")
thumb() { /usr/bin/python3 scripts/thumb.py "$size" "$1" "$2" "$3"; }
cells=()
for s in "${styles[@]}"; do
  thumb "$s" styles "$tmp/p-$s.png"
  cells+=("$tmp/p-$s.png")
done
for ph in "${photos[@]}"; do
  for s in "${styles[@]}"; do
    "$a" apply "$model" "$ph" --style "$s" --size "$size" -o "$tmp/$ph-$s.png"
    cells+=("$tmp/$ph-$s.png")
  done
done
for ph in "${photos[@]}"; do
  thumb "$ph" contents "$tmp/$ph.png"
  "$a" apply "$model" "$ph" --style 0:0.5 --style 1:0.5 --size "$size" -o "$tmp/$ph-mix.png"
  cells+=("$tmp/$ph.png" "$tmp/$ph-mix.png")
done
target/release/examples/contact_sheet "$out" "${#styles[@]}" "${cells[@]}"
echo "wrote $out"
