#!/usr/bin/env bash
# MSG-Net on the styles it was trained on and on paintings it never saw:
# `atelier score` (content and style loss at 256 px, the stylize measure) of
# chelsea styled by MODEL with each painting, one line per painting:
# kind, painting, content loss, style loss, style loss of the photo itself.
# Usage: bench/msg_unseen.sh MODEL "TRAINED…" "UNSEEN…"
set -euo pipefail
cd "$(dirname "$0")/.."
A=${ATELIER:-target/release/atelier}
model=$1; trained=$2; unseen=$3
out=$(mktemp -d)
row() {
  local kind=$1 s=$2
  "$A" apply "$model" contents/chelsea.png --size 256 --style "$s" -o "$out/$kind-$(basename "$s").png" >/dev/null
  local l
  l=$("$A" score "$out/$kind-$(basename "$s").png" chelsea "$s" --size 256 | sed -E 's/.*content ([^ ]+)  style ([^ ]+) .*/\1 \2/')
  local base
  base=$("$A" score contents/chelsea.png chelsea "$s" --size 256 | sed -E 's/.*style ([^ ]+) .*/\1/')
  echo "$kind $s $l $base"
}
for s in $trained; do row trained "$s"; done
for s in $unseen; do row unseen "$s"; done
rm -rf "$out"
