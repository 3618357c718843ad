#!/usr/bin/env bash
# Issue 17's quality benchmark (not a test): the stylize loss (`atelier score`,
# content and style terms at the default weights) of the bundled adain and wct
# outputs next to a 200-step Gatys run (`atelier stylize`, the CPU defaults) of
# the same pair, and of the photo itself, on bundled photos and paintings that
# were not in either decoder's training (models/README.md lists what was).
# usage: bench/arbitrary_quality.sh [SIZE] [OUT.md]   (default 256 px, stdout)
# Also prints the apply seconds each method reports (model loaded per call).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-256}
out=${2:-/dev/stdout}
a=target/release/atelier
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
photos=(${PHOTOS:-chelsea astronaut})
paintings=(${PAINTINGS:-wheat-field-with-cypresses study-for-a-sunday-on-la-grande-jatte mada-primavesi irises})
# score IMG PHOTO PAINTING -> "content style"
score() {
  "$a" score "$1" "$2" "$3" --size "$size" --json |
    /usr/bin/python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["content"], j["style"])'
}
secs() { sed -n 's/.*, \([0-9.]*\) s)$/\1/p'; }
{
  echo "| photo | painting | method | content loss | style loss | seconds |"
  echo "|---|---|---|---|---|---|"
  for ph in "${photos[@]}"; do
    for p in "${paintings[@]}"; do
      read -r c s < <(score "contents/$(ls contents | grep -m1 "^$ph\.")" "$ph" "$p")
      echo "| $ph | $p | (the photo) | $c | $s | |"
      for m in adain wct; do
        t=$("$a" apply "$m" "$ph" --style "$p" --size "$size" -o "$tmp/$ph-$p-$m.png" | secs)
        read -r c s < <(score "$tmp/$ph-$p-$m.png" "$ph" "$p")
        echo "| $ph | $p | $m | $c | $s | $t |"
      done
      t0=$(date +%s.%N)
      "$a" stylize "$ph" "$p" --size "$size" --steps 200 --log-every 0 -o "$tmp/$ph-$p-gatys.png" >/dev/null
      t=$(echo "$(date +%s.%N) - $t0" | bc)
      read -r c s < <(score "$tmp/$ph-$p-gatys.png" "$ph" "$p")
      echo "| $ph | $p | gatys 200 | $c | $s | $(printf %.1f "$t") |"
    done
  done
} >"$out"
